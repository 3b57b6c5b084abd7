// virtiofs-vmm: a virtio-fs device as QEMU presents it, served over TCP or a
// unix socket. Each guest connection gets its own device: guest RAM in a
// /dev/shm file, the DAX window, and a backend (passthrough: FUSE answered
// here; vhost-user: the real virtiofsd). Prints one line when ready:
//   virtiofs-vmm listening on tcp://HOST:PORT
// and shuts down cleanly on SIGINT/SIGTERM.

import * as fs from 'node:fs';
import { defaultTokenFile, newToken, readTokenFile, writeTokenFile } from '../common/token';
import { DeviceInstance } from './instance';
import { mountForKernel, type KernelShare } from './kernel-mount';
import { parseVmmArgs, USAGE, UsageError, type VmmOptions } from './options';
import { startFrontend, vhostUserBackend, vhostUserQueueLimit } from './backends';
import { WireServer, type DeviceLink, type DeviceSession } from './wire-server';

const log = (m: string) => process.stderr.write(`virtiofs-vmm: ${m}\n`);

/** Live devices, and the closes of devices whose guest went (awaited at shutdown). */
interface Devices { live: Set<DeviceInstance>; closing: Set<Promise<void>> }

function sessionFor(opts: VmmOptions, devices: Devices) {
  return async (link: DeviceLink): Promise<DeviceSession> => {
    const frontend = opts.backend === 'vhost-user' ? await startFrontend(opts) : undefined;
    let instance: DeviceInstance;
    try {
      frontend?.checkRequestQueues(opts.numRequestQueues);
      instance = DeviceInstance.create({
        sharedDir: opts.sharedDir, tag: opts.tag, cacheSize: opts.cacheSize, queueSize: opts.queueSize,
        numRequestQueues: opts.numRequestQueues, memory: opts.memory, daxPolicy: opts.daxPolicy,
        readonly: opts.readonly, logger: log,
        backend: frontend && vhostUserBackend(frontend, opts.doorbells === false ? undefined : link),
        caps: { maxHandles: opts.maxOpenFiles, maxInodes: opts.maxInodes, maxRequests: opts.maxRequests },
      }, { ram: 'shm', link });
    } catch (err) {
      await frontend?.close();
      throw err;
    }
    frontend?.onLost((reason) => log(`guest ${link.peer}: virtiofsd lost: ${reason}`));
    devices.live.add(instance);
    const regs = instance.device.registers;
    regs.setInterruptHandler(() => link.interrupt(regs.interruptStatus));
    // QueueNotify register frames per queue, logged at the end: with doorbells a request queue has none.
    const notifies = new Map<number, number>();
    log(`guest ${link.peer} connected`);
    return {
      ram: { path: instance.ramPath, base: 0, size: opts.memory },
      window: instance.window ? { base: instance.device.window!.base, size: instance.window.size } : null,
      readRegister: (offset, width) => regs.read(offset, width),
      writeRegister: (offset, width, value) => regs.write(offset, width, value),
      notify: (queue) => { notifies.set(queue, (notifies.get(queue) ?? 0) + 1); regs.write(0x050, 4, queue); },
      close: (reason) => {
        const counts = [...notifies].sort((a, b) => a[0] - b[0]).map(([q, n]) => `${q}=${n}`).join(' ') || 'none';
        log(`guest ${link.peer} gone: ${reason.message} (QueueNotify frames by queue: ${counts})`);
        devices.live.delete(instance);
        const done: Promise<void> = instance.close()
          .catch((err) => { log(`closing the device of ${link.peer}: ${(err as Error).message}`); })
          .finally(() => { devices.closing.delete(done); });
        devices.closing.add(done);
      },
    };
  };
}

/** Descriptors a session may hold: its handles, the directory cache (256),
 *  RAM, window mappings and sockets (a margin). */
const FDS_PER_SESSION_BESIDES_HANDLES = 256 + 64;

/** Say so when the caps let the guests together run the vmm out of fds. */
function warnFdBudget(opts: VmmOptions): void {
  let soft = Infinity;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (m && m[1] !== 'unlimited') soft = Number(m[1]);
  } catch { return; }
  const need = opts.maxGuests * (opts.maxOpenFiles + FDS_PER_SESSION_BESIDES_HANDLES) + 64;
  if (need > soft) {
    log(`warning: --max-guests ${opts.maxGuests} x (--max-open-files ${opts.maxOpenFiles} + ${FDS_PER_SESSION_BESIDES_HANDLES}) `
      + `needs ${need} descriptors, RLIMIT_NOFILE is ${soft}: guests together may exhaust them (ulimit -n, or lower the caps)`);
  }
}

async function main(argv: string[]): Promise<number> {
  let opts: VmmOptions | undefined;
  try {
    opts = parseVmmArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) { process.stderr.write(`virtiofs-vmm: ${err.message}\n\n${USAGE}\n`); return 2; }
    throw err;
  }
  if (!opts) { process.stdout.write(`${USAGE}\n`); return 0; }
  if (opts.backend === 'passthrough' || !opts.socketPath) {
    const st = fs.statSync(opts.sharedDir, { throwIfNoEntry: false });
    if (!st?.isDirectory()) { log(`--shared-dir ${opts.sharedDir}: not a directory`); return 2; }
  }
  if (opts.backend === 'vhost-user' && !opts.socketPath) {
    // The daemon bounds the request queues (virtiofsd offers one); a daemon
    // of our own answers that. One someone else started serves a single
    // session: its count comes from the guest's own session (sessionFor).
    const limit = await vhostUserQueueLimit(opts);
    if (opts.numRequestQueues > limit) {
      log(`--num-request-queues ${opts.numRequestQueues}: the daemon offers ${limit}`);
      return 2;
    }
  }

  let token: string;
  let createdTokenFile: string | undefined;
  try {
    if (opts.tokenFile && fs.existsSync(opts.tokenFile)) token = readTokenFile(opts.tokenFile);
    else token = newToken();
  } catch (err) {
    if (err instanceof UsageError) { log(err.message); return 2; }
    throw err;
  }

  let kernel: KernelShare | undefined;
  if (opts.fuseMount) {
    try {
      kernel = mountForKernel(opts, log);
    } catch (err) {
      log((err as Error).message);
      return 1;
    }
    log(`mounted the share on ${opts.fuseMount} (host kernel FUSE)`);
  }
  const devices: Devices = { live: new Set(), closing: new Set() };
  warnFdBudget(opts);
  const server = await WireServer.listen({
    listen: opts.listen, token, createSession: sessionFor(opts, devices), log,
    maxGuests: opts.maxGuests, maxQueuedBytes: opts.maxQueuedBytes,
  });
  const address = server.address();
  const tokenFile = opts.tokenFile ?? defaultTokenFile(address);
  if (!opts.tokenFile || !fs.existsSync(tokenFile)) {
    try {
      writeTokenFile(tokenFile, token);
    } catch (err) {
      await server.close();
      if (err instanceof UsageError) { log(err.message); return 2; }
      throw err;
    }
    createdTokenFile = tokenFile;
  }
  log(`access token in ${tokenFile}`);

  // The handlers first, then the line: whoever reads it may signal at once
  // (before them SIGINT's default action would kill the process).
  const done = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: shutting down`);
      void (async () => {
        await kernel?.stop();
        await server.close();
        await Promise.all([...devices.live].map((i) => i.close()));
        await Promise.all([...devices.closing]);
        if (createdTokenFile) fs.rmSync(createdTokenFile, { force: true });
        resolve(0);
      })();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  process.stdout.write(`virtiofs-vmm listening on ${address}\n`);
  return done;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  log(`fatal: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
