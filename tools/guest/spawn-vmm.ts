// Start virtiofs-vmm as a child process and wait for its address line. From
// a checkout it runs tools/vmm/main.ts under ts-node; from a build, the
// bundle dist/virtiofs-vmm.js of the package. The caller stops it (stop()
// sends SIGTERM, then SIGKILL). It runs in a process group of its own, so a
// terminal's Ctrl-C reaches only the caller, which ends it in order; and it
// exits by itself if the caller dies without doing so.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../common/version';

export interface VmmChild {
  readonly child: ChildProcess;
  /** tcp:HOST:PORT or unix:PATH, ready for --connect. */
  readonly address: string;
  readonly token: string;
  stderr(): string;
  /** SIGTERM, wait (SIGKILL after 10 s); resolves with the exit code. */
  stop(): Promise<number | null>;
}

function command(): string[] {
  if (!__filename.endsWith('.ts')) {
    // The bundle beside this one (dist/virtiofs.js), or the package's (the compiled library).
    const root = packageRoot(__dirname);
    for (const f of [path.join(__dirname, 'virtiofs-vmm.js'), root && path.join(root, 'dist', 'virtiofs-vmm.js')]) {
      if (f && fs.existsSync(f)) return [f];
    }
  }
  return ['-r', 'ts-node/register', path.resolve(__dirname, '../vmm/main.ts')];
}

/** Long enough for ts-node to start on a 2-CPU machine running other test
 *  suites (30 s was not, at a load average of 30); a hung start still ends. */
export const SPAWN_TIMEOUT_MS = 120_000;

export function spawnVmm(args: string[], timeoutMs = SPAWN_TIMEOUT_MS): Promise<VmmChild> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'virtiofs-token-'));
  const tokenFile = path.join(dir, 'token');
  const child = spawn(process.execPath, [...command(), '--token-file', tokenFile, ...args], {
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', VIRTIOFS_EXIT_WITH_PARENT: '1' },
    stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; if (err.length > 65536) err = err.slice(-32768); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string) => { clearTimeout(timer); child.kill('SIGKILL'); cleanup(); reject(new Error(`virtiofs-vmm ${why}\n${err}`)); };
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    const early = (code: number | null) => fail(`exited with status ${code}`);
    child.once('exit', early);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /virtiofs-vmm listening on (\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', early);
      resolve({
        child,
        address: m[1].replace('://', ':'),
        token: fs.readFileSync(tokenFile, 'utf8').trim(),
        stderr: () => err,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 10000);
          const code = await exited;
          clearTimeout(t);
          cleanup();
          return code;
        },
      });
    });
  });
}
