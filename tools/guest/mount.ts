// A guest mounting a share: connect to a device model over the wire, bring
// the virtio-fs device up, and mount it at / of a fresh VFS. What the shell,
// `npm start`, the harness and the bench all begin with.

import * as fs from 'node:fs';
import { Vfs } from '../../core/vfs';
import { connectVirtioFs, type RemoteVirtioFs } from '../../drivers/virtio-fs/connect.node';
import { connectionOf, type FuseDevice, fuseDeviceOf, VirtiofsFileSystemType } from '../../fs/virtiofs';
import type { DaxManager } from '../../fs/virtiofs/dax';
import { defaultTokenFile, readTokenFile } from '../common/token';

export interface MountOptions {
  /** tcp:HOST:PORT, unix:PATH (or the tcp:// form virtiofs-vmm prints). */
  connect: string;
  /** The device model's token; default: the file it wrote for this address. */
  token?: string;
  tokenFile?: string;
  /** Mount source; default the device's own tag. */
  tag?: string;
  dax?: 'always' | 'never' | 'inode';
  chunkSize?: string;
  /** Seconds: the mount option request-timeout. */
  requestTimeout?: string;
  aggressive?: boolean;
  /** More virtiofs mount options (dax-placement, dax-adaptive, inode-cache...). */
  options?: Record<string, string | boolean>;
  requestQueues?: number;
  /** Busy-poll bound after a notify, microseconds (0: off; default the driver's). */
  busyPollUs?: number;
  timeoutMs?: number;
  /** Take the request queues' doorbells when the device offers them (default true). */
  doorbells?: boolean;
}

export interface GuestMount {
  readonly vfs: Vfs;
  readonly remote: RemoteVirtioFs;
  readonly device: FuseDevice;
  /** The device's DAX window manager (shared by every mount of it), if any. */
  dax(): Promise<DaxManager | undefined>;
  close(): Promise<void>;
}

export function resolveToken(opts: Pick<MountOptions, 'connect' | 'token' | 'tokenFile'>): string | undefined {
  if (opts.token) return opts.token;
  const file = opts.tokenFile ?? defaultTokenFile(opts.connect);
  if (opts.tokenFile || fs.existsSync(file)) return readTokenFile(file);
  return undefined; // a device model without a token (unix socket, loopback)
}

export async function mountShare(opts: MountOptions): Promise<GuestMount> {
  const remote = await connectVirtioFs(opts.connect, {
    token: resolveToken(opts), timeoutMs: opts.timeoutMs, requestQueues: opts.requestQueues,
    doorbells: opts.doorbells,
    busyPollUs: opts.busyPollUs,
  });
  try {
    const device = fuseDeviceOf(remote.driver, remote.memory);
    const type = new VirtiofsFileSystemType();
    const tag = opts.tag ?? remote.driver.tag;
    type.addDevice(device, tag);
    const vfs = new Vfs({ firstFd: 3 });
    const mountOpts: Record<string, string | boolean> = {};
    if (opts.dax) mountOpts.dax = opts.dax;
    if (opts.chunkSize) mountOpts['chunk-size'] = opts.chunkSize;
    if (opts.aggressive) mountOpts.aggressive = true;
    if (opts.requestTimeout !== undefined) mountOpts['request-timeout'] = opts.requestTimeout;
    Object.assign(mountOpts, opts.options);
    await vfs.mount(type, tag, '/', mountOpts);
    return {
      vfs, remote, device,
      async dax() { return (await connectionOf(device))?.dax ?? undefined; },
      async close() {
        try { await vfs.umount('/', 1 /* MNT_FORCE */); } finally { await remote.close(); }
      },
    };
  } catch (err) {
    await remote.close();
    throw err;
  }
}
