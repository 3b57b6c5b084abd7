// Which backend answers a device's queues: passthrough (undefined: the
// instance builds its own FUSE server) or vhost-user (the real virtiofsd).

import type { MemoryBacking } from '../../core/memory';
import type { VmmOptions } from './options';
import type { VirtioFsBackend, VirtioFsDeviceSink } from './virtio-fs-device';

export type BackendFactory = (sink: VirtioFsDeviceSink, ram: MemoryBacking) => VirtioFsBackend;

export function makeBackend(opts: VmmOptions, _log: (m: string) => void): BackendFactory | undefined {
  if (opts.backend === 'passthrough') return undefined;
  throw new Error('--backend vhost-user: not wired yet');
}

export async function vhostUserQueueLimit(_opts: VmmOptions): Promise<number> {
  return 1;
}
