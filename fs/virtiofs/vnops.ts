// vnops of virtiofs (OSv's virtiofs_vnops.cc, read-only, taken to a
// read-write filesystem as Linux's fs/fuse), by family over one narrow
// context: lookup and attributes, directories, open and read, write,
// namespace, setattr, xattrs, locks.

import type { Vnops } from '../../core/vfs';
import type { VnopsContext } from './vnops/context';
import { dirOps } from './vnops/dir';
import { lockOps } from './vnops/lock';
import { lookupOps } from './vnops/lookup';
import { namespaceOps } from './vnops/namespace';
import { readOps } from './vnops/read';
import { setattrOps } from './vnops/setattr';
import { writeOps } from './vnops/write';
import { xattrOps } from './vnops/xattr';

export type { NegotiatedLimits, VirtiofsHandle, VnopsContext } from './vnops/context';
export { READDIR_BUFFER } from './vnops/dir';

export function virtiofsVnops(ctx: VnopsContext): Vnops {
  return {
    ...lookupOps(ctx), ...dirOps(ctx), ...readOps(ctx), ...writeOps(ctx), ...namespaceOps(ctx), ...setattrOps(ctx),
    ...xattrOps(ctx), ...lockOps(ctx),
  };
}
