// The frames of the guest <-> device-model wire (docs/PROTOCOL.md): their
// types, sizes and limits, and the error a malformed frame is.

import { Errno, ErrnoError } from '../../core/errno';
import type { RegisterWidth } from '../transport';
import type { SharedMemoryRegion } from '../virtio/shm';

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
/** Every MAP flag the wire knows. */
export const MAP_FLAGS = MAP_WRITE | MAP_READ;
/** WELCOME flags. */
export const WELCOME_WINDOW = 1;
/** DOORBELL flags: set, the paths are the queue's doorbells; clear, they are taken back. */
export const DOORBELL_HANDOVER = 1;

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
  Doorbell: 13,
  DoorbellAck: 14,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

const typeNames: Record<number, string> = {};
for (const [k, v] of Object.entries(FrameType)) typeNames[v] = k.toUpperCase();
/** "REG_READ"-style name of a type code, for logs. */
export function frameTypeName(type: number): string {
  const n = typeNames[type];
  if (n === undefined) return `type ${type}`;
  return n.replace(/^REG/, 'REG_').replace(/^MAPACK$/, 'MAP_ACK').replace(/^DOORBELLACK$/, 'DOORBELL_ACK');
}

export interface SharedRam {
  /** The shared-memory file both processes map (e.g. /dev/shm/...); '' if none. */
  path: string;
  base: number;
  size: number;
}
/** What the device tells the guest in WELCOME. */
export interface WelcomeInfo {
  version: number;
  ram: SharedRam;
  /** Shared-memory region 0 (the DAX cache window), or null when absent. */
  window: SharedMemoryRegion | null;
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
/**
 * A request queue's kick and call FIFOs (ioeventfd and irqfd, as KVM gives
 * them to vhost-user), handed to the guest or taken back. `kick`/`call` are
 * host paths when `handover`, both '' when taken back.
 */
export interface DoorbellFrame { type: 13; seq: number; queue: number; handover: boolean; kick: string; call: string }
/** status 0: done (handed over: the guest now kicks and reads calls itself); else the errno it declined with. */
export interface DoorbellAckFrame { type: 14; seq: number; status: number }

export type Frame =
  | HelloFrame | WelcomeFrame | RefuseFrame | RegReadFrame | RegValueFrame
  | RegWriteFrame | NotifyFrame | InterruptFrame | MapFrame | UnmapFrame
  | MapAckFrame | GoodbyeFrame | DoorbellFrame | DoorbellAckFrame;

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
