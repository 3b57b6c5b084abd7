// The shell's write commands against a spawned virtiofs-vmm: put, get,
// mkdir -p, rm -r, rmdir, mv, ln [-s], chmod, chown, truncate -s, touch, in
// one process through runLine, and `put -` / `get - ` as the real program.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ShellContext } from '../../tools/guest/commands';
import { mountShare, type GuestMount } from '../../tools/guest/mount';
import { runLine } from '../../tools/guest/shell';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';

const t = suite('guest write commands end to end');
const root = path.resolve(__dirname, '../..');
let dir = '';
let share = '';
let vmm: VmmChild | undefined;
let m: GuestMount | undefined;

t.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guest-cli-write-'));
  share = path.join(dir, 'share');
  fs.mkdirSync(share);
  vmm = await spawnVmm(['--shared-dir', share, '--cache-size', '8M', '--memory', '32M']);
  m = await mountShare({ connect: vmm.address, token: vmm.token });
});

t.after(async () => {
  await m?.close();
  await vmm?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function line(text: string, json = false): Promise<{ out: string; errs: string[]; failed: number }> {
  const parts: string[] = [];
  const errs: string[] = [];
  const ctx: ShellContext = {
    vfs: m!.vfs, tag: 'myfs', windowSize: 0, dax: () => m!.dax(), json, cwd: '/',
    out: { write: (c) => { parts.push(typeof c === 'string' ? c : Buffer.from(c).toString()); } }, names: new Map(),
  };
  const failed = await runLine(ctx, text, (e) => errs.push(e));
  return { out: parts.join(''), errs, failed };
}

t('put and get copy bytes both ways; the namespace commands change the host directory', async () => {
  const local = path.join(dir, 'local.bin');
  const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 13) & 0xff));
  fs.writeFileSync(local, bytes);
  let r = await line(`put ${local} /in.bin; mkdir -p /a/b/c; mv /in.bin /a/b; ln -s b/in.bin /a/l; ln /a/b/in.bin /hard`);
  assert.is(r.failed, 0, r.errs.join('\n'));
  assert.ok(fs.readFileSync(path.join(share, 'a/b/in.bin')).equals(bytes));
  assert.is(fs.readlinkSync(path.join(share, 'a/l')), 'b/in.bin');
  assert.is(fs.statSync(path.join(share, 'hard')).nlink, 2);
  const back = path.join(dir, 'back.bin');
  r = await line(`get /a/l ${back}; chmod 640 /hard; chown 12:34 /hard; truncate -s 10 /hard; touch /new /hard`);
  assert.is(r.failed, 0, r.errs.join('\n'));
  assert.ok(fs.readFileSync(back).equals(bytes), 'get follows the link');
  const st = fs.statSync(path.join(share, 'hard'));
  assert.equal([st.mode & 0o777, st.uid, st.gid, st.size], [0o640, 12, 34, 10]);
  assert.ok(fs.existsSync(path.join(share, 'new')), 'touch creates');
  r = await line('truncate -s 5 /made; rmdir /a/b/c; rm /new; rm -r /a; rm /hard /made');
  assert.is(r.failed, 0, r.errs.join('\n'));
  assert.equal(fs.readdirSync(share), []);
});

t('errors in the shell style: the errno name, the rest of the line still runs', async () => {
  const r = await line('mkdir /d; mkdir /d; rmdir /nope; rm /d; mv /x /y; ln -s; mkdir /d/e');
  assert.equal(r.errs, [
    'virtiofs: mkdir /d: EEXIST', 'virtiofs: rmdir /nope: ENOENT', 'virtiofs: rm /d: EISDIR', 'virtiofs: mv /x /y: ENOENT',
    'virtiofs: usage: ln [-s] TARGET PATH',
  ]);
  assert.ok(fs.existsSync(path.join(share, 'd/e')));
  fs.rmSync(path.join(share, 'd'), { recursive: true });
});

function cli(args: string[], stdin?: Buffer): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', path.join(root, 'tools/guest/main.ts'),
      '--connect', vmm!.address, ...args], {
      cwd: root, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
    child.stdin.end(stdin ?? Buffer.alloc(0));
  });
}

t('the program: put - reads stdin, get - writes stdout, a failure exits 1 with the errno name', async () => {
  const token = path.join(dir, 'token');
  fs.writeFileSync(token, `${vmm!.token}\n`, { mode: 0o600 });
  const data = Buffer.from('from stdin\n');
  const put = await cli(['--token-file', token, 'put', '-', '/stdin.txt'], data);
  assert.is(put.code, 0, put.err);
  assert.is(fs.readFileSync(path.join(share, 'stdin.txt'), 'utf8'), 'from stdin\n');
  const get = await cli(['--token-file', token, 'get', '/stdin.txt', '-']);
  assert.is(get.code, 0, get.err);
  assert.ok(get.out.equals(data));
  const bad = await cli(['--token-file', token, 'rmdir', '/stdin.txt']);
  assert.is(bad.code, 1);
  assert.match(bad.err, /virtiofs: rmdir \/stdin.txt: ENOTDIR/);
});

t.run();
