// Start virtiofs-vmm as a child process and wait for its address line. From
// a checkout it runs tools/vmm/main.ts under ts-node; from dist/ the bundle
// beside this one. The caller stops it (stop() sends SIGTERM, then SIGKILL).

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

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
  const bundled = path.join(__dirname, 'virtiofs-vmm.js');
  if (!__filename.endsWith('.ts') && fs.existsSync(bundled)) return [bundled];
  return ['-r', 'ts-node/register', path.resolve(__dirname, '../vmm/main.ts')];
}

/** Long enough for ts-node to start on a 2-CPU machine running other test
 *  suites (30 s was not, at a load average of 30); a hung start still ends. */
export const SPAWN_TIMEOUT_MS = 120_000;

export function spawnVmm(args: string[], timeoutMs = SPAWN_TIMEOUT_MS): Promise<VmmChild> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'virtiofs-token-'));
  const tokenFile = path.join(dir, 'token');
  const child = spawn(process.execPath, [...command(), '--token-file', tokenFile, ...args], {
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'],
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
