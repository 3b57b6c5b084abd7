// READ's ReadSink over a reply target, and WRITE's WriteSource over a
// request source: the data goes between the filesystem and the chain's own
// buffers, never through a whole-reply array of the server's.

import { FUSE_OUT_HEADER_SIZE, LeWriter, writeOutHeader } from '../../../fs/fuse';
import type { BouncePool } from './bounce-pool';
import type { RequestSource, ReplyTarget } from './chain';
import type { ReadSink, WriteSource } from './filesystem';

const HDR = FUSE_OUT_HEADER_SIZE;
/** Where finish() builds a header: write() copies it out at once, so one
 *  scratch serves every reply (READ is the hot path; no allocation). */
const header = LeWriter.alloc(HDR);

function checkCount(got: number, max: number): number {
  if (!Number.isInteger(got) || got < 0 || got > max) throw new RangeError(`a fill placed ${got} bytes of at most ${max}`);
  return got;
}

/**
 * Data at [HDR, HDR + limit) of the reply. In place while the target
 * offers views; otherwise, and from then on, in one bounce buffer laid out
 * as the reply (header room first), so a /dev/shm reply still reaches guest
 * memory in one write with its header. The bounce buffer comes from the
 * server's pool and goes back at dispose(), or once the last fill in flight
 * settles, never while something may still write into it.
 */
export class ReplySink implements ReadSink {
  length = 0;
  private bounce: Uint8Array | undefined;
  /** Data offset where the bounce buffer's part starts. */
  private bouncedFrom = 0;
  private fillsInFlight = 0;
  private disposed = false;

  constructor(private readonly target: ReplyTarget, private readonly limit: number, private readonly pool?: BouncePool) {}

  get room(): number { return this.limit - this.length; }

  write(data: Uint8Array): void {
    if (data.length > this.room) throw new RangeError(`READ data of ${data.length} bytes exceeds the ${this.room} left`);
    if (data.length === 0) return;
    const views = this.bounce === undefined ? this.target.views(HDR + this.length, data.length, false) : undefined;
    if (views !== undefined) {
      let at = 0;
      for (const v of views) { v.set(data.subarray(at, at + v.length)); at += v.length; }
    } else {
      this.bounceBuffer().set(data, HDR + this.length);
    }
    this.length += data.length;
  }

  fill(max: number, fill: (bufs: Uint8Array[]) => number): number {
    const n = Math.max(0, Math.min(max, this.room));
    if (n === 0) return 0;
    const views = this.bounce === undefined ? this.target.views(HDR + this.length, n, false) : undefined;
    const bufs = views ?? [this.bounceBuffer().subarray(HDR + this.length, HDR + this.length + n)];
    const got = checkCount(fill(bufs), n);
    this.length += got;
    return got;
  }

  async fillLater(max: number, fill: (bufs: Uint8Array[]) => Promise<number>): Promise<number> {
    const n = Math.max(0, Math.min(max, this.room));
    if (n === 0) return 0;
    const views = this.bounce === undefined ? this.target.views(HDR + this.length, n, true) : undefined;
    const at = this.length;
    const bufs = views ?? [this.bounceBuffer().subarray(HDR + at, HDR + at + n)];
    this.fillsInFlight++;
    let got: number;
    try {
      got = checkCount(await fill(bufs), n);
    } finally {
      this.fillsInFlight--;
      if (this.disposed) this.giveBack();
    }
    if (this.length !== at) throw new RangeError('READ data placed while a fill was in flight');
    this.length += got;
    return got;
  }

  /** Writes the header (and whatever waits in the bounce buffer); returns
   *  the reply's length, or null when not even a header fits. */
  finish(unique: bigint): number | null {
    const len = HDR + this.length;
    if (this.target.capacity < HDR) return null;
    const b = this.bounce;
    if (b !== undefined && this.bouncedFrom === 0) {
      writeOutHeader(new LeWriter(b), 0, { len, error: 0, unique });
      this.target.write(0, b.subarray(0, len));
      return len;
    }
    if (b !== undefined) this.target.write(HDR + this.bouncedFrom, b.subarray(HDR + this.bouncedFrom, len));
    writeOutHeader(header, 0, { len, error: 0, unique });
    this.target.write(0, header.bytes);
    return len;
  }

  /** The reply is written or abandoned: the bounce buffer may be reused. */
  dispose(): void {
    this.disposed = true;
    this.giveBack();
  }

  private giveBack(): void {
    if (this.fillsInFlight > 0 || this.bounce === undefined) return;
    this.pool?.give(this.bounce);
    this.bounce = undefined;
  }

  private bounceBuffer(): Uint8Array {
    if (this.disposed) throw new RangeError('READ data placed after the reply was disposed');
    if (this.bounce === undefined) {
      this.bounce = this.pool ? this.pool.take(HDR + this.limit) : new Uint8Array(HDR + this.limit);
      this.bouncedFrom = this.length;
    }
    return this.bounce;
  }
}

/** [offset, offset + length) of the request, read only when asked. */
export function writeSource(src: RequestSource, offset: number, length: number): WriteSource {
  return {
    length,
    slices: () => src.slices(offset, length),
    bytes: () => src.bytes(offset, length),
  };
}
