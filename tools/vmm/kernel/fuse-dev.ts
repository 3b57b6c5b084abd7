// The host kernel as a second FUSE client: /dev/fuse opened, mounted with
// mount(8) (fd=N, rootmode, default_permissions, allow_other), and served
// by the same FUSE server the guests get. One request per read of the
// device, one reply per write; FORGET, BATCH_FORGET and INTERRUPT take no
// reply. Reads block, so they run in a worker thread of their own (a read
// in libuv's pool would hold a pool thread until the next request, and
// enough of them deadlock every other pool user); replies are written from
// the main thread, which never blocks on /dev/fuse.

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Answers one request: the whole reply, or null for none. */
export type KernelFuseHandler = (request: Uint8Array) => Promise<Uint8Array | null>;

export interface KernelMountOptions {
  /** The directory to mount on. */
  mountpoint: string;
  /** fs name shown in /proc/mounts (the "device"). */
  source?: string;
  /** Largest write the server announces in INIT; the read buffer must hold it. */
  maxWrite: number;
  log: (message: string) => void;
}

/** Runs inside the reader thread: blocking reads, each request posted whole. */
const READER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { fd, size } = workerData;
for (;;) {
  const buf = Buffer.allocUnsafe(size);
  let n;
  try {
    n = fs.readSync(fd, buf, 0, size, null);
  } catch (e) {
    if (e.code === 'EINTR' || e.code === 'EAGAIN' || e.code === 'ENOENT') continue;
    parentPort.postMessage({ end: e.code || String(e) });
    break;
  }
  parentPort.postMessage({ bytes: buf.buffer, n }, [buf.buffer]);
}
`;

/** mount(8) with -i: never a mount.fuse helper (fuse3 installs one). */
function mountFuse(fd: number, o: KernelMountOptions): void {
  const opts = [`fd=3`, 'rootmode=40000', 'user_id=0', 'group_id=0', 'default_permissions', 'allow_other',
    `max_read=${o.maxWrite}`].join(',');
  const r = spawnSync('mount', ['-i', '-t', 'fuse', '-o', opts, o.source ?? 'virtiofs-vmm', o.mountpoint], {
    stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8',
  });
  if (r.error) throw new Error(`mount: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`mount -t fuse on ${o.mountpoint}: ${(r.stderr || r.stdout).trim() || `exit ${r.status}`}`);
}

/** Is anything mounted at this path (per /proc/self/mounts)? */
export function isMounted(mountpoint: string): boolean {
  const real = fs.realpathSync(mountpoint);
  const escaped = real.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === escaped);
}

/**
 * A watcher that unmounts `mountpoint` when this process is gone however it
 * went (SIGKILL included): it waits on a pipe whose only writer is us, and
 * its read ends when we do. Its own process group keeps a terminal's
 * Ctrl-C from reaching it.
 */
function unmountWatcher(mountpoint: string): ChildProcess {
  const child = spawn('/bin/sh', ['-c', 'read _ ; exec umount -l -- "$0" 2>/dev/null', mountpoint], {
    stdio: ['pipe', 'ignore', 'ignore'], detached: true,
  });
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  child.on('error', () => undefined);
  return child;
}

export class KernelFuseMount {
  private readonly reader: Worker;
  private readonly watcher: ChildProcess;
  private stopped = false;
  private readonly ended: Promise<void>;
  private readonly inflight = new Set<Promise<void>>();

  private constructor(private readonly fd: number, private readonly opts: KernelMountOptions, handler: KernelFuseHandler) {
    // The kernel refuses reads shorter than a WRITE request of max_write.
    const size = Math.max(8192, opts.maxWrite + 4096);
    this.watcher = unmountWatcher(opts.mountpoint);
    this.reader = new Worker(READER, { eval: true, workerData: { fd, size } });
    this.reader.unref();
    this.ended = new Promise<void>((resolve) => {
      this.reader.on('message', (m: { bytes?: ArrayBuffer; n?: number; end?: string }) => {
        if (m.end !== undefined) {
          if (!this.stopped && m.end !== 'ENODEV') opts.log(`/dev/fuse: read failed: ${m.end}`);
          return;
        }
        const req = new Uint8Array(m.bytes!, 0, m.n!);
        const p = handler(req).then((reply) => { if (reply) this.reply(reply); }, (e) => {
          opts.log(`kernel FUSE request failed: ${(e as Error).message}`);
        });
        this.inflight.add(p);
        void p.finally(() => this.inflight.delete(p));
      });
      this.reader.on('error', (e) => opts.log(`/dev/fuse reader: ${e.message}`));
      this.reader.on('exit', () => resolve());
    });
  }

  /** Opens /dev/fuse, mounts it on opts.mountpoint and serves requests with handler. */
  static start(opts: KernelMountOptions, handler: KernelFuseHandler): KernelFuseMount {
    const st = fs.statSync(opts.mountpoint, { throwIfNoEntry: false });
    if (!st?.isDirectory()) throw new Error(`--fuse-mount ${opts.mountpoint}: not a directory`);
    const fd = fs.openSync('/dev/fuse', 'r+');
    try {
      mountFuse(fd, opts);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    return new KernelFuseMount(fd, opts, handler);
  }

  private reply(bytes: Uint8Array): void {
    if (this.stopped) return;
    try {
      fs.writeSync(this.fd, bytes);
    } catch (e) {
      const code = (e as { code?: string }).code;
      // ENOENT: the request was interrupted or aborted meanwhile.
      if (code !== 'ENOENT' && code !== 'ENODEV') this.opts.log(`/dev/fuse: reply failed: ${code ?? String(e)}`);
    }
  }

  /** Unmounts (lazily, so busy files do not keep it), ends the reader, closes /dev/fuse. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const r = spawnSync('umount', ['-l', this.opts.mountpoint], { encoding: 'utf8' });
    if (r.status !== 0) this.opts.log(`umount -l ${this.opts.mountpoint}: ${(r.stderr || '').trim() || `exit ${r.status}`}`);
    // The unmount ends the connection: the blocked read fails with ENODEV.
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
    await Promise.race([this.ended, timeout]);
    await this.reader.terminate();
    await Promise.all([...this.inflight]);
    try { fs.closeSync(this.fd); } catch { /* closed */ }
    this.watcher.stdin?.destroy(); // the watcher's umount now finds nothing mounted
  }
}
