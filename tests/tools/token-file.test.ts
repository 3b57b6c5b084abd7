// Token files are refused, as ssh refuses such key files, when group or
// others can read or write them or another user owns them; both programs
// exit 2 naming the fix. The generated one is 0600 in a 0700 directory.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { defaultTokenFile, readTokenFile, tokenDir, writeTokenFile } from '../../tools/common/token';
import { UsageError } from '../../tools/common/usage';

const t = suite('token files');
const root = path.resolve(__dirname, '../..');
let dir = '';
t.before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokfile-')); });
t.after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function refusedWith(f: () => unknown, re: RegExp): void {
  try { f(); } catch (e) { assert.instance(e, UsageError); assert.match((e as Error).message, re); return; }
  assert.unreachable('accepted');
}

t('readable or writable by group or others: refused with the chmod fix', () => {
  const f = path.join(dir, 'loose');
  fs.writeFileSync(f, 'secret\n');
  for (const [mode, who] of [[0o644, 'group and others'], [0o640, 'group'], [0o602, 'others'], [0o620, 'group']] as const) {
    fs.chmodSync(f, mode);
    refusedWith(() => readTokenFile(f), new RegExp(`accessible by ${who} \\(mode 0${mode.toString(8)}\\): chmod 600 ${f}`));
  }
  fs.chmodSync(f, 0o600);
  assert.is(readTokenFile(f), 'secret');
  fs.chmodSync(f, 0o400);
  assert.is(readTokenFile(f), 'secret');
});

t('owned by another user, a symlink, or not a regular file: refused', () => {
  const f = path.join(dir, 'theirs');
  fs.writeFileSync(f, 'secret\n', { mode: 0o600 });
  if (process.geteuid?.() === 0) {
    fs.chownSync(f, 4242, 4242);
    refusedWith(() => readTokenFile(f), /owned by uid 4242, not by you/);
  }
  const g = path.join(dir, 'mine');
  fs.writeFileSync(g, 'secret\n', { mode: 0o600 });
  fs.symlinkSync(g, path.join(dir, 'link'));
  refusedWith(() => readTokenFile(path.join(dir, 'link')), /ELOOP/);
  refusedWith(() => readTokenFile(dir), /not a regular file/);
});

t('the generated token: 0600 in a 0700 directory of our own; a loose or foreign directory is refused', () => {
  const saved = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = dir;
  try {
    const file = defaultTokenFile('tcp:127.0.0.1:7777');
    assert.is(path.dirname(file), tokenDir());
    writeTokenFile(file, 'abc');
    assert.is(fs.statSync(file).mode & 0o777, 0o600);
    assert.is(fs.statSync(tokenDir()).mode & 0o777, 0o700);
    assert.is(readTokenFile(file), 'abc');
    fs.chmodSync(tokenDir(), 0o755);
    refusedWith(() => writeTokenFile(file, 'abc'), /refusing to write the token: .* \(mode 0755\): chmod 700/);
    if (process.geteuid?.() === 0) {
      fs.chmodSync(tokenDir(), 0o700);
      fs.chownSync(tokenDir(), 4242, 4242);
      refusedWith(() => writeTokenFile(file, 'abc'), /owned by uid 4242/);
    }
  } finally {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR; else process.env.XDG_RUNTIME_DIR = saved;
  }
});

t('both programs exit 2 with the fix for a loose token file', () => {
  const f = path.join(dir, 'cli-token');
  fs.writeFileSync(f, 'secret\n', { mode: 0o644 });
  fs.chmodSync(f, 0o644);
  const env = { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' };
  const vmm = spawnSync(process.execPath, ['-r', 'ts-node/register', path.join(root, 'tools/vmm/main.ts'),
    '--shared-dir', dir, '--token-file', f], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  assert.is(vmm.status, 2, vmm.stderr);
  assert.match(vmm.stderr, new RegExp(`chmod 600 ${f}`));
  const guest = spawnSync(process.execPath, ['-r', 'ts-node/register', path.join(root, 'tools/guest/main.ts'),
    '--connect', 'tcp:127.0.0.1:1', '--token-file', f, 'ls', '/'], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  assert.is(guest.status, 2, guest.stderr);
  assert.match(guest.stderr, new RegExp(`chmod 600 ${f}`));
});

t.run();
