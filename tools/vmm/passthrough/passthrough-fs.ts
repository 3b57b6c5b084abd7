// The passthrough as a FuseFilesystem: virtiofsd's passthrough_ll for what a
// read-only mount needs, plus DAX mappings, over one PassthroughState. Each
// method hands its typed body to the op of its family: entry.ts (LOOKUP,
// FORGET, GETATTR, READLINK, STATFS), dir.ts (OPENDIR, READDIR(PLUS),
// RELEASEDIR), file.ts (OPEN, READ, RELEASE, FLUSH, FSYNC), dax.ts
// (SETUPMAPPING, REMOVEMAPPING). Namespace ops, SETATTR and writes will
// get files of their own (namespace.ts, attr.ts, write.ts); until then
// they are absent, and the server answers ENOSYS. Read-only is not here:
// it is the readonlyFilesystem decorator around this.

import type {
  AttrOut, EntryOut, FlushIn, ForgetOne, FsyncIn, GetattrIn, Kstatfs, NameIn, OpenIn, OpenOut, ReaddirOut,
  ReaddirplusOut, ReadIn, ReadlinkOut, ReleaseIn, RemovemappingIn, SetupmappingIn,
} from '../../../fs/fuse';
import type { FsInit, FuseContext, FuseFilesystem, ReadSink } from '../fuse';
import * as dax from './dax';
import * as dir from './dir';
import * as entry from './entry';
import * as file from './file';
import { PassthroughFsOptions, PassthroughState } from './state';

export class PassthroughFs implements FuseFilesystem {
  readonly state: PassthroughState;

  /** Opens the root now: a missing or non-directory root throws here. */
  constructor(opts: PassthroughFsOptions) {
    this.state = new PassthroughState(opts);
  }

  init(): FsInit { return { inodeDax: this.state.policy.policy !== 'none' }; }

  async destroy(): Promise<void> {
    const s = this.state;
    await s.dropHandles();
    s.dirs.clear();
    s.inodes.clear();
  }

  /** Closes every handle and the root; unusable after. */
  async close(): Promise<void> {
    await this.state.dropHandles();
    this.state.dirs.clear();
    this.state.confine.close();
  }

  lookup(ctx: FuseContext, body: NameIn): Promise<EntryOut> { return entry.lookup(this.state, ctx, body); }
  forget(_ctx: FuseContext, forgets: readonly ForgetOne[]): void { entry.forget(this.state, forgets); }
  getattr(ctx: FuseContext, body: GetattrIn): Promise<AttrOut> { return entry.getattr(this.state, ctx, body); }
  readlink(ctx: FuseContext): Promise<ReadlinkOut> { return entry.readlink(this.state, ctx); }
  statfs(): Promise<Kstatfs> { return entry.statfs(this.state); }

  opendir(ctx: FuseContext, body: OpenIn): Promise<OpenOut> { return dir.opendir(this.state, ctx, body); }
  readdir(_ctx: FuseContext, body: ReadIn): Promise<ReaddirOut> { return dir.readdir(this.state, body, false); }
  readdirplus(_ctx: FuseContext, body: ReadIn): Promise<ReaddirplusOut> { return dir.readdir(this.state, body, true); }
  releasedir(_ctx: FuseContext, body: ReleaseIn): Promise<null> { return dir.releasedir(this.state, body); }

  open(ctx: FuseContext, body: OpenIn): Promise<OpenOut> { return file.open(this.state, ctx, body); }
  read(_ctx: FuseContext, body: ReadIn, out: ReadSink): Promise<void> { return file.read(this.state, body, out); }
  release(_ctx: FuseContext, body: ReleaseIn): Promise<null> { return file.release(this.state, body); }
  flush(_ctx: FuseContext, body: FlushIn): null { return file.flush(this.state, body); }
  fsync(_ctx: FuseContext, body: FsyncIn): Promise<null> { return file.fsync(this.state, body); }

  setupmapping(_ctx: FuseContext, body: SetupmappingIn): Promise<null> { return dax.setupmapping(this.state, body); }
  removemapping(_ctx: FuseContext, body: RemovemappingIn): Promise<null> { return dax.removemapping(this.state, body); }
}
