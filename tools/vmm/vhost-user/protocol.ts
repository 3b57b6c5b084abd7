// The vhost-user wire format (QEMU docs/interop/vhost-user.rst): a 12-byte
// header { request u32, flags u32, size u32 } then `size` bytes of payload,
// little-endian, file descriptors as SCM_RIGHTS ancillary data. Only the
// front-end's half is here: encode requests, check and decode replies.

import { U32_MAX } from '../../../core';

export const VHOST_USER_HDR_SIZE = 12;
/** Flags: bits 0-1 the version (always 1), bit 2 reply, bit 3 need_reply. */
export const VHOST_USER_VERSION = 0x1;
export const VHOST_USER_VERSION_MASK = 0x3;
export const VHOST_USER_REPLY_MASK = 0x4;
export const VHOST_USER_NEED_REPLY_MASK = 0x8;
/** SET_VRING_KICK/CALL/ERR payload: bits 0-7 the index, bit 8 "no fd". */
export const VHOST_USER_VRING_IDX_MASK = 0xff;
export const VHOST_USER_VRING_NOFD_MASK = 0x100;
/** QEMU's VHOST_MEMORY_BASELINE_NREGIONS. */
export const VHOST_MEMORY_MAX_NREGIONS = 8;
/** The largest reply the front-end ever accepts (GET_CONFIG: 12 + 256). */
export const VHOST_USER_MAX_REPLY_PAYLOAD = 268;

export const VhostUserRequest = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
} as const;

const REQUEST_NAMES: Record<number, string> = {
  1: 'GET_FEATURES', 2: 'SET_FEATURES', 3: 'SET_OWNER', 4: 'RESET_OWNER', 5: 'SET_MEM_TABLE',
  6: 'SET_LOG_BASE', 7: 'SET_LOG_FD', 8: 'SET_VRING_NUM', 9: 'SET_VRING_ADDR', 10: 'SET_VRING_BASE',
  11: 'GET_VRING_BASE', 12: 'SET_VRING_KICK', 13: 'SET_VRING_CALL', 14: 'SET_VRING_ERR',
  15: 'GET_PROTOCOL_FEATURES', 16: 'SET_PROTOCOL_FEATURES', 17: 'GET_QUEUE_NUM', 18: 'SET_VRING_ENABLE',
};

export function requestName(request: number): string {
  return REQUEST_NAMES[request] ?? `VHOST_USER_${request}`;
}

/** Virtio feature bit 30: the back-end speaks the protocol-feature extension. */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;

export const VHOST_USER_PROTOCOL_F_MQ = 0;
export const VHOST_USER_PROTOCOL_F_REPLY_ACK = 3;

export const bit = (n: number): bigint => 1n << BigInt(n);

export type VhostUserErrorKind =
  | 'short'        // fewer bytes than a header or than the header's size
  | 'oversized'    // a payload larger than any reply we accept
  | 'version'      // flags without version 1
  | 'not-reply'    // the reply bit is missing
  | 'mismatch'     // a reply to another request
  | 'payload'      // a payload of the wrong size for its request
  | 'nack'         // REPLY_ACK with a non-zero status
  | 'closed'       // the connection or the daemon went away
  | 'timeout'      // no reply in time
  | 'refused'      // the daemon cannot do what was asked (queue count, features)
  | 'spawn';       // the daemon did not start

export class VhostUserError extends Error {
  constructor(readonly kind: VhostUserErrorKind, message: string) {
    super(`vhost-user: ${message}`);
    this.name = 'VhostUserError';
  }
}

export interface VhostUserHeader {
  request: number;
  flags: number;
  size: number;
}

/** struct vhost_vring_state: SET_VRING_NUM/BASE/ENABLE, GET_VRING_BASE. */
export interface VringState { index: number; num: number }

/** struct vhost_vring_addr: front-end user-space addresses of the rings. */
export interface VringAddr {
  index: number;
  flags: number;
  desc: bigint;
  used: bigint;
  avail: bigint;
  log: bigint;
}

/** VhostUserMemoryRegion. */
export interface MemoryRegionDesc {
  guestPhysAddr: bigint;
  memorySize: bigint;
  userspaceAddr: bigint;
  mmapOffset: bigint;
}


function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new RangeError(`vhost-user: ${name} ${v} is not a u32`);
}

function checkU64(name: string, v: bigint): void {
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`vhost-user: ${name} ${v} is not a u64`);
}

/** A whole message: header then payload. */
export function encodeMessage(request: number, flags: number, payload?: Uint8Array): Uint8Array {
  checkU32('request', request);
  const size = payload ? payload.length : 0;
  const out = new Uint8Array(VHOST_USER_HDR_SIZE + size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, request, true);
  dv.setUint32(4, (flags & ~VHOST_USER_VERSION_MASK) | VHOST_USER_VERSION, true);
  dv.setUint32(8, size, true);
  if (payload) out.set(payload, VHOST_USER_HDR_SIZE);
  return out;
}

export function encodeU64(v: bigint): Uint8Array {
  checkU64('u64 payload', v);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, true);
  return out;
}

export function encodeVringState(s: VringState): Uint8Array {
  checkU32('vring index', s.index);
  checkU32('vring num', s.num);
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, s.index, true);
  dv.setUint32(4, s.num, true);
  return out;
}

export function encodeVringAddr(a: VringAddr): Uint8Array {
  checkU32('vring index', a.index);
  checkU32('vring flags', a.flags);
  for (const [n, v] of [['desc', a.desc], ['used', a.used], ['avail', a.avail], ['log', a.log]] as const) checkU64(n, v);
  const out = new Uint8Array(40);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, a.index, true);
  dv.setUint32(4, a.flags, true);
  dv.setBigUint64(8, a.desc, true);
  dv.setBigUint64(16, a.used, true);
  dv.setBigUint64(24, a.avail, true);
  dv.setBigUint64(32, a.log, true);
  return out;
}

/** VhostUserMemory: nregions u32, padding u32, then the regions (32 bytes each). */
export function encodeMemTable(regions: readonly MemoryRegionDesc[]): Uint8Array {
  if (regions.length < 1 || regions.length > VHOST_MEMORY_MAX_NREGIONS) {
    throw new RangeError(`vhost-user: ${regions.length} memory regions (1..${VHOST_MEMORY_MAX_NREGIONS})`);
  }
  const out = new Uint8Array(8 + 32 * regions.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, regions.length, true);
  regions.forEach((r, i) => {
    const off = 8 + 32 * i;
    for (const [n, v] of [['guest_phys_addr', r.guestPhysAddr], ['memory_size', r.memorySize],
      ['userspace_addr', r.userspaceAddr], ['mmap_offset', r.mmapOffset]] as const) checkU64(n, v);
    dv.setBigUint64(off, r.guestPhysAddr, true);
    dv.setBigUint64(off + 8, r.memorySize, true);
    dv.setBigUint64(off + 16, r.userspaceAddr, true);
    dv.setBigUint64(off + 24, r.mmapOffset, true);
  });
  return out;
}

/** The u64 of SET_VRING_KICK/CALL: the index, and "no fd" when none is sent. */
export function encodeVringFile(index: number, hasFd: boolean): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index > VHOST_USER_VRING_IDX_MASK) {
    throw new RangeError(`vhost-user: vring index ${index} out of 0..255`);
  }
  return encodeU64(BigInt(index | (hasFd ? 0 : VHOST_USER_VRING_NOFD_MASK)));
}

/**
 * The header at the start of `buf`, or undefined when fewer than 12 bytes
 * are there yet. Rejects a header no reply may carry: wrong version, no
 * reply bit, a payload above VHOST_USER_MAX_REPLY_PAYLOAD.
 */
export function decodeReplyHeader(buf: Uint8Array): VhostUserHeader | undefined {
  if (buf.length < VHOST_USER_HDR_SIZE) return undefined;
  const dv = new DataView(buf.buffer, buf.byteOffset, VHOST_USER_HDR_SIZE);
  const h = { request: dv.getUint32(0, true), flags: dv.getUint32(4, true), size: dv.getUint32(8, true) };
  if ((h.flags & VHOST_USER_VERSION_MASK) !== VHOST_USER_VERSION) {
    throw new VhostUserError('version', `reply to ${requestName(h.request)} with flags 0x${h.flags.toString(16)}: not version 1`);
  }
  if ((h.flags & VHOST_USER_REPLY_MASK) === 0) {
    throw new VhostUserError('not-reply', `message ${requestName(h.request)} from the back-end without the reply flag`);
  }
  if (h.size > VHOST_USER_MAX_REPLY_PAYLOAD) {
    throw new VhostUserError('oversized', `reply to ${requestName(h.request)} of ${h.size} bytes (at most ${VHOST_USER_MAX_REPLY_PAYLOAD})`);
  }
  return h;
}

/** Checks a whole reply (header + payload) to `request` and returns its payload. */
export function checkReply(request: number, msg: Uint8Array, payloadSize: number): Uint8Array {
  const h = decodeReplyHeader(msg);
  if (!h) throw new VhostUserError('short', `reply to ${requestName(request)}: ${msg.length} bytes, no header`);
  if (h.request !== request) {
    throw new VhostUserError('mismatch', `reply to ${requestName(h.request)} while waiting for ${requestName(request)}`);
  }
  if (msg.length < VHOST_USER_HDR_SIZE + h.size) {
    throw new VhostUserError('short', `reply to ${requestName(request)}: ${msg.length - VHOST_USER_HDR_SIZE} of ${h.size} payload bytes`);
  }
  if (h.size !== payloadSize) {
    throw new VhostUserError('payload', `reply to ${requestName(request)} with a ${h.size}-byte payload (${payloadSize} expected)`);
  }
  return msg.subarray(VHOST_USER_HDR_SIZE, VHOST_USER_HDR_SIZE + h.size);
}

export function decodeU64Reply(request: number, msg: Uint8Array): bigint {
  const p = checkReply(request, msg, 8);
  return new DataView(p.buffer, p.byteOffset, 8).getBigUint64(0, true);
}

export function decodeVringStateReply(request: number, msg: Uint8Array): VringState {
  const p = checkReply(request, msg, 8);
  const dv = new DataView(p.buffer, p.byteOffset, 8);
  return { index: dv.getUint32(0, true), num: dv.getUint32(4, true) };
}
