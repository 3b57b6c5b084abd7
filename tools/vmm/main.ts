// virtiofs-vmm: a virtio-fs device as QEMU presents it, served over TCP or a
// unix socket. Each guest connection gets its own device: guest RAM in a
// /dev/shm file, the DAX window, and a backend (passthrough: FUSE answered
// here; vhost-user: the real virtiofsd). Prints one line when ready:
//   virtiofs-vmm listening on tcp://HOST:PORT
// and shuts down cleanly on SIGINT/SIGTERM (and when npm's wrapper that
// started it goes). Errors are one line naming the fix: exit 2 for what the
// command line names, checked before anything listens; 1 for the rest.

import * as fs from 'node:fs';
import { describeError, listenError, usageFromParseArgs } from '../common/errors';
import { defaultTokenFile, newToken, readTokenFile, writeTokenFile } from '../common/token';
import { versionLine } from '../common/version';
import { DeviceInstance } from './instance';
import { mountForKernel, type KernelShare } from './kernel-mount';
import { checkHost, parseVmmArgs, USAGE, UsageError, wantsVersion, type VmmOptions } from './options';
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
      window: instance.device.window ?? null,
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
  if (wantsVersion(argv)) { process.stdout.write(`${versionLine('virtiofs-vmm')}\n`); return 0; }
  let opts: VmmOptions | undefined;
  try {
    opts = parseVmmArgs(argv);
    if (opts) checkHost(opts);
  } catch (err) {
    const e = usageFromParseArgs(err);
    if (e instanceof UsageError) { log(`${e.message} (virtiofs-vmm --help lists the options)`); return 2; }
    throw e;
  }
  if (!opts) { process.stdout.write(`${USAGE}\n`); return 0; }
  if (opts.backend === 'vhost-user' && !opts.socketPath) {
    // Start the daemon once before listening: it must run with the arguments
    // given, and it bounds the request queues (virtiofsd offers one). Not with
    // --socket-path: that daemon serves one session, which the probe would take.
    let limit: number;
    try { limit = await vhostUserQueueLimit(opts); } catch (err) {
      log(`--virtiofsd ${opts.virtiofsd}: the daemon did not start with these arguments: ${describeError(err)}`);
      return 2;
    }
    if (opts.numRequestQueues > limit) {
      log(`--num-request-queues ${opts.numRequestQueues}: the daemon offers ${limit}; ask for at most ${limit}`);
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
  if (opts.tokenFile && !fs.existsSync(opts.tokenFile)) {
    // A named file is made before listening, so a place it cannot go is a usage error.
    try { writeTokenFile(opts.tokenFile, token); } catch (err) {
      if (err instanceof UsageError) { log(err.message); return 2; }
      log(`--token-file ${opts.tokenFile}: cannot create it (${(err as NodeJS.ErrnoException).code ?? describeError(err)}); name a file in a directory you can write`);
      return 2;
    }
    createdTokenFile = opts.tokenFile;
  }

  let kernel: KernelShare | undefined;
  if (opts.fuseMount) {
    try {
      kernel = mountForKernel(opts, log);
    } catch (err) {
      if (createdTokenFile) fs.rmSync(createdTokenFile, { force: true });
      log((err as Error).message);
      return 1;
    }
    log(`mounted the share on ${opts.fuseMount} (host kernel FUSE)`);
  }
  const devices: Devices = { live: new Set(), closing: new Set() };
  warnFdBudget(opts);
  let server: WireServer;
  try {
    server = await WireServer.listen({
      listen: opts.listen, token, createSession: sessionFor(opts, devices), log,
      maxGuests: opts.maxGuests, maxQueuedBytes: opts.maxQueuedBytes,
    });
  } catch (err) {
    if (createdTokenFile) fs.rmSync(createdTokenFile, { force: true });
    await kernel?.stop();
    log(listenError(opts.listen, err));
    return 1;
  }
  const address = server.address();
  const tokenFile = opts.tokenFile ?? defaultTokenFile(address);
  if (!opts.tokenFile) {
    try {
      writeTokenFile(tokenFile, token);
    } catch (err) {
      await server.close();
      await kernel?.stop();
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
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      log(`${why}: shutting down`);
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
    process.on('SIGHUP', () => stop('SIGHUP'));
    // Before the line too: a wrapper that goes at once must not be taken for init.
    watchParent(() => stop('the program that started it exited'));
  });
  process.stdout.write(`virtiofs-vmm listening on ${address}\n`);
  return done;
}

/**
 * npm (npx, npm run) starts a program through `sh -c`, and on SIGTERM the
 * shell dies without passing the signal on: the device model would run on,
 * orphaned. So under npm, or when the parent asks (VIRTIOFS_EXIT_WITH_PARENT=1,
 * as spawnVmm does), losing the parent is a shutdown. A device model started
 * from a shell and left running on purpose (nohup, &) is not watched.
 */
function watchParent(onGone: () => void): void {
  if (!process.env.npm_command && process.env.VIRTIOFS_EXIT_WITH_PARENT !== '1') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) { clearInterval(timer); onGone(); }
  }, 500);
  timer.unref();
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  log(describeError(err));
  process.exit(1);
});
