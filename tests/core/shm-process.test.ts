import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { GuestMemory } from '../../core/memory';
import { ShmFileBacking } from '../../core/shm-file.node';

const ROOT = path.resolve(__dirname, '..', '..');
const REPLY_MS = 30_000;

function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 0xff;
  return a;
}

/** The child process, spoken to one line at a time. */
class Child {
  readonly proc: ChildProcess;
  private buf = '';
  private lines: string[] = [];
  private waiter: ((line: string) => void) | undefined;
  readonly exited: Promise<void>;

  constructor(file: string) {
    this.proc = spawn(process.execPath, ['-r', 'ts-node/register', 'tests/core/shm-child.ts', file], {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
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

const t = suite('shm file shared with a second process');

t('child writes, parent reads; parent writes, child reads', async () => {
  const SIZE = 1 << 20;
  const backing = ShmFileBacking.create(SIZE);
  const mem = new GuestMemory();
  mem.addRegion('ram', 0, backing);
  const child = new Child(backing.path);
  try {
    assert.is(await child.next(), 'ready');

    // child -> parent, through the same open file (no reopen on either side)
    assert.is(await child.ask('write 4096 5000 9'), 'ok');
    assert.equal(mem.read(4096, 5000), pattern(5000, 9));
    assert.is(await child.ask(`setu64 ${SIZE - 8} 18446744073709551615`), 'ok');
    assert.is(mem.u64(SIZE - 8), 0xffff_ffff_ffff_ffffn);

    // parent -> child
    const p = pattern(3000, 200);
    mem.write(0x8_0000, p);
    assert.is(await child.ask(`read ${0x8_0000} 3000`), Buffer.from(p).toString('hex'));
    mem.setU64(0x100, 0x1122_3344_5566_7788n);
    assert.is(await child.ask('u64 256'), String(0x1122_3344_5566_7788n));

    // the child's memory is bounds-checked too
    assert.match(await child.ask(`read ${SIZE - 2} 4`), /^error .*crosses/);
  } finally {
    await child.end();
    backing.close();
    backing.unlink();
  }
  assert.ok(child.proc.exitCode !== null || child.proc.signalCode !== null, 'child ended');
  assert.not.ok(fs.existsSync(backing.path), 'file removed');
});

t.run();
