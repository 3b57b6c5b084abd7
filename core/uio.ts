// Scatter/gather I/O over guest memory, after BSD's (and OSv's) struct uio:
// a list of guest-physical iovecs, the file offset, the bytes still to move
// (resid) and the direction. uiomove() copies between a kernel-side buffer
// and the iovecs and advances the uio, so a filesystem's read or write can
// fill or drain a request piece by piece.

import { GuestMemory, GuestMemoryError } from './memory';

export interface Iovec {
  /** Guest-physical address. */
  base: number;
  len: number;
}

/** 'read': buffer -> iovecs (the caller reads); 'write': iovecs -> buffer. */
export type UioRw = 'read' | 'write';

/** Sum of the lengths; a GuestMemoryError when one is not a valid range. */
export function iovTotal(iov: readonly Iovec[]): number {
  let total = 0;
  for (const v of iov) {
    if (!Number.isSafeInteger(v.base) || v.base < 0 || !Number.isSafeInteger(v.len) || v.len < 0
        || !Number.isSafeInteger(v.base + v.len)) {
      throw new GuestMemoryError(v.base, v.len, 'bad iovec');
    }
    total += v.len;
    if (!Number.isSafeInteger(total)) throw new GuestMemoryError(v.base, v.len, 'iovec total too large');
  }
  return total;
}

/** The first `n` bytes of `iov` as new iovecs (fewer if the list is shorter). */
export function iovClamp(iov: readonly Iovec[], n: number): Iovec[] {
  const out: Iovec[] = [];
  let left = Math.max(0, Math.floor(n));
  for (const v of iov) {
    if (left === 0) break;
    const len = Math.min(v.len, left);
    if (len > 0) out.push({ base: v.base, len });
    left -= len;
  }
  return out;
}

export class Uio {
  /** Remaining iovecs; iov[idx] is partly consumed. Private copies. */
  private readonly iov: Iovec[];
  private idx = 0;
  resid: number;

  /**
   * `iov` is copied (after validation) so advancing never changes the
   * caller's list; with `resid` the uio moves at most that many bytes.
   */
  constructor(readonly mem: GuestMemory, iov: readonly Iovec[], readonly rw: UioRw,
              public offset = 0, resid?: number) {
    const total = iovTotal(iov);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`uio: bad offset ${offset}`);
    if (resid !== undefined && (!Number.isSafeInteger(resid) || resid < 0)) {
      throw new RangeError(`uio: bad resid ${resid}`);
    }
    const n = resid === undefined ? total : Math.min(resid, total);
    this.iov = iovClamp(iov, n);
    this.resid = n;
  }

  /** The iovecs not yet consumed (copies). */
  remaining(): Iovec[] {
    return this.iov.slice(this.idx).map((v) => ({ base: v.base, len: v.len }));
  }

  /** Consume `n` bytes without copying (someone else moved them). */
  advance(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.resid) {
      throw new RangeError(`uio: cannot advance ${n} of ${this.resid}`);
    }
    let left = n;
    while (left > 0) {
      const v = this.iov[this.idx]!;
      const step = Math.min(v.len, left);
      v.base += step;
      v.len -= step;
      left -= step;
      if (v.len === 0) this.idx++;
    }
    this.resid -= n;
    this.offset += n;
  }

  /** uiomove(): see below. */
  move(cp: Uint8Array): number {
    const n = Math.min(cp.length, this.resid);
    let done = 0;
    while (done < n) {
      const v = this.iov[this.idx]!;
      const step = Math.min(v.len, n - done);
      const part = cp.subarray(done, done + step);
      if (this.rw === 'read') this.mem.write(v.base, part);
      else this.mem.readInto(v.base, part);
      v.base += step;
      v.len -= step;
      if (v.len === 0) this.idx++;
      this.resid -= step;
      this.offset += step;
      done += step;
    }
    return done;
  }

  /** Shorten the uio to at most `n` more bytes. */
  clamp(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`uio: bad clamp ${n}`);
    if (n >= this.resid) return;
    const rest = iovClamp(this.iov.slice(this.idx), n);
    this.iov.length = 0;
    this.iov.push(...rest);
    this.idx = 0;
    this.resid = n;
  }
}

/**
 * Move min(cp.length, uio.resid) bytes between `cp` and the uio's iovecs:
 * to guest memory for 'read', from it for 'write'. Advances the uio and
 * returns the count. A bad guest address throws GuestMemoryError; the
 * iovecs before it have then moved and the uio has advanced past them.
 */
export function uiomove(cp: Uint8Array, uio: Uio): number {
  return uio.move(cp);
}
