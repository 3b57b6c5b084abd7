// A guest mounting a share: connect to a device model over the wire, bring
// the virtio-fs device up, and mount it at / of a fresh VFS. What the shell,
// `npm start`, the harness and the bench all begin with. When the device
// model goes away, that is said once; the failures that follow from it (the
// FORGETs, REMOVEMAPPINGs and DESTROY of the unmount) are not.

import * as fs from 'node:fs';
import { Errno, ErrnoError, type Log } from '../../core';
import { Vfs } from '../../core/vfs';
import { connectVirtioFs, type RemoteVirtioFs } from '../../drivers/virtio-fs/index.node';
import { connectionOf, type FuseDevice, fuseDeviceOf, VirtiofsFileSystemType } from '../../fs/virtiofs';
import type { DaxManager } from '../../fs/virtiofs/dax';
import { connectError } from '../common/errors';
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
  /** Where the layers' background failures go (default: stderr, "virtiofs: ..."). */
  log?: Log;
  /** Told once when the device model ends the connection (default: one line on stderr). */
  onLost?: (reason: Error) => void;
}

export interface GuestMount {
  readonly vfs: Vfs;
  readonly remote: RemoteVirtioFs;
  readonly device: FuseDevice;
  /** The device's DAX window manager (shared by every mount of it), if any. */
  dax(): Promise<DaxManager | undefined>;
  /** Why the device model ended the connection, if it did. */
  lost(): Error | undefined;
  close(): Promise<void>;
}

const stderrLog: Log = (m) => { process.stderr.write(`${m}\n`); };

/** "device model closed the connection: device said goodbye (0): SIGTERM" */
export function lostMessage(reason: Error): string {
  const why = reason.message.replace(/^EIO: /, '').replace(/^wire: /, '');
  return `device model closed the connection: ${why}`;
}

export function resolveToken(opts: Pick<MountOptions, 'connect' | 'token' | 'tokenFile'>): string | undefined {
  if (opts.token) return opts.token;
  const file = opts.tokenFile ?? defaultTokenFile(opts.connect);
  if (opts.tokenFile || fs.existsSync(file)) return readTokenFile(file);
  return undefined; // a device model without a token (unix socket, loopback)
}

export async function mountShare(opts: MountOptions): Promise<GuestMount> {
  const out = opts.log ?? stderrLog;
  let lost: Error | undefined;
  let closing = false;
  // Once the transport is closed every background failure is a consequence: not told.
  let remote: RemoteVirtioFs | undefined;
  const log: Log = (m) => { if (!lost && !remote?.transport.closed) out(m); };
  try {
    remote = await connectVirtioFs(opts.connect, {
      token: resolveToken(opts), timeoutMs: opts.timeoutMs, requestQueues: opts.requestQueues, logger: log,
      busyPollUs: opts.busyPollUs, doorbells: opts.doorbells,
    });
  } catch (err) {
    if (err instanceof ErrnoError && err.errno !== Errno.EINVAL) throw new ErrnoError(err.errno, connectError(opts.connect, err));
    throw err;
  }
  const r = remote;
  r.transport.onClose((reason) => {
    if (closing) return;
    lost = reason;
    if (opts.onLost) opts.onLost(reason); else out(`virtiofs: ${lostMessage(reason)}`);
  });
  try {
    const device = fuseDeviceOf(r.driver, r.memory);
    const type = new VirtiofsFileSystemType({ log });
    const tag = opts.tag ?? r.driver.tag;
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
      vfs, remote: r, device,
      async dax() { return (await connectionOf(device))?.dax ?? undefined; },
      lost: () => lost,
      async close() {
        closing = true;
        try { await vfs.umount('/', 1 /* MNT_FORCE */); } finally { await r.close(); }
      },
    };
  } catch (err) {
    closing = true;
    await r.close();
    throw err;
  }
}
