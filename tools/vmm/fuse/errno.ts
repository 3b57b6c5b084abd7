// What a thrown value is as a FUSE reply's errno: the one conversion, used
// by the server alone (a Node system error's code counts: the passthrough
// lets host errors through unchanged).

import { Errno, ErrnoError } from '../../../core';

const table = Errno as Record<string, number>;

/** The errno of a thrown value: an ErrnoError's, a Node system error's
 *  code, else EIO (never 0, never out of 1..4095). */
export function errnoOf(e: unknown): number {
  if (e instanceof ErrnoError) return e.errno;
  if (e !== null && typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && table[code] !== undefined) return table[code]!;
    const errno = (e as { errno?: unknown }).errno;
    // Node's errno is negative (libuv): -2 for ENOENT.
    if (typeof errno === 'number' && Number.isInteger(errno) && errno !== 0 && Math.abs(errno) <= 4095) return Math.abs(errno);
  }
  return Errno.EIO;
}
