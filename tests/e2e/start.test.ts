// npm start's job in a child process with stdin not a terminal: it checks
// every byte, prints the summary, never waits for input, and leaves no
// device model, no /dev/shm file and no temporary tree behind, also when
// interrupted with Ctrl-C (SIGINT).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const t = suite('npm start');
const root = path.resolve(__dirname, '../..');

interface Run { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

function start(args: string[] = [], onOut?: (out: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', path.join(root, 'tools/guest/main.ts'), 'start', ...args], {
      cwd: root, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      stdio: ['pipe', 'pipe', 'pipe'], // stdin open and never written: the job must not wait for it
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`start did not finish in 120 s\n${out}\n${err}`)); }, 120000);
    child.stdout.on('data', (d) => { out += d; onOut?.(out, (s) => child.kill(s)); });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err }); });
  });
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function leftNothing(r: Run): Promise<void> {
  const pid = Number(/virtiofs-vmm \(pid (\d+)\)/.exec(r.out)?.[1]);
  assert.ok(pid > 0, `the vmm pid is printed\n${r.out}`);
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((res) => setTimeout(res, 100));
  assert.not.ok(alive(pid), 'no virtiofs-vmm left running');
  const shm = fs.existsSync('/dev/shm') ? fs.readdirSync('/dev/shm').filter((n) => n.startsWith(`virtiofs-${pid}-`)) : [];
  assert.equal(shm, [], 'nothing of it in /dev/shm');
  const tree = /built a sample tree in (\S+)/.exec(r.out)?.[1];
  assert.ok(tree, 'a sample tree was built');
  assert.not.ok(fs.existsSync(tree!), 'the temporary tree is removed');
}

t('exits 0 with a summary of zero mismatches, through DAX (with evictions) and FUSE_READ', async () => {
  const r = await start();
  assert.is(r.code, 0, `${r.out}\n${r.err}`);
  assert.match(r.out, /DAX \(dax=always\): \d+ files, .* 0 mismatches/);
  assert.match(r.out, /FUSE_READ \(dax=never\): \d+ files, .* 0 mismatches/);
  assert.match(r.out, /^ {2}mismatches {3}0$/m);
  const evicted = Number(/evicted (\d+)/.exec(r.out)?.[1]);
  assert.ok(evicted > 0, 'the small window evicts');
  assert.match(r.out, /fallbacks {4}none/);
  assert.match(r.out, /throughput {3}DAX pass [\d.]+ MiB\/s, FUSE_READ pass [\d.]+ MiB\/s/);
  assert.match(r.out, /result: OK/);
  assert.not.match(r.out, /virtiofs:myfs/, 'no shell without a terminal');
  await leftNothing(r);
});

t('Ctrl-C mid-run stops the device model and removes the tree', async () => {
  let sent = false;
  const r = await start([], (out, kill) => {
    if (!sent && /mounted "myfs"/.test(out)) { sent = true; kill('SIGINT'); }
  });
  assert.ok(sent, r.out);
  assert.is(r.code, 130, `${r.out}\n${r.err}`);
  assert.match(r.err, /SIGINT, stopping the device model/);
  await leftNothing(r);
});

t.run();
