// Little-endian access at explicit offsets. The reader's `need` is the one
// bounds check a decoder makes before reading a struct; the DataView's own
// range check is only a backstop (a RangeError becomes EIO in `guard`).

import { Reject } from './decoded';

export class LeReader {
  private readonly dv: DataView;
  readonly length: number;

  /** `errno` is what a short or malformed message is rejected with. */
  constructor(readonly bytes: Uint8Array, readonly errno: number) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.length = bytes.byteLength;
  }

  /** Reject unless [off, off + n) lies within `end` (default: the buffer). */
  need(off: number, n: number, what: string, end: number = this.length): void {
    if (off + n > end) {
      throw new Reject(this.errno, `${what}: needs ${n} bytes at offset ${off}, only ${Math.max(0, end - off)} left`);
    }
  }

  fail(reason: string): never {
    throw new Reject(this.errno, reason);
  }

  u8(off: number): number { return this.bytes[off]!; }
  u16(off: number): number { return this.dv.getUint16(off, true); }
  u32(off: number): number { return this.dv.getUint32(off, true); }
  i32(off: number): number { return this.dv.getInt32(off, true); }
  u64(off: number): bigint { return this.dv.getBigUint64(off, true); }
  /** A view of [off, end): no copy. */
  view(off: number, end: number): Uint8Array { return this.bytes.subarray(off, end); }
}

/** Writes into a zero-filled buffer, so padding and unused fields stay 0. */
export class LeWriter {
  private readonly dv: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  static alloc(n: number): LeWriter { return new LeWriter(new Uint8Array(n)); }

  u8(off: number, v: number): void { this.bytes[off] = v; }
  u16(off: number, v: number): void { this.dv.setUint16(off, v, true); }
  u32(off: number, v: number): void { this.dv.setUint32(off, v, true); }
  i32(off: number, v: number): void { this.dv.setInt32(off, v, true); }
  u64(off: number, v: bigint): void { this.dv.setBigUint64(off, v, true); }
  put(off: number, src: Uint8Array): void { this.bytes.set(src, off); }
}
