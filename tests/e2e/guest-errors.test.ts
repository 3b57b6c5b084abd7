// The guest's errors as a person meets them: one line, no stack trace; a
// refused connection asks whether the device model runs there; options are
// checked before connecting; and when the device model goes, that is said
// once, without the FORGET/REMOVEMAPPING/DESTROY failures that follow it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { O_RDONLY } from '../../core/vfs';
import { mountShare } from '../../tools/guest/mount';
import { program } from '../tools/programs';

const t = suite('guest errors');
const GUEST = program('virtiofs');
const VMM = program('virtiofs-vmm');
let dir = '';
const children: ChildProcess[] = [];

t.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guest-errors-'));
  fs.mkdirSync(path.join(dir, 'share'));
  fs.writeFileSync(path.join(dir, 'share', 'hello.txt'), 'hello\n');
  fs.writeFileSync(path.join(dir, 'share', 'big'), Buffer.alloc(3 << 20, 1));
});

t.after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Run { code: number | null; out: string; err: string }

function run(args: string[], input?: (child: ChildProcess, out: () => string, err: () => string) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [GUEST, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { err += d; });
    child.on('close', (code) => resolve({ code, out, err }));
    if (input) input(child, () => out, () => err); else child.stdin!.end();
  });
}

/** A device model (the bundle) on a unix socket in the test's directory. */
async function vmm(name: string): Promise<{ child: ChildProcess; address: string; tokenFile: string }> {
  const tokenFile = path.join(dir, `${name}.token`);
  const address = `unix:${path.join(dir, `${name}.sock`)}`;
  const child = spawn(process.execPath, [VMM, '--shared-dir', path.join(dir, 'share'), '--listen', address, '--token-file', tokenFile,
    '--cache-size', '16M', '--memory', '32M'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => { out += d; if (/listening on/.test(out)) resolve(); });
    child.on('exit', (code) => reject(new Error(`virtiofs-vmm exited with ${code}`)));
  });
  return { child, address, tokenFile };
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const oneLine = (r: Run, what: string): void => {
  assert.is(r.err.trim().split('\n').length, 1, `${what}: one line\n${r.err}`);
  assert.not.match(r.err, /\n\s+at |Error:/, `${what}: no stack trace`);
};

t('--version and -h, of virtiofs and of virtiofs start', async () => {
  const [v, h, sv, sh] = await Promise.all([run(['--version']), run(['-h']), run(['start', '--version']), run(['start', '-h'])]);
  assert.is(v.code, 0);
  assert.match(v.out, /^virtiofs \d+\.\d+\.\d+ \(virtiofs-dax, node v/);
  assert.is(h.code, 0);
  assert.match(h.out, /^usage: virtiofs /);
  assert.is(sv.code, 0, sv.err);
  assert.match(sv.out, /^virtiofs start \d+\.\d+\.\d+ \(virtiofs-dax, node v/);
  assert.is(sh.code, 0, sh.err);
  assert.match(sh.out, /^usage: virtiofs start /);
  assert.is(sv.err + sh.err, '');
});

t('a refused connection: exit 1, one line asking whether virtiofs-vmm runs there', async () => {
  const port = await closedPort();
  const r = await run(['--connect', `tcp:127.0.0.1:${port}`, 'ls', '/']);
  assert.is(r.code, 1);
  assert.match(r.err, new RegExp(`ECONNREFUSED.*is virtiofs-vmm running at tcp:127\\.0\\.0\\.1:${port}\\?`));
  oneLine(r, 'refused');
});

t('options are checked before connecting: exit 2, one line', async () => {
  const port = await closedPort();
  const cases: [string[], RegExp][] = [
    [['--connect', `tcp:127.0.0.1:${port}`, '--chunk-size', '1K', 'ls'], /--chunk-size 1K: a multiple of 4K/],
    [['--connect', `127.0.0.1:${port}`, 'ls'], /--connect 127\.0\.0\.1:\d+: write tcp:HOST:PORT or unix:PATH/],
    [['start', '--cache-size', '3M'], /--cache-size 3M: a power of two/],
  ];
  const runs = await Promise.all(cases.map(([a]) => run(a)));
  runs.forEach((r, i) => {
    assert.is(r.code, 2, `${cases[i]![0].join(' ')}: ${r.err}`);
    assert.match(r.err, cases[i]![1]);
    assert.not.match(r.err, /ECONNREFUSED/, 'never connected');
    oneLine(r, cases[i]![0].join(' '));
  });
});

t('the device model gone under a mount: said once; no FORGET, REMOVEMAPPING or DESTROY failures', async () => {
  const v = await vmm('inproc');
  const said: string[] = [];
  const m = await mountShare({ connect: v.address, tokenFile: v.tokenFile, dax: 'always', log: (l) => said.push(l) });
  for (const f of ['/hello.txt', '/big']) {
    const fd = await m.vfs.open(f, O_RDONLY);
    await m.vfs.read(fd, 1 << 20);
    await m.vfs.close(fd); // closed: their inodes stay cached, with lookups (FORGET) and mappings (REMOVEMAPPING) owed
  }
  const gone = new Promise<void>((resolve) => v.child.once('exit', () => resolve()));
  v.child.kill('SIGKILL');
  await gone;
  while (!m.lost()) await new Promise((r) => setTimeout(r, 20));
  await m.vfs.stat('/hello.txt').catch(() => undefined);
  await m.close().catch(() => undefined);
  assert.equal(said.map((l) => l.replace(/:.*/, '')), ['virtiofs'], said.join('\n'));
  assert.match(said[0]!, /^virtiofs: device model closed the connection: /);
});

t('the program: the shell after the device model went says so once', async () => {
  const v = await vmm('shell');
  const r = await run(['--connect', v.address, '--token-file', v.tokenFile, 'shell'], (child, out) => {
    child.stdin!.write('cat /hello.txt\n');
    const wait = setInterval(() => {
      if (!/hello\n/.test(out())) return;
      clearInterval(wait);
      // Whether the next command or the socket's close reaches the guest first, the loss is told once.
      v.child.once('exit', () => { child.stdin!.write('ls /\n'); child.stdin!.end(); });
      v.child.kill('SIGKILL');
    }, 20);
  });
  assert.is(r.code, 0, r.err);
  const lines = r.err.trim().split('\n');
  assert.is(lines.filter((l) => /device model closed the connection/.test(l)).length, 1, r.err);
  assert.not.match(r.err, /FORGET|REMOVEMAPPING|DESTROY|\n\s+at /, r.err);
});

t.run();
