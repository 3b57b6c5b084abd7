// An encoder per wire frame type (docs/PROTOCOL.md). The values come from our
// own side, so an out-of-range one is a bug: RangeError, never a bad frame.

import type { RegisterWidth } from '../transport';
import {
  DOORBELL_HANDOVER, FrameType, HEADER_SIZE, LENGTH_SIZE, MAP_FLAGS, MAX_PATH, MAX_REASON, MAX_TOKEN, WELCOME_WINDOW,
  WIRE_MAGIC, WIRE_VERSION, type Frame, type FrameTypeCode, type MapFrame, type WelcomeInfo,
} from './frame-types';

const utf8 = new TextEncoder();

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
  if (w) { checkU64('window base', w.base); checkU64('window len', w.len); }
  const [buf, dv] = frame(FrameType.Welcome, 40 + path.length);
  dv.setUint16(8, info.version, true);
  dv.setUint16(10, w ? WELCOME_WINDOW : 0, true);
  dv.setUint32(12, path.length, true);
  setU64(dv, 16, info.ram.base);
  setU64(dv, 24, info.ram.size);
  setU64(dv, 32, w ? w.base : 0);
  setU64(dv, 40, w ? w.len : 0);
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

/** Hand queue `queue`'s doorbells over (both paths), or take them back (null). */
export function encodeDoorbell(seq: number, queue: number, bells: { kick: string; call: string } | null): Uint8Array {
  checkU32('seq', seq); checkU32('queue', queue);
  const kick = bells ? bytesOf('kick path', bells.kick, MAX_PATH) : new Uint8Array(0);
  const call = bells ? bytesOf('call path', bells.call, MAX_PATH) : new Uint8Array(0);
  if (bells && (kick.length === 0 || call.length === 0)) throw new RangeError('wire: a doorbell path is empty');
  const [buf, dv] = frame(FrameType.Doorbell, 16 + kick.length + call.length);
  dv.setUint32(8, seq, true);
  dv.setUint32(12, queue, true);
  dv.setUint32(16, bells ? DOORBELL_HANDOVER : 0, true);
  dv.setUint16(20, kick.length, true);
  dv.setUint16(22, call.length, true);
  buf.set(kick, 24);
  buf.set(call, 24 + kick.length);
  return buf;
}

export function encodeDoorbellAck(seq: number, status: number): Uint8Array {
  checkU32('seq', seq); checkU32('status', status);
  const [buf, dv] = frame(FrameType.DoorbellAck, 8);
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
    case FrameType.Doorbell: return encodeDoorbell(f.seq, f.queue, f.handover ? { kick: f.kick, call: f.call } : null);
    case FrameType.DoorbellAck: return encodeDoorbellAck(f.seq, f.status);
  }
}
