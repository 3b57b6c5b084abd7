// The guest commands against a spawned virtiofs-vmm: in this process through
// runCommand (fast), and as the real `virtiofs` program for exit statuses,
// stdout bytes and --json.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCommand, type ShellContext } from '../../tools/guest/commands';
import { mountShare, type GuestMount } from '../../tools/guest/mount';
import { namerOf } from '../../tools/guest/names';
import { runLine } from '../../tools/guest/shell';
import { checkFile, walkShare } from '../../tools/guest/verify';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';
import { samplePattern as pattern } from '../../tools/guest/sample-tree';

const t = suite('guest commands end to end');
const MiB = 1 << 20;
const root = path.resolve(__dirname, '../..');
let dir = '';
let vmm: VmmChild | undefined;
let m: GuestMount | undefined;
let tokenFile = '';

t.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guest-cli-'));
  fs.writeFileSync(path.join(dir, 'hello.txt'), 'hello\n');
  fs.writeFileSync(path.join(dir, 'big'), pattern(5 * MiB + 7, 3));
  fs.mkdirSync(path.join(dir, 'a/b'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a/b/deep'), 'deep\n');
  fs.symlinkSync('a/b/deep', path.join(dir, 'link'));
  vmm = await spawnVmm(['--shared-dir', dir, '--cache-size', '8M', '--memory', '64M']);
  tokenFile = path.join(dir + '-token');
  fs.writeFileSync(tokenFile, `${vmm.token}\n`, { mode: 0o600 });
  m = await mountShare({ connect: vmm.address, token: vmm.token, dax: 'always' });
});

t.after(async () => {
  await m?.close();
  await vmm?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(tokenFile, { force: true });
});

function context(json = false): { ctx: ShellContext; text: () => string; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const ctx: ShellContext = {
    vfs: m!.vfs, tag: 'myfs', windowSize: m!.remote.driver.getDax()?.len ?? 0, dax: () => m!.dax(), json, cwd: '/',
    out: { write: (c) => { parts.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c)); } }, names: new Map(),
  };
  return { ctx, text: () => Buffer.concat(parts).toString(), bytes: () => Buffer.concat(parts) };
}

async function run(line: string, json = false): Promise<string> {
  const c = context(json);
  const errs: string[] = [];
  const failed = await runLine(c.ctx, line, (e) => errs.push(e));
  assert.is(failed, 0, `${line}: ${errs.join('; ')}`);
  return c.text();
}

t('ls, ls -l, tree, readlink, stat, df', async () => {
  assert.is(await run('ls /'), 'a/\nbig\nhello.txt\nlink@\n');
  const long = await run('ls -l /');
  assert.match(long, /^-rw-r--r-- +1 .* 5242887 .* big$/m);
  assert.match(long, /^l.* link -> a\/b\/deep$/m);
  assert.is(await run('tree /a'), '/a\n└── b\n    └── deep  (5 B)\n\n1 directory, 1 file\n');
  assert.is(await run('readlink /link'), 'a/b/deep\n');
  assert.match(await run('stat /hello.txt'), /Size: 6\t.*file/);
  assert.match(await run('df'), /^Filesystem +Size/);
  assert.is(await run('cd /a; pwd; cd b; ls; cd ..; pwd'), '/a\ndeep\n/a\n');
});

t('cat: raw bytes through DAX; dax shows the file on the stack', async () => {
  const c = context();
  await runCommand(c.ctx, ['cat', '/big']);
  assert.ok(c.bytes().equals(fs.readFileSync(path.join(dir, 'big'))), 'cat gives the host bytes');
  const d = context();
  d.ctx.names.set(...[...c.ctx.names][0]!);
  await runCommand(d.ctx, ['dax']);
  const text = d.text();
  assert.match(text, /DAX window: 8\.0 MiB, chunk size 2\.0 MiB, 4 chunks/);
  assert.match(text, /^ +0-2 +0x0 +\/big +0x0 +6\.0 MiB +RO +<- top$/m);
  assert.match(text, /bytes +DAX read 5242887/);
});

t('closed files keep their mappings (inode cache): /big is still mapped, a new file goes on top', async () => {
  const text = await run('open /hello.txt /big; dax; close');
  assert.match(text, /^ +0-2 +0x0 +\/big +0x0 +6\.0 MiB +RO$/m);
  assert.match(text, /^ +3 +0x600000 +\/hello\.txt +0x0 +2\.0 MiB +RO +<- top$/m);
  assert.match(text, /stack: 4 of 4 chunks in use, top at chunk 3/);
});

t('--json forms parse', async () => {
  const ls = JSON.parse(await run('ls -l /a/b', true));
  assert.equal(ls.entries.map((e: { name: string; size: number }) => [e.name, e.size]), [['deep', 5]]);
  assert.is(JSON.parse(await run('stat /link', true)).target, 'a/b/deep');
  const dax = JSON.parse(await run('dax', true));
  assert.is(dax.window.chunks, 4);
  assert.type(dax.stats.hits, 'number');
  const cat = JSON.parse(await run('cat /hello.txt', true));
  assert.is(Buffer.from(cat.base64, 'base64').toString(), 'hello\n');
  const tree = JSON.parse(await run('tree /', true));
  assert.equal(tree.children.map((c: { name: string }) => c.name), ['a', 'big', 'hello.txt', 'link']);
});

t('errors in a line: each command reported with its errno, the others still run', async () => {
  const c = context();
  const errs: string[] = [];
  assert.is(await runLine(c.ctx, 'cat /nope; readlink /hello.txt; ls /hello.txt/x; cat /hello.txt', (e) => errs.push(e)), 3);
  assert.equal(errs, ['virtiofs: cat /nope: ENOENT', 'virtiofs: readlink /hello.txt: EINVAL', 'virtiofs: ls /hello.txt/x: ENOTDIR']);
  assert.is(c.text(), 'hello\n');
});

t('the dax picture names files by their own path: not the symlink opened, not a nodeid', async () => {
  const c = context();
  const errs: string[] = [];
  assert.is(await runLine(c.ctx, 'open /link; dax; close', (e) => errs.push(e)), 0, errs.join('; '));
  assert.match(c.text(), /^ {2}\d+\s+0x[0-9a-f]+\s+\/a\/b\/deep\s/m, 'the target, /a/b/deep');
  // (The earlier tests' files, not opened in this context, may show as nodeids: the fallback.)
  assert.not.match(c.text(), /\s\/link\s/, c.text());
  // What npm start's shell does: files read by its passes named from the walk, by inode number.
  const listing = await walkShare(m!.vfs);
  assert.is(await checkFile(m!.vfs, '/big', path.join(dir, 'big')), null);
  const d = context();
  d.ctx.nameOf = namerOf([m!.vfs], listing.files);
  await runCommand(d.ctx, ['dax']);
  assert.match(d.text(), /\s\/big\s/, d.text());
  assert.not.match(d.text(), /nodeid \d/, d.text());
});

function cli(args: string[]): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', path.join(root, 'tools/guest/main.ts'), '--connect', vmm!.address, '--token-file', tokenFile, ...args], {
      cwd: root, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
  });
}

t('the program: cat bytes, ENOENT exit 1, usage exit 2, exec, --json', async () => {
  const [cat, missing, usage, exec, json] = await Promise.all([
    cli(['cat', '/big']),
    cli(['cat', '/nope']),
    cli(['readlink']),
    cli(['exec', 'ls /; readlink /link; cat /missing']),
    cli(['--json', 'dax']),
  ]);
  assert.is(cat.code, 0, cat.err);
  assert.ok(cat.out.equals(fs.readFileSync(path.join(dir, 'big'))), 'stdout is the file');
  assert.is(missing.code, 1);
  assert.is(missing.err.trim(), 'virtiofs: cat /nope: ENOENT');
  assert.is(usage.code, 2);
  assert.match(usage.err, /usage: readlink PATH/);
  assert.is(exec.code, 1, 'one command failed');
  assert.is(exec.out.toString(), 'a/\nbig\nhello.txt\nlink@\na/b/deep\n');
  assert.match(exec.err, /virtiofs: cat \/missing: ENOENT/);
  assert.is(json.code, 0, json.err);
  const d = JSON.parse(json.out.toString());
  assert.is(d.window.size, 8 * MiB);
  assert.equal(d.window.mappings, [], 'a fresh mount has an empty stack');
});

t('the program with --dax-placement lru --no-dax-adaptive: the pool draws ranges; a bad placement is a one-line usage error', async () => {
  const [lru, bad] = await Promise.all([
    cli(['--dax-placement', 'lru', '--no-dax-adaptive', 'exec', 'cat /hello.txt; dax']),
    cli(['--dax-placement', 'fifo', 'dax']),
  ]);
  assert.is(lru.code, 0, lru.err);
  const text = lru.out.toString();
  assert.match(text, /^hello\n/);
  assert.match(text, /placement lru/);
  assert.match(text, /^ +0 +0x0 +\/hello\.txt +0x0 +2\.0 MiB +RO$/m);
  assert.match(text, /ranges: 1 of 4 busy, 3 free/);
  assert.is(bad.code, 2);
  assert.match(bad.err, /--dax-placement: lifo or lru, not "fifo"/);
  assert.is(bad.err.trim().split('\n').length <= 2, true, 'no stack trace');
});

t.run();
