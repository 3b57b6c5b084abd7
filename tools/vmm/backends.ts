// Which backend answers a device's queues: passthrough (FUSE answered in
// TypeScript; the instance builds it) or vhost-user (the real virtiofsd, one
// daemon per guest session, as virtiofsd serves one front-end and exits).

import { isRamFile, type MemoryBacking } from '../../core/index.node';
import type { VmmOptions } from './options';
import type { VirtioFsBackend, VirtioFsDeviceSink } from './virtio-fs-device';
import type { DeviceLink } from './wire-server';
import { VhostUserBackend, VhostUserFrontend } from './vhost-user';

export type BackendFactory = (sink: VirtioFsDeviceSink, ram: MemoryBacking) => VirtioFsBackend;

/** Spawn (or attach to) the daemon and negotiate, before the device exists. */
export function startFrontend(opts: VmmOptions): Promise<VhostUserFrontend> {
  return VhostUserFrontend.start(opts.socketPath
    ? { socketPath: opts.socketPath }
    : { daemon: { source: opts.sharedDir, binary: opts.virtiofsd, extraArgs: opts.virtiofsdArgs } });
}

/**
 * The device's backend over a negotiated front-end; RAM must be a shared
 * file (core/ram.node.ts: a sealed memfd, mapped, or a /dev/shm file): its fd
 * goes to the daemon.
 */
export function vhostUserBackend(frontend: VhostUserFrontend, doorbellsTo?: DeviceLink): BackendFactory {
  return (sink, ram) => {
    if (!isRamFile(ram)) throw new Error('vhost-user: guest RAM must be a shared-memory file');
    // Doorbells are host FIFOs: only a guest on this host can open them.
    const link = doorbellsTo?.sameHost ? doorbellsTo : undefined;
    const handOver = link?.doorbell && ((q: number, bells: { kick: string; call: string } | null) => link.doorbell!(q, bells));
    return new VhostUserBackend(frontend, sink, { ramFd: ram.fd, ramSize: ram.size, handOver });
  };
}

/** How many request queues the daemon serves: QEMU checks num-request-queues against it. */
export async function vhostUserQueueLimit(opts: VmmOptions): Promise<number> {
  const fe = await startFrontend(opts);
  try {
    return fe.maxRequestQueues;
  } finally {
    await fe.close();
  }
}
