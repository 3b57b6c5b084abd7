// vnops of virtiofs (OSv's virtiofs_vnops.cc), by family over one narrow
// context: lookup and attributes, directories, open and read. Read-only, as
// OSv's; the write, namespace and setattr families join the same object.

import type { Vnops } from '../../core/vfs';
import type { VnopsContext } from './vnops/context';
import { dirOps } from './vnops/dir';
import { lookupOps } from './vnops/lookup';
import { readOps } from './vnops/read';

export type { NegotiatedLimits, VirtiofsHandle, VnopsContext } from './vnops/context';
export { READDIR_BUFFER } from './vnops/dir';

export function virtiofsVnops(ctx: VnopsContext): Vnops {
  return { ...lookupOps(ctx), ...dirOps(ctx), ...readOps(ctx) };
}
