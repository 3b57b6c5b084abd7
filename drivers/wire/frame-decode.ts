// The incremental decoder of wire frames (docs/PROTOCOL.md). Every byte is
// untrusted: it returns a WireProtocolError instead of throwing, and never
// reads past a length it has checked.

import type { RegisterWidth } from '../transport';
import {
  DOORBELL_HANDOVER, FrameType, HEADER_SIZE, LENGTH_SIZE, MAP_FLAGS, MAX_FRAME_LENGTH, MAX_PATH, MAX_REASON, MAX_TOKEN,
  WELCOME_WINDOW, WireProtocolError, frameTypeName, type Frame, type WireErrorKind,
} from './frame-types';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');

/** A payload size rule: exactly `fixed`, or `fixed` plus up to `tail` more. */
const sizes: Record<number, { fixed: number; tail: number }> = {
  [FrameType.Hello]: { fixed: 8, tail: MAX_TOKEN },
  [FrameType.Welcome]: { fixed: 40, tail: MAX_PATH },
  [FrameType.Refuse]: { fixed: 4, tail: MAX_REASON },
  [FrameType.RegRead]: { fixed: 12, tail: 0 },
  [FrameType.RegValue]: { fixed: 8, tail: 0 },
  [FrameType.RegWrite]: { fixed: 12, tail: 0 },
  [FrameType.Notify]: { fixed: 4, tail: 0 },
  [FrameType.Interrupt]: { fixed: 4, tail: 0 },
  [FrameType.Map]: { fixed: 32, tail: MAX_PATH },
  [FrameType.Unmap]: { fixed: 24, tail: 0 },
  [FrameType.MapAck]: { fixed: 8, tail: 0 },
  [FrameType.Goodbye]: { fixed: 4, tail: MAX_REASON },
  [FrameType.Doorbell]: { fixed: 16, tail: 2 * MAX_PATH },
  [FrameType.DoorbellAck]: { fixed: 8, tail: 0 },
};

function bad(kind: WireErrorKind, msg: string): WireProtocolError {
  return new WireProtocolError(kind, msg);
}

/** A u64 that must stay below 2^53, or -1. */
function getU64(dv: DataView, at: number): number {
  const hi = dv.getUint32(at + 4, true);
  if (hi > 0x1fffff) return -1;
  return hi * 0x100000000 + dv.getUint32(at, true);
}

function width(b: number): RegisterWidth | 0 {
  return b === 1 || b === 2 || b === 4 ? b : 0;
}

function zero(p: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (p[i] !== 0) return false;
  return true;
}

/**
 * Decode one frame's type and payload (the bytes after the 8-byte header).
 * The frame holds no reference to `payload`.
 */
export function decodePayload(type: number, reserved: number, payload: Uint8Array): Frame | WireProtocolError {
  const rule = sizes[type];
  if (rule === undefined) return bad('unknown-type', `unknown frame type ${type}`);
  const name = frameTypeName(type);
  if (reserved !== 0) return bad('bad-field', `${name}: reserved header field is ${reserved}`);
  const n = payload.length;
  if (n < rule.fixed || n > rule.fixed + rule.tail) {
    return bad('bad-size', `${name}: payload of ${n} bytes (expected ${rule.tail ? `${rule.fixed}..${rule.fixed + rule.tail}` : rule.fixed})`);
  }
  const dv = new DataView(payload.buffer, payload.byteOffset, n);
  const u32 = (at: number) => dv.getUint32(at, true);
  const tail = payload.subarray(rule.fixed);
  switch (type) {
    case FrameType.Hello: {
      const tokenLen = dv.getUint16(6, true);
      if (tokenLen !== tail.length) return bad('bad-size', `HELLO: token length ${tokenLen} but ${tail.length} bytes follow`);
      return { type, magic: u32(0), version: dv.getUint16(4, true), token: tail.slice() };
    }
    case FrameType.Welcome: {
      const flags = dv.getUint16(2, true);
      if ((flags & ~WELCOME_WINDOW) !== 0) return bad('bad-field', `WELCOME: unknown flags 0x${flags.toString(16)}`);
      if (u32(4) !== tail.length) return bad('bad-size', `WELCOME: path length ${u32(4)} but ${tail.length} bytes follow`);
      const ramBase = getU64(dv, 8), ramSize = getU64(dv, 16), wBase = getU64(dv, 24), wLen = getU64(dv, 32);
      if (ramBase < 0 || ramSize < 0 || wBase < 0 || wLen < 0) return bad('bad-field', 'WELCOME: an address or size above 2^53');
      if (!Number.isSafeInteger(ramBase + ramSize) || !Number.isSafeInteger(wBase + wLen)) {
        return bad('bad-field', 'WELCOME: a region ends above 2^53');
      }
      let path: string;
      try { path = utf8Strict.decode(tail); } catch { return bad('bad-field', 'WELCOME: RAM path is not UTF-8'); }
      const window = (flags & WELCOME_WINDOW) ? { base: wBase, len: wLen } : null;
      return { type, version: dv.getUint16(0, true), ram: { path, base: ramBase, size: ramSize }, window };
    }
    case FrameType.Refuse:
    case FrameType.Goodbye:
      return { type, code: u32(0), reason: utf8Lenient.decode(tail) };
    case FrameType.RegRead:
    case FrameType.RegWrite: {
      const w = width(payload[8]);
      if (w === 0) return bad('bad-field', `${name}: width ${payload[8]} is not 1, 2 or 4`);
      if (!zero(payload, 9, 12)) return bad('bad-field', `${name}: reserved bytes are not zero`);
      if (type === FrameType.RegRead) return { type, id: u32(0), offset: u32(4), width: w };
      const value = u32(4);
      if (w < 4 && value >= 2 ** (8 * w)) return bad('bad-field', `REG_WRITE: value ${value} does not fit ${w} bytes`);
      return { type, offset: u32(0), width: w, value };
    }
    case FrameType.RegValue:
      return { type, id: u32(0), value: u32(4) };
    case FrameType.Notify:
      return { type, queue: u32(0) };
    case FrameType.Interrupt:
      return { type, bits: u32(0) };
    case FrameType.Map: {
      const flags = u32(4);
      if ((flags & ~MAP_FLAGS) !== 0) return bad('bad-field', `MAP: unknown flags 0x${flags.toString(16)}`);
      const moffset = getU64(dv, 8), len = getU64(dv, 16), foffset = getU64(dv, 24);
      if (moffset < 0 || len < 0 || foffset < 0) return bad('bad-field', 'MAP: an offset or length above 2^53');
      let path: string;
      try { path = utf8Strict.decode(tail); } catch { return bad('bad-field', 'MAP: path is not UTF-8'); }
      return { type, seq: u32(0), flags, moffset, len, foffset, path };
    }
    case FrameType.Unmap: {
      if (u32(4) !== 0) return bad('bad-field', 'UNMAP: reserved field is not zero');
      const moffset = getU64(dv, 8), len = getU64(dv, 16);
      if (moffset < 0 || len < 0) return bad('bad-field', 'UNMAP: an offset or length above 2^53');
      return { type, seq: u32(0), moffset, len };
    }
    case FrameType.MapAck:
    case FrameType.DoorbellAck:
      return { type, seq: u32(0), status: u32(4) };
    case FrameType.Doorbell: {
      const flags = u32(8);
      if ((flags & ~DOORBELL_HANDOVER) !== 0) return bad('bad-field', `DOORBELL: unknown flags 0x${flags.toString(16)}`);
      const kickLen = dv.getUint16(12, true), callLen = dv.getUint16(14, true);
      if (kickLen + callLen !== tail.length) {
        return bad('bad-size', `DOORBELL: path lengths ${kickLen} + ${callLen} but ${tail.length} bytes follow`);
      }
      if (kickLen > MAX_PATH || callLen > MAX_PATH) return bad('bad-field', `DOORBELL: a path above ${MAX_PATH} bytes`);
      const handover = flags === DOORBELL_HANDOVER;
      // Both paths to hand over; none to take back.
      if (handover ? kickLen === 0 || callLen === 0 : tail.length !== 0) {
        return bad('bad-field', handover ? 'DOORBELL: a hand-over without both paths' : 'DOORBELL: a take-back with paths');
      }
      let kick: string, call: string;
      try {
        kick = utf8Strict.decode(tail.subarray(0, kickLen));
        call = utf8Strict.decode(tail.subarray(kickLen));
      } catch { return bad('bad-field', 'DOORBELL: path is not UTF-8'); }
      return { type, seq: u32(0), queue: u32(4), handover, kick, call };
    }
  }
  return bad('unknown-type', `unknown frame type ${type}`); // unreachable: sizes covers every type
}

/** Decode exactly one whole frame (header included). */
export function decodeFrame(bytes: Uint8Array): Frame | WireProtocolError {
  const d = new FrameDecoder();
  d.push(bytes);
  const f = d.next();
  if (f === null) return d.end() ?? bad('truncated', 'no frame');
  if (f instanceof WireProtocolError) return f;
  return d.buffered === 0 ? f : bad('bad-size', `${d.buffered} bytes after the frame`);
}

/**
 * Incremental decoder: push chunks as they arrive, then call next() until
 * it returns null. Chunks are kept by reference (do not reuse them); each
 * byte is copied at most once, and only for a frame split across chunks.
 * After an error the decoder returns that error for ever: close the stream.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private head = 0;        // index of the first live chunk
  private offset = 0;      // read position inside chunks[head]
  private total = 0;       // live bytes buffered
  private error: WireProtocolError | null = null;
  private readonly hdr = new Uint8Array(HEADER_SIZE);
  private readonly hdrView = new DataView(this.hdr.buffer);

  constructor(private readonly maxLength: number = MAX_FRAME_LENGTH) {}

  get buffered(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (this.error || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The next frame, a protocol error, or null when more bytes are needed. */
  next(): Frame | WireProtocolError | null {
    if (this.error) return this.error;
    if (this.total < HEADER_SIZE) return null;
    this.peek(this.hdr);
    const length = this.hdrView.getUint32(0, true);
    // Checked before the body is read: a huge length never makes us buffer.
    if (length > this.maxLength) return this.fail(bad('oversized', `frame length ${length} above ${this.maxLength}`));
    if (length < HEADER_SIZE - LENGTH_SIZE) return this.fail(bad('undersized', `frame length ${length} below ${HEADER_SIZE - LENGTH_SIZE}`));
    const size = LENGTH_SIZE + length;
    if (this.total < size) return null;
    const type = this.hdrView.getUint16(4, true);
    const reserved = this.hdrView.getUint16(6, true);
    const bytes = this.take(size);
    const f = decodePayload(type, reserved, bytes.subarray(HEADER_SIZE));
    return f instanceof WireProtocolError ? this.fail(f) : f;
  }

  /** At end of stream: an error if a partial frame is left. */
  end(): WireProtocolError | null {
    if (this.error) return this.error;
    if (this.total > 0) return this.fail(bad('truncated', `stream ended inside a frame (${this.total} bytes left)`));
    return null;
  }

  private fail(e: WireProtocolError): WireProtocolError {
    this.error = e;
    this.chunks = [];
    this.head = this.offset = this.total = 0;
    return e;
  }

  /** Copy the first dst.length buffered bytes into dst, consuming nothing. */
  private peek(dst: Uint8Array): void {
    let i = this.head, off = this.offset, n = 0;
    while (n < dst.length) {
      const c = this.chunks[i];
      const k = Math.min(c.length - off, dst.length - n);
      dst.set(c.subarray(off, off + k), n);
      n += k; i++; off = 0;
    }
  }

  /** Consume n buffered bytes: a view when they lie in one chunk, else one copy. */
  private take(n: number): Uint8Array {
    const c = this.chunks[this.head];
    let out: Uint8Array;
    if (c.length - this.offset >= n) {
      out = c.subarray(this.offset, this.offset + n);
      this.offset += n;
    } else {
      out = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const d = this.chunks[this.head];
        const k = Math.min(d.length - this.offset, n - got);
        out.set(d.subarray(this.offset, this.offset + k), got);
        got += k;
        this.offset += k;
        if (this.offset === d.length) this.drop();
      }
    }
    if (this.head < this.chunks.length && this.offset === this.chunks[this.head].length) this.drop();
    this.total -= n;
    return out;
  }

  private drop(): void {
    this.head++;
    this.offset = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head); // amortised O(1) per chunk
      this.head = 0;
    }
  }
}
