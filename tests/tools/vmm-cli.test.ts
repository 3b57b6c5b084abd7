// virtiofs-vmm as a program: --help, usage errors, Ctrl-C.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const t = suite('virtiofs-vmm program');
const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'tools/vmm/main.ts');
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
    assert.is(code, 0);
    assert.not.ok(fs.existsSync(tokenFile!), 'token file removed');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
