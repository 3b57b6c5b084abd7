// The frames of the guest <-> device-model wire (docs/PROTOCOL.md): an
// encoder per type and an incremental decoder. Portable: Uint8Array/DataView.
// Every decoded byte is untrusted: the decoder returns a WireProtocolError
// instead of throwing, and never reads past a length it has checked.

import { Errno, ErrnoError } from '../../core/errno';
import type { RegisterWidth } from '../transport';

/** "VFSW" read as a little-endian u32. */
export const WIRE_MAGIC = 0x57534656;
export const WIRE_VERSION = 1;
/** Bytes before the length field's count starts: the u32 length itself. */
export const LENGTH_SIZE = 4;
/** u32 length + u16 type + u16 reserved. */
export const HEADER_SIZE = 8;
/** Largest value of the length field (type + reserved + payload). */
export const MAX_FRAME_LENGTH = 64 * 1024;
export const MAX_TOKEN = 1024;
export const MAX_PATH = 4096;
export const MAX_REASON = 1024;
/** virtio-mmio QueueNotify: a 4-byte write there may travel as NOTIFY. */
export const QUEUE_NOTIFY_OFFSET = 0x50;

/** MAP flags: the bits of FUSE_SETUPMAPPING_FLAG_{WRITE,READ}. */
export const MAP_WRITE = 1;
export const MAP_READ = 2;
const MAP_FLAGS = MAP_WRITE | MAP_READ;
/** WELCOME flags. */
export const WELCOME_WINDOW = 1;

export const FrameType = {
  Hello: 1,
  Welcome: 2,
  Refuse: 3,
  RegRead: 4,
  RegValue: 5,
  RegWrite: 6,
  Notify: 7,
  Interrupt: 8,
  Map: 9,
  Unmap: 10,
  MapAck: 11,
  Goodbye: 12,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

const typeNames: Record<number, string> = {};
for (const [k, v] of Object.entries(FrameType)) typeNames[v] = k.toUpperCase();
/** "REG_READ"-style name of a type code, for logs. */
export function frameTypeName(type: number): string {
  const n = typeNames[type];
  if (n === undefined) return `type ${type}`;
  return n.replace(/^REG/, 'REG_').replace(/^MAPACK$/, 'MAP_ACK');
}

export interface SharedRam {
  /** The shared-memory file both processes map (e.g. /dev/shm/...); '' if none. */
  path: string;
  base: number;
  size: number;
}
export interface CacheWindow {
  base: number;
  size: number;
}
/** What the device tells the guest in WELCOME. */
export interface WelcomeInfo {
  version: number;
  ram: SharedRam;
  /** Shared-memory region 0 (the DAX window), or null when absent. */
  window: CacheWindow | null;
}

export interface HelloFrame { type: 1; magic: number; version: number; token: Uint8Array }
export interface WelcomeFrame extends WelcomeInfo { type: 2 }
export interface RefuseFrame { type: 3; code: number; reason: string }
export interface RegReadFrame { type: 4; id: number; offset: number; width: RegisterWidth }
export interface RegValueFrame { type: 5; id: number; value: number }
export interface RegWriteFrame { type: 6; offset: number; width: RegisterWidth; value: number }
export interface NotifyFrame { type: 7; queue: number }
export interface InterruptFrame { type: 8; bits: number }
export interface MapFrame {
  type: 9; seq: number; flags: number;
  /** Offset in the window, length, offset in the file. */
  moffset: number; len: number; foffset: number;
  /** A host path the guest opens to reach the device's open file. */
  path: string;
}
export interface UnmapFrame { type: 10; seq: number; moffset: number; len: number }
/** status 0: applied; otherwise the errno the guest met applying it. */
export interface MapAckFrame { type: 11; seq: number; status: number }
export interface GoodbyeFrame { type: 12; code: number; reason: string }

export type Frame =
  | HelloFrame | WelcomeFrame | RefuseFrame | RegReadFrame | RegValueFrame
  | RegWriteFrame | NotifyFrame | InterruptFrame | MapFrame | UnmapFrame
  | MapAckFrame | GoodbyeFrame;

export type WireErrorKind =
  | 'oversized'    // length field above the maximum
  | 'undersized'   // length field below the header's own 4 bytes
  | 'truncated'    // the stream ended inside a frame
  | 'unknown-type'
  | 'bad-size'     // payload size does not fit the type
  | 'bad-field';   // a field out of its range (width, flags, reserved, UTF-8...)

/** A malformed frame. errno EPROTO; `kind` says which rule it broke. */
export class WireProtocolError extends ErrnoError {
  constructor(readonly kind: WireErrorKind, message: string) {
    super(Errno.EPROTO, `wire: ${message}`);
    this.name = 'WireProtocolError';
  }
}

// ---------------------------------------------------------------- encoding

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');

function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
function checkU32(name: string, v: number): void {
  if (!isU32(v)) throw new RangeError(`wire: ${name} ${v} is not a u32`);
}
function checkU64(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`wire: ${name} ${v} is not a u64 below 2^53`);
}
function checkWidth(width: number, value?: number): void {
  if (width !== 1 && width !== 2 && width !== 4) throw new RangeError(`wire: width ${width} is not 1, 2 or 4`);
  if (value !== undefined && (!isU32(value) || (width < 4 && value >= 2 ** (8 * width)))) {
    throw new RangeError(`wire: value ${value} does not fit ${width} bytes`);
  }
}
function bytesOf(name: string, s: string, max: number): Uint8Array {
  const b = utf8.encode(s);
  if (b.length > max) throw new RangeError(`wire: ${name} is ${b.length} bytes, above ${max}`);
  return b;
}

/** A frame of `type` with room for `payload` bytes; returns it and a view. */
function frame(type: FrameTypeCode, payload: number): [Uint8Array, DataView] {
  const buf = new Uint8Array(HEADER_SIZE + payload);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, HEADER_SIZE - LENGTH_SIZE + payload, true);
  dv.setUint16(4, type, true);
  return [buf, dv];
}
function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v % 0x100000000, true);
  dv.setUint32(at + 4, Math.floor(v / 0x100000000), true);
}

export function encodeHello(token: Uint8Array, version: number = WIRE_VERSION, magic: number = WIRE_MAGIC): Uint8Array {
  if (token.length > MAX_TOKEN) throw new RangeError(`wire: token is ${token.length} bytes, above ${MAX_TOKEN}`);
  checkU32('magic', magic);
  const [buf, dv] = frame(FrameType.Hello, 8 + token.length);
  dv.setUint32(8, magic, true);
  dv.setUint16(12, version, true);
  dv.setUint16(14, token.length, true);
  buf.set(token, 16);
  return buf;
}

export function encodeWelcome(info: WelcomeInfo): Uint8Array {
  const path = bytesOf('RAM path', info.ram.path, MAX_PATH);
  checkU64('RAM base', info.ram.base);
  checkU64('RAM size', info.ram.size);
  const w = info.window;
  if (w) { checkU64('window base', w.base); checkU64('window size', w.size); }
  const [buf, dv] = frame(FrameType.Welcome, 40 + path.length);
  dv.setUint16(8, info.version, true);
  dv.setUint16(10, w ? WELCOME_WINDOW : 0, true);
  dv.setUint32(12, path.length, true);
  setU64(dv, 16, info.ram.base);
  setU64(dv, 24, info.ram.size);
  setU64(dv, 32, w ? w.base : 0);
  setU64(dv, 40, w ? w.size : 0);
  buf.set(path, 48);
  return buf;
}

function codeAndReason(type: 3 | 12, code: number, reason: string): Uint8Array {
  checkU32('code', code);
  let r = utf8.encode(reason);
  if (r.length > MAX_REASON) r = r.subarray(0, MAX_REASON); // a reason is advisory: cut, do not fail
  const [buf, dv] = frame(type, 4 + r.length);
  dv.setUint32(8, code, true);
  buf.set(r, 12);
  return buf;
}
export function encodeRefuse(code: number, reason: string): Uint8Array {
  return codeAndReason(FrameType.Refuse, code, reason);
}
export function encodeGoodbye(code: number, reason: string): Uint8Array {
  return codeAndReason(FrameType.Goodbye, code, reason);
}

export function encodeRegRead(id: number, offset: number, width: RegisterWidth): Uint8Array {
  checkU32('id', id); checkU32('offset', offset); checkWidth(width);
  const [buf, dv] = frame(FrameType.RegRead, 12);
  dv.setUint32(8, id, true);
  dv.setUint32(12, offset, true);
  buf[16] = width;
  return buf;
}

export function encodeRegValue(id: number, value: number): Uint8Array {
  checkU32('id', id); checkU32('value', value);
  const [buf, dv] = frame(FrameType.RegValue, 8);
  dv.setUint32(8, id, true);
  dv.setUint32(12, value, true);
  return buf;
}

export function encodeRegWrite(offset: number, width: RegisterWidth, value: number): Uint8Array {
  checkU32('offset', offset); checkWidth(width, value);
  const [buf, dv] = frame(FrameType.RegWrite, 12);
  dv.setUint32(8, offset, true);
  dv.setUint32(12, value, true);
  buf[16] = width;
  return buf;
}

function u32Frame(type: 7 | 8, name: string, v: number): Uint8Array {
  checkU32(name, v);
  const [buf, dv] = frame(type, 4);
  dv.setUint32(8, v, true);
  return buf;
}
export function encodeNotify(queue: number): Uint8Array {
  return u32Frame(FrameType.Notify, 'queue', queue);
}
export function encodeInterrupt(bits: number): Uint8Array {
  return u32Frame(FrameType.Interrupt, 'bits', bits);
}

export function encodeMap(m: Omit<MapFrame, 'type'>): Uint8Array {
  checkU32('seq', m.seq);
  if (!isU32(m.flags) || (m.flags & ~MAP_FLAGS) !== 0) throw new RangeError(`wire: map flags ${m.flags}`);
  checkU64('moffset', m.moffset); checkU64('len', m.len); checkU64('foffset', m.foffset);
  const path = bytesOf('map path', m.path, MAX_PATH);
  const [buf, dv] = frame(FrameType.Map, 32 + path.length);
  dv.setUint32(8, m.seq, true);
  dv.setUint32(12, m.flags, true);
  setU64(dv, 16, m.moffset);
  setU64(dv, 24, m.len);
  setU64(dv, 32, m.foffset);
  buf.set(path, 40);
  return buf;
}

export function encodeUnmap(seq: number, moffset: number, len: number): Uint8Array {
  checkU32('seq', seq); checkU64('moffset', moffset); checkU64('len', len);
  const [buf, dv] = frame(FrameType.Unmap, 24);
  dv.setUint32(8, seq, true);
  setU64(dv, 16, moffset);
  setU64(dv, 24, len);
  return buf;
}

export function encodeMapAck(seq: number, status: number): Uint8Array {
  checkU32('seq', seq); checkU32('status', status);
  const [buf, dv] = frame(FrameType.MapAck, 8);
  dv.setUint32(8, seq, true);
  dv.setUint32(12, status, true);
  return buf;
}

/** Any frame, by its type. Throws RangeError on fields out of range. */
export function encodeFrame(f: Frame): Uint8Array {
  switch (f.type) {
    case FrameType.Hello: return encodeHello(f.token, f.version, f.magic);
    case FrameType.Welcome: return encodeWelcome(f);
    case FrameType.Refuse: return encodeRefuse(f.code, f.reason);
    case FrameType.RegRead: return encodeRegRead(f.id, f.offset, f.width);
    case FrameType.RegValue: return encodeRegValue(f.id, f.value);
    case FrameType.RegWrite: return encodeRegWrite(f.offset, f.width, f.value);
    case FrameType.Notify: return encodeNotify(f.queue);
    case FrameType.Interrupt: return encodeInterrupt(f.bits);
    case FrameType.Map: return encodeMap(f);
    case FrameType.Unmap: return encodeUnmap(f.seq, f.moffset, f.len);
    case FrameType.MapAck: return encodeMapAck(f.seq, f.status);
    case FrameType.Goodbye: return encodeGoodbye(f.code, f.reason);
  }
}

// ---------------------------------------------------------------- decoding

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
      const ramBase = getU64(dv, 8), ramSize = getU64(dv, 16), wBase = getU64(dv, 24), wSize = getU64(dv, 32);
      if (ramBase < 0 || ramSize < 0 || wBase < 0 || wSize < 0) return bad('bad-field', 'WELCOME: an address or size above 2^53');
      if (!Number.isSafeInteger(ramBase + ramSize) || !Number.isSafeInteger(wBase + wSize)) {
        return bad('bad-field', 'WELCOME: a region ends above 2^53');
      }
      let path: string;
      try { path = utf8Strict.decode(tail); } catch { return bad('bad-field', 'WELCOME: RAM path is not UTF-8'); }
      const window = (flags & WELCOME_WINDOW) ? { base: wBase, size: wSize } : null;
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
      return { type, seq: u32(0), status: u32(4) };
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
