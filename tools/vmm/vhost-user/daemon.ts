// Starts the real virtiofsd on a socket in a private temporary directory
// and keeps its exit status and the tail of its stderr for error reports.
// virtiofsd serves one front-end and exits when it goes; stop() still
// bounds the wait and SIGKILLs, so no daemon outlives its session.

import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VhostUserError } from './protocol';

export const VIRTIOFSD_PATH = '/usr/lib/qemu/virtiofsd';
const STDERR_TAIL = 4096;

export interface VirtiofsdOptions {
  /** The shared directory (`-o source=`). */
  source: string;
  /** Default /usr/lib/qemu/virtiofsd. */
  binary?: string;
  /** `-o cache=`; default none. */
  cache?: 'none' | 'auto' | 'always';
  /** More arguments, passed as given (e.g. ['-o', 'xattr', '--thread-pool-size=4']). */
  extraArgs?: readonly string[];
  /** Bound on the wait for the socket to appear; default 5000 ms. */
  startTimeoutMs?: number;
}

export class VirtiofsdProcess {
  private tail = '';
  private exitStatus: string | undefined;
  private readonly exited: Promise<string>;
  private readonly killOnExit = (): void => { this.child.kill('SIGKILL'); };

  private constructor(readonly child: ChildProcess, readonly dir: string, readonly socketPath: string) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      this.tail = (this.tail + s).slice(-STDERR_TAIL);
    });
    // 'close' (not 'exit'): stderr is fully read by then, so the tail is complete.
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exitStatus = signal ? `killed by ${signal}` : `exit status ${code}`;
        // The sandbox's parent reports a worker killed by the seccomp filter
        // as a bare status 1, with nothing on stderr: say where to look.
        if (code === 1 && this.tail.trim() === '') {
          this.exitStatus += ' (no message: a sandboxed thread may have been killed by the seccomp filter; see dmesg, audit type=1326)';
        }
        process.removeListener('exit', this.killOnExit);
        resolve(this.exitStatus);
      });
    });
    // A front-end that dies closes the socket and virtiofsd exits; this covers process.exit().
    process.on('exit', this.killOnExit);
  }

  /** Spawn and wait until the socket exists; on failure nothing is left behind. */
  static async start(o: VirtiofsdOptions): Promise<VirtiofsdProcess> {
    const binary = o.binary ?? VIRTIOFSD_PATH;
    if (!fs.existsSync(binary)) {
      throw new VhostUserError('spawn', `${binary} not found: install it with apt-get install -y qemu-system-common`);
    }
    const st = fs.statSync(o.source, { throwIfNoEntry: false });
    if (!st?.isDirectory()) throw new VhostUserError('spawn', `source ${o.source} is not a directory`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhost-user-'));
    fs.chmodSync(dir, 0o700);
    const socketPath = path.join(dir, 'virtiofsd.sock');
    const args = [`--socket-path=${socketPath}`, '-o', `source=${path.resolve(o.source)}`,
      '-o', `cache=${o.cache ?? 'none'}`, ...(o.extraArgs ?? [])];
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], env: virtiofsdEnv(process.env, os.availableParallelism()) });
    const d = new VirtiofsdProcess(child, dir, socketPath);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const limit = Date.now() + (o.startTimeoutMs ?? 5000);
    try {
      for (;;) {
        if (fs.existsSync(socketPath)) return d;
        const why = await within(Promise.race([d.exited, spawnError.then((e) => e.message)]), 10);
        if (why !== undefined) throw new VhostUserError('spawn', `virtiofsd did not start: ${why}${d.stderrSuffix()}`);
        if (Date.now() > limit) throw new VhostUserError('spawn', `virtiofsd: no socket after ${o.startTimeoutMs ?? 5000} ms${d.stderrSuffix()}`);
      }
    } catch (e) {
      await d.stop(500);
      throw e;
    }
  }

  get pid(): number | undefined { return this.child.pid; }
  /** undefined while running; "exit status N" or "killed by SIG" after. */
  get status(): string | undefined { return this.exitStatus; }
  get stderrTail(): string { return this.tail; }
  /** Resolves with the status once the process is gone and stderr is read. */
  get whenExited(): Promise<string> { return this.exited; }

  /** " (stderr: ...)" for messages, or "". */
  stderrSuffix(): string {
    const t = this.tail.trim();
    return t ? ` (stderr: ${t.slice(-800)})` : '';
  }

  /**
   * Wait up to `graceMs` for the exit the closed socket causes, then
   * SIGKILL; remove the private directory either way.
   */
  async stop(graceMs = 2000): Promise<string> {
    if (this.exitStatus === undefined) {
      if (await within(this.exited, graceMs) === undefined) {
        this.child.kill('SIGKILL');
        await within(this.exited, 5000);
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    return this.exitStatus ?? 'did not exit after SIGKILL';
  }
}

/**
 * The daemon's environment: ours, plus a fixed glibc malloc arena limit.
 * Without one, the first malloc that wants a new arena (a second worker of
 * --thread-pool-size allocating concurrently) asks glibc for the CPU count;
 * inside the sandbox /sys and /proc/stat are gone, so glibc falls back to
 * sched_getaffinity, which virtiofsd 7.2's seccomp filter does not allow: the
 * kernel kills the daemon (SIGSYS) mid-request and the session is lost. With
 * arena_max set glibc never counts CPUs. The value is glibc's own default
 * (8 arenas per CPU on 64-bit); a limit the caller already set is kept.
 */
export function virtiofsdEnv(env: NodeJS.ProcessEnv, cpus: number): NodeJS.ProcessEnv {
  const tunables = env.GLIBC_TUNABLES ?? '';
  if (env.MALLOC_ARENA_MAX !== undefined || /(^|:)glibc\.malloc\.arena_max=/.test(tunables)) return env;
  const arenaMax = `glibc.malloc.arena_max=${8 * Math.max(1, Math.floor(cpus) || 1)}`;
  return { ...env, GLIBC_TUNABLES: tunables ? `${tunables}:${arenaMax}` : arenaMax };
}

/** `p`'s value, or undefined after `ms`; the timer never outlives the race. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, ms, undefined); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
