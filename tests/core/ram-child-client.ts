// The parent's end of ram-child.ts: spawn it on a RAM path and speak to it
// one line at a time.
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';

const ROOT = path.resolve(__dirname, '..', '..');
const REPLY_MS = 30_000;

export class RamChild {
  readonly proc: ChildProcess;
  private buf = '';
  private lines: string[] = [];
  private waiter: ((line: string) => void) | undefined;
  readonly exited: Promise<void>;

  /** `env`: added to this process's environment (e.g. VIRTIOFS_NO_ADDON). */
  constructor(file: string, env: Record<string, string | undefined> = {}) {
    this.proc = spawn(process.execPath, ['-r', 'ts-node/register', 'tests/core/ram-child.ts', file], {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.exited = new Promise((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
      if (this.waiter && this.lines.length) { const w = this.waiter; this.waiter = undefined; w(this.lines.shift()!); }
    });
  }

  next(): Promise<string> {
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => { clearTimeout(timer); reject(new Error(`child exited (${code})`)); };
      const timer = setTimeout(() => { this.proc.off('exit', onExit); reject(new Error('child did not answer')); }, REPLY_MS);
      this.proc.once('exit', onExit);
      this.waiter = (line) => { clearTimeout(timer); this.proc.off('exit', onExit); resolve(line); };
    });
  }

  async ask(cmd: string): Promise<string> {
    this.proc.stdin!.write(`${cmd}\n`);
    return this.next();
  }

  async end(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}
