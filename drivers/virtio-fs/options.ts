// What a caller gives the virtio-fs driver and what FUSE_INIT hands back to it.

import { type Log, consoleLog } from '../../core/log';
import { VIRTIO_QUEUE_MAX, VIRTQUEUE_MAX_SIZE } from '../virtio/ids';
import { DEFAULT_BUSY_POLL_US } from './busy-poll';
import {
  VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, feature,
} from '../virtio/features';

/** The features this driver can use; it accepts the offered subset. */
export const VIRTIO_FS_DRIVER_FEATURES =
  feature(VIRTIO_F_VERSION_1) | feature(VIRTIO_RING_F_EVENT_IDX) | feature(VIRTIO_RING_F_INDIRECT_DESC);

export interface VirtioFsDriverOptions {
  /** Request queues wanted (the device may offer fewer); default min(offered, 8). */
  requestQueues?: number;
  /** Queue size wanted (capped by each QueueNumMax); default 1024. */
  queueSize?: number;
  /** Features wanted among VIRTIO_FS_DRIVER_FEATURES; VERSION_1 is always taken. */
  features?: bigint;
  /** Busy-poll a request queue's used ring for up to this many microseconds
   *  after a notify (busy-poll.ts); 0: never. Only on rings in memory with a
   *  live view. Default DEFAULT_BUSY_POLL_US. */
  busyPollUs?: number;
  /** Back off when spins do not pay (default true). */
  busyPollAdaptive?: boolean;
  logger?: Log;
}

export interface RequestOptions {
  /** Send on the hiprio queue (FORGET, BATCH_FORGET, INTERRUPT). */
  hiprio?: boolean;
  /** The virtqueue to use: 0 hiprio, 1..requestQueues; default round-robin. */
  queue?: number;
}

/** What the FUSE session over the device negotiated in FUSE_INIT, as far as
 *  the driver reports it. The session owns it: the driver holds the record
 *  it is given, never a copy of a field. */
export interface NegotiatedInit {
  /** log2 of the map alignment in force for SETUPMAPPING. */
  readonly mapAlignment: number;
}

export class VirtioFsProbeError extends Error {
  constructor(message: string) {
    super(`virtio-fs probe: ${message}`);
    this.name = 'VirtioFsProbeError';
  }
}

const DEFAULT_REQUEST_QUEUES = 8;
const DEFAULT_QUEUE_SIZE = 1024;

/** The options with their defaults, checked (a bad one is the caller's bug). */
export function resolveOptions(options: VirtioFsDriverOptions): {
  requestQueues: number; queueSize: number; features: bigint; log: Log; busyPollUs: number; busyPollAdaptive: boolean;
} {
  const requestQueues = options.requestQueues ?? DEFAULT_REQUEST_QUEUES;
  const queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
  if (!Number.isInteger(requestQueues) || requestQueues < 1 || requestQueues > VIRTIO_QUEUE_MAX - 1) {
    throw new VirtioFsProbeError(`bad requestQueues ${requestQueues}`);
  }
  if (!Number.isInteger(queueSize) || queueSize < 1 || queueSize > VIRTQUEUE_MAX_SIZE) {
    throw new VirtioFsProbeError(`bad queueSize ${queueSize}`);
  }
  const busyPollUs = options.busyPollUs ?? DEFAULT_BUSY_POLL_US;
  if (!Number.isFinite(busyPollUs) || busyPollUs < 0 || busyPollUs > 1_000_000) {
    throw new VirtioFsProbeError(`bad busyPollUs ${busyPollUs}`);
  }
  const features = (options.features ?? VIRTIO_FS_DRIVER_FEATURES) & VIRTIO_FS_DRIVER_FEATURES;
  return {
    requestQueues, queueSize, features, log: options.logger ?? consoleLog,
    busyPollUs, busyPollAdaptive: options.busyPollAdaptive ?? true,
  };
}
