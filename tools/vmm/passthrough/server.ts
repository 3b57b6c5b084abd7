// The passthrough backend as the device model builds it: a FuseServer over
// a PassthroughFs, behind the read-only decorator when the share is
// read-only. Host calls block the event loop while the host answers fast
// and go to the thread pool once it did not (slow-guard.ts), so requests
// still run concurrently on a slow host; every host access goes through
// Confine (see confine.ts and docs/PASSTHROUGH.md).

import { FuseServer, readonlyFilesystem, type SessionLimits } from '../fuse';
import { consoleLogger } from './logger';
import { PassthroughFs } from './passthrough-fs';
import type { PassthroughFsOptions } from './state';

export interface PassthroughOptions extends PassthroughFsOptions {
  /** Refuse every write (EROFS), as virtiofsd's --readonly. */
  readonly?: boolean;
  /** max_pages offered with FUSE_MAX_PAGES. */
  maxPages?: number;
  /** Per-session caps (open handles, inodes held); none when absent. */
  limits?: SessionLimits;
}

export class PassthroughServer extends FuseServer {
  readonly passthrough: PassthroughFs;

  constructor(opts: PassthroughOptions) {
    const pt = new PassthroughFs(opts);
    super(opts.readonly ? readonlyFilesystem(pt) : pt, { logger: opts.logger ?? consoleLogger, maxPages: opts.maxPages, limits: opts.limits });
    this.passthrough = pt;
  }

  /** Lookup count of a nodeid (undefined once dropped); for tests and stats. */
  nlookup(nodeid: bigint): bigint | undefined {
    return this.passthrough.state.inodes.get(nodeid)?.nlookup;
  }

  get inodeCount(): number { return this.passthrough.state.inodes.size; }
  get handleCount(): number { return this.passthrough.state.handles.size; }
  /** Directory fds held by the cache (not counting those only open handles hold). */
  get cachedDirCount(): number { return this.passthrough.state.dirs.size; }
  /** Filesystems whose metadata calls left the event loop. */
  slowFilesystem(dev: bigint): boolean { return !this.passthrough.state.host.guard.fast(dev); }
}
