// The request and the reply as the server sees them: a source it reads
// from and a target it writes to, over a descriptor chain's iovecs in guest
// memory (fuse-backend-rs's Reader and Writer over a DescriptorChain), or
// over plain arrays (the in-process client, tests). Nothing is gathered into
// a fresh buffer unless the bytes asked for straddle descriptors or the
// memory has no live view (a /dev/shm file, the DAX window).
//
// Everything here is the guest's and untrusted: buffers may be short, split
// anywhere (a header across two descriptors), or outside guest memory.

import type { GuestMemory } from '../../../core';
import type { Iovec } from '../../../drivers/virtqueue';

/** The request: a chain's device-readable part. */
export interface RequestSource {
  readonly length: number;
  /**
   * [offset, offset + len) as one array: a view of guest memory when it lies
   * in one descriptor of a region with a live view (the guest may still
   * change it: decode each field once), else a copy.
   */
  bytes(offset: number, len: number): Uint8Array;
  /** [offset, offset + len) as arrays in order, views where the memory has them. */
  slices(offset: number, len: number): Uint8Array[];
}

/** The reply: a chain's device-writable part. */
export interface ReplyTarget {
  readonly capacity: number;
  /** Copies `src` to [offset, offset + src.length) of the reply. */
  write(offset: number, src: Uint8Array): void;
  /** The whole reply, in an array the caller never touches again: a target
   *  that can keep it instead of copying it does (the in-process reply). */
  give?(bytes: Uint8Array): void;
  /**
   * Arrays that are the reply's bytes [offset, offset + len), to be filled in
   * place, or undefined (fill a bounce buffer and write() it). `later`: they
   * must stay safe to fill across awaits, until the request completes.
   */
  views(offset: number, len: number, later: boolean): Uint8Array[] | undefined;
}

/** Most views handed out at once: Linux's IOV_MAX, what one preadv takes. */
const MAX_VIEWS = 1024;

function total(iovs: readonly Iovec[]): number {
  let n = 0;
  for (const v of iovs) n += v.len;
  return n;
}

function checkRange(offset: number, len: number, size: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len < 0 || offset + len > size) {
    throw new RangeError(`${what}: [${offset}, +${len}) outside its ${size} bytes`);
  }
}

/** The pieces of [offset, offset + len) of a chain, as guest ranges. */
function* spans(iovs: readonly Iovec[], offset: number, len: number): Generator<{ base: number; len: number; at: number }> {
  let skip = offset;
  let left = len;
  let at = 0;
  for (const v of iovs) {
    if (left === 0) return;
    if (skip >= v.len) { skip -= v.len; continue; }
    const n = Math.min(v.len - skip, left);
    yield { base: v.base + skip, len: n, at };
    at += n;
    left -= n;
    skip = 0;
  }
}

/** A chain's readable iovecs; every one must lie in guest memory (checked
 *  up front, so a bad chain fails before any op runs). */
export class ChainRequest implements RequestSource {
  readonly length: number;
  /** The last copied prefix: a head read twice (header, then the whole
   *  request) is read from guest memory once. */
  private prefix: Uint8Array | undefined;

  constructor(private readonly mem: GuestMemory, private readonly iovs: readonly Iovec[]) {
    for (const v of iovs) {
      if (!mem.contains(v.base, v.len)) throw new RangeError(`request buffer 0x${v.base.toString(16)}+${v.len} outside guest memory`);
    }
    this.length = total(iovs);
  }

  bytes(offset: number, len: number): Uint8Array {
    checkRange(offset, len, this.length, 'request');
    if (len === 0) return new Uint8Array(0);
    const first = this.iovs[0]!;
    if (offset + len <= first.len) {
      // The common case (the driver puts the request in one buffer): no walk.
      const view = this.mem.view(first.base + offset, len);
      if (view) return view;
      if (offset !== 0 || this.prefix === undefined) {
        const out = this.mem.read(first.base + offset, len);
        if (offset === 0) this.prefix = out;
        return out;
      }
    }
    const parts = [...spans(this.iovs, offset, len)];
    if (parts.length === 1) {
      const view = this.mem.view(parts[0]!.base, len);
      if (view) return view;
    }
    const out = new Uint8Array(len);
    let from = 0;
    const p = this.prefix;
    if (offset === 0 && p !== undefined) {
      from = Math.min(p.length, len);
      out.set(p.subarray(0, from));
    }
    for (const s of parts) {
      if (s.at + s.len <= from) continue;
      const skip = Math.max(0, from - s.at);
      this.copy(s.base + skip, out.subarray(s.at + skip, s.at + s.len));
    }
    if (offset === 0 && (p === undefined || len > p.length)) this.prefix = out;
    return out;
  }

  slices(offset: number, len: number): Uint8Array[] {
    checkRange(offset, len, this.length, 'request');
    const out: Uint8Array[] = [];
    for (const s of spans(this.iovs, offset, len)) {
      const view = this.mem.view(s.base, s.len);
      if (view) { out.push(view); continue; }
      const copy = new Uint8Array(s.len);
      this.mem.readInto(s.base, copy);
      out.push(copy);
    }
    return out;
  }

  private copy(gpa: number, dst: Uint8Array): void {
    const view = this.mem.view(gpa, dst.length);
    if (view) dst.set(view);
    else this.mem.readInto(gpa, dst);
  }
}

/**
 * A chain's writable iovecs. Writes after `live()` turns false (a device
 * reset, a queue stop) are dropped; the first failure to reach guest memory
 * (a buffer in an unmapped window range) is kept in `error`, and nothing is
 * written after it: the request then completes with used.len 0.
 */
export class ChainReply implements ReplyTarget {
  readonly capacity: number;
  error: unknown;

  constructor(private readonly mem: GuestMemory, private readonly iovs: readonly Iovec[],
              private readonly live: () => boolean = () => true) {
    this.capacity = total(iovs);
  }

  write(offset: number, src: Uint8Array): void {
    checkRange(offset, src.length, this.capacity, 'reply');
    if (this.error !== undefined || !this.live()) return;
    try {
      const first = this.iovs[0]!;
      if (offset + src.length <= first.len) { this.mem.write(first.base + offset, src); return; }
      for (const s of spans(this.iovs, offset, src.length)) this.mem.write(s.base, src.subarray(s.at, s.at + s.len));
    } catch (e) {
      this.error = e;
    }
  }

  views(offset: number, len: number, later: boolean): Uint8Array[] | undefined {
    checkRange(offset, len, this.capacity, 'reply');
    // A fill that completes later could land after a reset: bounce it.
    if (later || this.error !== undefined || !this.live()) return undefined;
    const out: Uint8Array[] = [];
    try {
      const first = this.iovs[0]!;
      if (offset + len <= first.len) {
        const view = this.mem.view(first.base + offset, len);
        return view ? [view] : undefined;
      }
      for (const s of spans(this.iovs, offset, len)) {
        const view = this.mem.view(s.base, s.len);
        if (!view || out.length === MAX_VIEWS) return undefined;
        out.push(view);
      }
    } catch {
      return undefined; // outside guest memory: write() will record why
    }
    return out;
  }
}

/** One whole request in an array (the in-process client, a /dev/fuse read). */
export class BufferRequest implements RequestSource {
  constructor(private readonly buf: Uint8Array) {}
  get length(): number { return this.buf.length; }
  bytes(offset: number, len: number): Uint8Array {
    checkRange(offset, len, this.buf.length, 'request');
    return this.buf.subarray(offset, offset + len);
  }
  slices(offset: number, len: number): Uint8Array[] {
    return len === 0 ? [] : [this.bytes(offset, len)];
  }
}

const EMPTY = new Uint8Array(0);

/** A reply built in an array of its own, allocated on first use at the
 *  size asked for (never the whole capacity up front). */
export class BufferReply implements ReplyTarget {
  private buf: Uint8Array = EMPTY;
  private used = 0;
  constructor(readonly capacity: number) {}

  write(offset: number, src: Uint8Array): void {
    checkRange(offset, src.length, this.capacity, 'reply');
    this.reserve(offset + src.length).set(src, offset);
  }

  /** The whole reply in an array the caller gives up: kept, not copied. */
  give(bytes: Uint8Array): void {
    checkRange(0, bytes.length, this.capacity, 'reply');
    this.buf = bytes;
    this.used = bytes.length;
  }

  /** Ours alone, so safe to fill across awaits. */
  views(offset: number, len: number): Uint8Array[] {
    checkRange(offset, len, this.capacity, 'reply');
    return [this.reserve(offset + len).subarray(offset, offset + len)];
  }

  /** The first `len` bytes (the reply the server reported). */
  take(len: number): Uint8Array {
    return this.reserve(len).subarray(0, len);
  }

  private reserve(end: number): Uint8Array {
    if (end > this.buf.length) {
      const grown = new Uint8Array(Math.max(end, Math.min(this.capacity, this.buf.length * 2)));
      if (this.used > 0) grown.set(this.buf.subarray(0, this.used));
      this.buf = grown;
    }
    this.used = Math.max(this.used, end);
    return this.buf;
  }
}
