// --fuse-mount: the passthrough served to the host kernel's FUSE client as
// well as to guests, in a session of its own (its own inodes and handles),
// read-only when the share is. Unmounted at stop, so a signal never leaves
// a mount behind.

import { PassthroughServer } from './passthrough';
import { KernelFuseMount } from './kernel/fuse-dev';
import type { VmmOptions } from './options';

/** Largest WRITE the server takes (256 pages, its max_pages). */
const MAX_WRITE = 256 * 4096;

export interface KernelShare {
  stop(): Promise<void>;
}

export function mountForKernel(opts: VmmOptions, log: (m: string) => void): KernelShare {
  const server = new PassthroughServer({
    root: opts.sharedDir, readonly: opts.readonly, daxPolicy: 'none', logger: { warn: log },
  });
  let mount: KernelFuseMount;
  try {
    mount = KernelFuseMount.start({ mountpoint: opts.fuseMount!, source: `virtiofs-vmm:${opts.tag}`, maxWrite: MAX_WRITE, log },
      (req) => server.handle(req, { queue: 1, replyCapacity: MAX_WRITE + 4096 }));
  } catch (e) {
    void server.close();
    throw e;
  }
  return {
    async stop() {
      await mount.stop();
      await server.close();
    },
  };
}
