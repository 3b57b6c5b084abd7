// Argument checks of FUSE_SETUPMAPPING and FUSE_REMOVEMAPPING against the
// window, done before anything touches the host.

import { Errno } from '../../../core/errno';
import {
  FUSE_REMOVEMAPPING_MAX_ENTRY, FUSE_SETUPMAPPING_FLAG_WRITE, RemovemappingOne, SetupmappingIn,
} from '../../../fs/fuse';
import { DaxRange } from './dax-mapper';
import { MAP_ALIGNMENT } from './init';

const ALIGN = BigInt(MAP_ALIGNMENT);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** QEMU's vhost-user-fs unmap: len ~0 means the whole window. */
const WHOLE_WINDOW = 0xffffffffffffffffn;

export interface CheckedSetup {
  foffset: number;
  len: number;
  moffset: number;
  writable: boolean;
}

/** Alignment, length and window bounds (EINVAL), as QEMU checks them. */
export function checkSetup(m: SetupmappingIn, windowSize: number): CheckedSetup | number {
  const win = BigInt(windowSize);
  if (m.len === 0n) return Errno.EINVAL;
  if (m.foffset % ALIGN !== 0n || m.len % ALIGN !== 0n || m.moffset % ALIGN !== 0n) return Errno.EINVAL;
  if (m.moffset >= win || m.len > win - m.moffset) return Errno.EINVAL;
  if (m.foffset > MAX_SAFE - m.len) return Errno.EINVAL;
  return {
    foffset: Number(m.foffset), len: Number(m.len), moffset: Number(m.moffset),
    writable: (m.flags & FUSE_SETUPMAPPING_FLAG_WRITE) !== 0n,
  };
}

/** At least one range, at most the kernel's per-request maximum, each
 *  aligned, non-empty and inside the window (EINVAL otherwise). */
export function checkRemove(list: RemovemappingOne[], windowSize: number): DaxRange[] | number {
  if (list.length === 0 || list.length > FUSE_REMOVEMAPPING_MAX_ENTRY) return Errno.EINVAL;
  const win = BigInt(windowSize);
  const out: DaxRange[] = new Array(list.length);
  for (let k = 0; k < list.length; k++) {
    const one = list[k]!;
    const len = one.len === WHOLE_WINDOW && one.moffset === 0n ? win : one.len;
    if (len === 0n || one.moffset % ALIGN !== 0n || len % ALIGN !== 0n) return Errno.EINVAL;
    if (one.moffset >= win || len > win - one.moffset) return Errno.EINVAL;
    out[k] = { moffset: Number(one.moffset), len: Number(len) };
  }
  return out;
}
