// Argument checks of FUSE_SETUPMAPPING and FUSE_REMOVEMAPPING against the
// window, done before anything touches the host; a refusal is an
// ErrnoError (EINVAL).

import { Errno, ErrnoError } from '../../../core';
import {
  FUSE_REMOVEMAPPING_MAX_ENTRY, FUSE_SETUPMAPPING_FLAG_WRITE, RemovemappingOne, SetupmappingIn,
} from '../../../fs/fuse';
import { DaxRange } from './dax-mapper';
import { MAP_ALIGNMENT } from '../fuse';

const ALIGN = BigInt(MAP_ALIGNMENT);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** QEMU's vhost-user-fs unmap: len ~0 means the whole window. */
const WHOLE_WINDOW = 0xffffffffffffffffn;

function invalid(why: string): never {
  throw new ErrnoError(Errno.EINVAL, why);
}

export interface CheckedSetup {
  foffset: number;
  len: number;
  moffset: number;
  writable: boolean;
}

/** Alignment, length and window bounds (EINVAL), as QEMU checks them. */
export function checkSetup(m: SetupmappingIn, windowSize: number): CheckedSetup {
  const win = BigInt(windowSize);
  if (m.len === 0n) invalid('SETUPMAPPING of 0 bytes');
  if (m.foffset % ALIGN !== 0n || m.len % ALIGN !== 0n || m.moffset % ALIGN !== 0n) invalid('SETUPMAPPING not page-aligned');
  if (m.moffset >= win || m.len > win - m.moffset) invalid('SETUPMAPPING outside the window');
  if (m.foffset > MAX_SAFE - m.len) invalid('SETUPMAPPING past the largest file offset');
  return {
    foffset: Number(m.foffset), len: Number(m.len), moffset: Number(m.moffset),
    writable: (m.flags & FUSE_SETUPMAPPING_FLAG_WRITE) !== 0n,
  };
}

/** At least one range, at most the kernel's per-request maximum, each
 *  aligned, non-empty and inside the window (EINVAL otherwise). */
export function checkRemove(list: RemovemappingOne[], windowSize: number): DaxRange[] {
  if (list.length === 0 || list.length > FUSE_REMOVEMAPPING_MAX_ENTRY) invalid(`REMOVEMAPPING of ${list.length} ranges`);
  const win = BigInt(windowSize);
  const out: DaxRange[] = new Array(list.length);
  for (let k = 0; k < list.length; k++) {
    const one = list[k]!;
    const len = one.len === WHOLE_WINDOW && one.moffset === 0n ? win : one.len;
    if (len === 0n || one.moffset % ALIGN !== 0n || len % ALIGN !== 0n) invalid('REMOVEMAPPING range empty or not page-aligned');
    if (one.moffset >= win || len > win - one.moffset) invalid('REMOVEMAPPING range outside the window');
    out[k] = { moffset: Number(one.moffset), len: Number(len) };
  }
  return out;
}
