// Reply buffers for READs that cannot be filled in place (guest RAM reached
// by positioned I/O, or a read finishing later on the thread pool): kept and
// reused, so the hot path allocates nothing per request. Buffers come in
// power-of-two sizes; the pool keeps a few of each, up to a byte bound, so a
// burst of large READs cannot pin memory for good.

/** Buffers kept per size. */
export const BOUNCE_PER_SIZE = 4;
/** Bytes kept in all, per pool (one per FUSE server, so per session). */
export const BOUNCE_MAX_BYTES = 8 << 20;
/** Smaller requests still get a buffer of this size (a header and a page). */
const MIN_SIZE = 8192;

export class BouncePool {
  private readonly free = new Map<number, Uint8Array[]>();
  private kept = 0;

  constructor(private readonly maxBytes = BOUNCE_MAX_BYTES, private readonly perSize = BOUNCE_PER_SIZE) {}

  /** A buffer of at least n bytes, its contents whatever they were. */
  take(n: number): Uint8Array {
    const size = sizeFor(n);
    const b = this.free.get(size)?.pop();
    if (b === undefined) return new Uint8Array(size);
    this.kept -= size;
    return b;
  }

  /** Give back a buffer take() returned; nothing may use it afterwards. */
  give(b: Uint8Array): void {
    const size = b.length;
    if (size !== sizeFor(size) || b.byteOffset !== 0 || this.kept + size > this.maxBytes) return;
    let list = this.free.get(size);
    if (list === undefined) this.free.set(size, list = []);
    if (list.length >= this.perSize || list.includes(b)) return;
    list.push(b);
    this.kept += size;
  }

  /** Bytes held for reuse. */
  get bytesKept(): number { return this.kept; }
}

function sizeFor(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bounce buffer of ${n} bytes`);
  let size = MIN_SIZE;
  while (size < n) size *= 2;
  return size;
}
