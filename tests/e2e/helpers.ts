// End-to-end helpers: a virtiofs-vmm child process on a temporary tree, and
// a guest in this process connected to it over TCP.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

export interface VmmProcess {
  child: ChildProcess;
  address: string;
  token: string;
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Start tools/vmm/main.ts with `args`; resolves once it prints its address. */
export function startVmm(args: string[], timeoutMs = 20000): Promise<VmmProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-token-'));
  const tokenFile = path.join(dir, 'token');
  const child = spawn(process.execPath, ['-r', 'ts-node/register', path.join(ROOT, 'tools/vmm/main.ts'),
    '--token-file', tokenFile, ...args], {
    cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`vmm did not start in ${timeoutMs} ms: ${err}`)); }, timeoutMs);
    const early = (code: number | null) => { clearTimeout(timer); reject(new Error(`vmm exited with ${code}: ${err}`)); };
    child.once('exit', early);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /virtiofs-vmm listening on (\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', early);
      const address = m[1].replace('tcp://', 'tcp:').replace('unix://', 'unix:');
      resolve({
        child, address, token: fs.readFileSync(tokenFile, 'utf8').trim(), stderr: () => err,
        async stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          const t = setTimeout(() => child.kill('SIGKILL'), 10000);
          const code = await exited;
          clearTimeout(t);
          fs.rmSync(dir, { recursive: true, force: true });
          return code;
        },
      });
    });
  });
}

/** Deterministic file contents: byte i is a mix of i and the seed. */
export function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}
