// virtiofs-vmm as a program: --help, --version, errors (one line naming the
// fix, no stack trace, exit 2 for what the command line names, checked
// before listening; 1 for a port in use), Ctrl-C, and the npm wrapper's
// SIGTERM.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { program } from './programs';

const t = suite('virtiofs-vmm program');
const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'tools/vmm/main.ts');
/** The bundle, for the tests that start many (ts-node takes seconds per start). */
const BUNDLE = program('virtiofs-vmm');
const env = { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' };

function vmm(args: string[]) {
  return spawnSync(process.execPath, ['-r', 'ts-node/register', MAIN, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
}

t('--help lists every option', () => {
  const r = vmm(['--help']);
  assert.is(r.status, 0);
  for (const o of ['--shared-dir', '--tag', '--listen', '--cache-size', '--queue-size', '--num-request-queues', '--memory',
    '--dax-policy', '--backend', '--virtiofsd', '--virtiofsd-arg', '--socket-path', '--token-file', '--readonly',
    '--max-guests', '--max-open-files', '--max-inodes', '--max-requests', '--max-queued-bytes']) {
    assert.ok(r.stdout.includes(o), o);
  }
  // The caps with their defaults.
  for (const d of [/--max-guests N .*\(default 8\)/, /--max-open-files N .*\(default 1024\)/, /--max-inodes N .*\(default 65536\)/,
    /--max-requests N .*\(default 256\)/, /--max-queued-bytes SIZE[\s\S]*\(default 1M, at least 64K\)/]) assert.match(r.stdout, d);
});

/** The program, asynchronously (several at once: each ts-node start takes seconds). */
function vmmAsync(args: string[], env2: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BUNDLE, ...args], { cwd: ROOT, env: { ...env, ...env2 }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), 60000);
    c.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

/** Starts the program and resolves once it listens. */
function listening(args: string[], env2: Record<string, string> = {}, wrapper?: string[]) {
  const argv = [BUNDLE, ...args];
  const child = wrapper
    ? spawn(wrapper[0]!, [...wrapper.slice(1), [process.execPath, ...argv].map((a) => `'${a}'`).join(' ') + '; true'], { cwd: ROOT, env: { ...env, ...env2 }, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { cwd: ROOT, env: { ...env, ...env2 }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${err}`)), 60000);
    child.stdout.on('data', (d) => { out += d; const m = /listening on (\S+)\n/.exec(out); if (m) { clearTimeout(timer); resolve(m[1]!); } });
    child.on('exit', () => { clearTimeout(timer); reject(new Error(`exited: ${err}`)); });
  });
  return { child, ready, err: () => err };
}

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

t('--version', () => {
  const r = vmm(['--version']);
  assert.is(r.status, 0);
  assert.match(r.stdout, /^virtiofs-vmm \d+\.\d+\.\d+ \(virtiofs-dax, node v\d+/);
});

t('every user error: one line naming the fix, no stack trace, checked before listening', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-err-'));
  try {
    const cases: [string[], number, RegExp][] = [
      [['--shared-dir', dir, '--cache-size', '3M'], 2, /--cache-size 3M: a power of two \(2M or 4M\), or 0/],
      [['--shared-dir', dir, '--listen', '127.0.0.1:5000'], 2, /--listen 127\.0\.0\.1:5000: write tcp:HOST:PORT or unix:PATH \(tcp:127\.0\.0\.1:5000\?\)/],
      [['--shared-dir', dir, '--backend', 'vhost-user', '--virtiofsd', path.join(dir, 'no-virtiofsd')], 2, /--virtiofsd .*no-virtiofsd: not found; install it \(apt-get install -y qemu-system-common\) or name another/],
      [['--shared-dir', dir, '--backend', 'vhost-user', '--socket-path', path.join(dir, 'no.sock')], 2, /--socket-path .*no\.sock: no such socket; start the daemon first/],
      [['--shared-dir', dir, '--token-file', dir], 2, /--token-file .*: cannot read it \(EISDIR\); name a file, not a directory/],
      [['--shared-dir', dir, '--listen', `unix:${dir}/no/such/dir/s`], 1, /the directory .* does not exist/],
      [['--shared-dir', dir, '--bogus'], 2, /unknown option --bogus/],
      [['--shared-dir', dir, '--listen'], 2, /--listen needs a value/],
    ];
    const runs = await Promise.all(cases.map(([argv]) => vmmAsync(argv)));
    runs.forEach((r, i) => {
      const [argv, status, re] = cases[i]!;
      const what = argv.slice(2).join(' ');
      assert.is(r.status, status, `${what}: exit ${status}\n${r.stderr}`);
      assert.match(r.stderr, re, what);
      assert.is(r.stderr.trim().split('\n').length, 1, `${what}: one line\n${r.stderr}`);
      assert.not.match(r.stderr, /\n\s+at |Error:/, `${what}: no stack trace`);
      assert.not.match(r.stdout, /listening/, `${what}: refused before listening`);
    });
    // vhost-user needs tools/native (its unix socket calls): refused, the fix named, when it is off.
    const off = await vmmAsync(['--shared-dir', dir, '--backend', 'vhost-user'], { VIRTIOFS_NO_ADDON: '1' });
    assert.is(off.status, 2, off.stderr);
    assert.match(off.stderr, /^virtiofs-vmm: --backend vhost-user: the vhost-user backend needs the project's native addon \(tools\/native\), disabled here: VIRTIOFS_NO_ADDON is set; unset it/);
    assert.is(off.stderr.trim().split('\n').length, 1, off.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('a port in use: one line, exit 1', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-port-'));
  const first = listening(['--shared-dir', dir]);
  try {
    const address = await first.ready;
    const r = await vmmAsync(['--shared-dir', dir, '--listen', address.replace('://', ':')]);
    assert.is(r.status, 1);
    assert.match(r.stderr, /: the port is in use \(EADDRINUSE\); stop what listens there or choose another port \(port 0 picks a free one\)\n$/);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  } finally {
    first.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('run through npm (sh -c): SIGTERM to the wrapper ends the device model too', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-npx-'));
  // As npx runs a bin: sh -c 'virtiofs-vmm ...', npm_command in the environment.
  const run = listening(['--shared-dir', dir], { npm_command: 'exec' }, ['sh', '-c']);
  try {
    await run.ready;
    const vmmPid = Number(fs.readFileSync('/proc/' + run.child.pid + '/task/' + run.child.pid + '/children', 'utf8').trim().split(/\s+/)[0]);
    assert.ok(vmmPid > 0 && alive(vmmPid), 'the device model runs under the shell');
    run.child.kill('SIGTERM');
    for (let i = 0; i < 200 && alive(vmmPid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.not.ok(alive(vmmPid), 'the device model went with its wrapper');
  } finally {
    run.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('usage errors exit 2 with a reason', () => {
  let r = vmm([]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--shared-dir DIR is required/);
  r = vmm(['--shared-dir', '/nonexistent-dir-for-test']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /not a directory/);
  r = vmm(['--shared-dir', '/tmp', '--cache-size', 'lots']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--cache-size/);
});

t('Ctrl-C (SIGINT): exits 0, removes the token file it created', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-cli-'));
  const child = spawn(process.execPath, ['-r', 'ts-node/register', MAIN, '--shared-dir', dir], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line: ${err}`)), 120_000);
      child.stdout.on('data', (d) => { out += d; if (/listening on tcp:\/\/127\.0\.0\.1:\d+\n/.test(out)) { clearTimeout(timer); resolve(); } });
    });
    const tokenFile = /access token in (\S+)/.exec(err)?.[1];
    assert.ok(tokenFile && fs.existsSync(tokenFile), 'says where the token is');
    assert.is(fs.statSync(tokenFile!).mode & 0o777, 0o600);
    const code = await new Promise<number | null>((resolve) => { child.once('exit', (c) => resolve(c)); child.kill('SIGINT'); });
    assert.is(code, 0, err);
    assert.not.ok(fs.existsSync(tokenFile!), 'token file removed');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
