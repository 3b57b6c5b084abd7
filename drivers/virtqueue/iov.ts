// Copying between a chain's guest buffers and one contiguous byte array.

import { GuestMemory } from '../../core/memory';
import { Iovec } from './layout';

/**
 * The first `max` bytes of `iovs` as one array. When they lie in a single
 * iovec of a region with a live view, the result IS guest memory (no copy):
 * the driver may still change it, so decode each field once.
 */
export function gather(mem: GuestMemory, iovs: readonly Iovec[], max = Infinity): Uint8Array {
  let total = 0;
  for (const v of iovs) total += v.len;
  total = Math.min(total, Math.max(0, max));
  if (total === 0) return new Uint8Array(0);
  if (iovs[0].len >= total) {
    const view = mem.view(iovs[0].base, total);
    if (view) return view;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const v of iovs) {
    if (at === total) break;
    const n = Math.min(v.len, total - at);
    if (n === 0) continue;
    const view = mem.view(v.base, n);
    if (view) out.set(view, at);
    else mem.readInto(v.base, out.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Write `data` across `iovs` in order; returns the bytes written (a short reply or short buffers). */
export function scatter(mem: GuestMemory, iovs: readonly Iovec[], data: Uint8Array): number {
  let at = 0;
  for (const v of iovs) {
    if (at === data.length) break;
    const n = Math.min(v.len, data.length - at);
    if (n === 0) continue;
    mem.write(v.base, data.subarray(at, at + n));
    at += n;
  }
  return at;
}
