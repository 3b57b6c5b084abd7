// The passthrough as a FuseFilesystem: virtiofsd's passthrough_ll, with DAX
// mappings, over one PassthroughState. Each method hands its typed body to
// the op of its family: entry.ts (LOOKUP, FORGET, GETATTR, READLINK,
// STATFS), dir.ts (OPENDIR, READDIR(PLUS), RELEASEDIR), file.ts (OPEN, READ,
// RELEASE, FLUSH, FSYNC), namespace.ts (CREATE, MKNOD, MKDIR, SYMLINK, LINK,
// UNLINK, RMDIR, RENAME(2)), attr.ts (SETATTR), write.ts (WRITE, FALLOCATE,
// LSEEK, COPY_FILE_RANGE, FSYNCDIR), xattr.ts, dax.ts (SETUPMAPPING,
// REMOVEMAPPING). Locks are not offered (no FUSE_POSIX_LOCKS): clients keep
// them, as with virtiofsd's default no_posix_lock. Read-only is not here: it
// is the readonlyFilesystem decorator around this.

import type {
  AttrOut, CopyFileRangeIn, CreateIn, CreateOut, EntryOut, FallocateIn, FlushIn, ForgetOne, FsyncIn, GetattrIn,
  GetxattrArgs, GetxattrIn, Kstatfs, LinkIn, LseekIn, LseekOut, MkdirIn, MknodIn, NameIn, OpenIn, OpenOut,
  ReaddirOut, ReaddirplusOut, ReadIn, ReadlinkOut, ReleaseIn, RemovemappingIn, Rename2In, RenameIn, SetattrIn,
  SetupmappingIn, SetxattrIn, SymlinkIn, WriteOut, XattrNameIn, XattrOut,
} from '../../../fs/fuse';
import type { FsInit, FuseContext, FuseFilesystem, ReadSink, WriteArgs, WriteSource } from '../fuse';
import * as attr from './attr';
import * as dax from './dax';
import * as dir from './dir';
import * as entry from './entry';
import * as file from './file';
import * as ns from './namespace';
import * as wr from './write';
import * as xattr from './xattr';
import { PassthroughFsOptions, PassthroughState } from './state';

export class PassthroughFs implements FuseFilesystem {
  readonly state: PassthroughState;

  /** Opens the root now: a missing or non-directory root throws here. */
  constructor(opts: PassthroughFsOptions) {
    this.state = new PassthroughState(opts);
  }

  init(): FsInit { return { inodeDax: this.state.policy.policy !== 'none', readdirplus: this.state.timeout > 0n }; }

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

  create(ctx: FuseContext, body: CreateIn): Promise<CreateOut> { return ns.create(this.state, ctx, body); }
  mknod(ctx: FuseContext, body: MknodIn): Promise<EntryOut> { return ns.mknod(this.state, ctx, body); }
  mkdir(ctx: FuseContext, body: MkdirIn): Promise<EntryOut> { return ns.mkdir(this.state, ctx, body); }
  symlink(ctx: FuseContext, body: SymlinkIn): Promise<EntryOut> { return ns.symlink(this.state, ctx, body); }
  link(ctx: FuseContext, body: LinkIn): Promise<EntryOut> { return ns.link(this.state, ctx, body); }
  unlink(ctx: FuseContext, body: NameIn): Promise<null> { return ns.unlink(this.state, ctx, body); }
  rmdir(ctx: FuseContext, body: NameIn): Promise<null> { return ns.rmdir(this.state, ctx, body); }
  rename(ctx: FuseContext, body: RenameIn): Promise<null> { return ns.rename(this.state, ctx, body); }
  rename2(ctx: FuseContext, body: Rename2In): Promise<null> { return ns.rename2(this.state, ctx, body); }

  setattr(ctx: FuseContext, body: SetattrIn): Promise<AttrOut> { return attr.setattr(this.state, ctx, body); }

  write(_ctx: FuseContext, body: WriteArgs, data: WriteSource): Promise<WriteOut> { return wr.write(this.state, body, data); }
  fallocate(_ctx: FuseContext, body: FallocateIn): Promise<null> { return wr.fallocate(this.state, body); }
  lseek(_ctx: FuseContext, body: LseekIn): LseekOut { return wr.lseek(this.state, body); }
  copyFileRange(_ctx: FuseContext, body: CopyFileRangeIn): WriteOut { return wr.copyFileRange(this.state, body); }
  fsyncdir(_ctx: FuseContext, body: FsyncIn): Promise<null> { return wr.fsyncdir(this.state, body); }

  getxattr(ctx: FuseContext, body: GetxattrIn): Promise<XattrOut> { return xattr.getxattr(this.state, ctx, body); }
  listxattr(ctx: FuseContext, body: GetxattrArgs): Promise<XattrOut> { return xattr.listxattr(this.state, ctx, body); }
  setxattr(ctx: FuseContext, body: SetxattrIn): Promise<null> { return xattr.setxattr(this.state, ctx, body); }
  removexattr(ctx: FuseContext, body: XattrNameIn): Promise<null> { return xattr.removexattr(this.state, ctx, body); }

  setupmapping(_ctx: FuseContext, body: SetupmappingIn): Promise<null> { return dax.setupmapping(this.state, body); }
  removemapping(_ctx: FuseContext, body: RemovemappingIn): Promise<null> { return dax.removemapping(this.state, body); }
}
