// npm start's job in a child process with stdin not a terminal: it checks
// every byte, shows DAX beating FUSE_READ where the window holds the working
// set and eviction as a step of its own, never waits for input, and leaves
// no device model, no /dev/shm file and no temporary tree behind, also when
// interrupted with Ctrl-C (SIGINT to its process group, as a terminal sends
// it): then it says so in one line and nothing else; and when its stdout
// closes under it, quietly. The device model it spawns leads a process
// group of its own (compared in /proc/PID/stat), so that SIGINT reaches
// only npm start, which ends it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const t = suite('npm start');
const root = path.resolve(__dirname, '../..');

interface Run { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

type OnOut = (out: string, kill: (s: NodeJS.Signals) => void, stdout: NodeJS.ReadableStream & { destroy(): void }, pid: number) => void;

function start(args: string[] = [], onOut?: OnOut): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', path.join(root, 'tools/guest/main.ts'), 'start', ...args], {
      cwd: root, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      stdio: ['pipe', 'pipe', 'pipe'], // stdin open and never written: the job must not wait for it
      detached: true, // a process group of its own, as a shell job has
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`start did not finish in 300 s\n${out}\n${err}`)); }, 300_000); // a hung run, on a loaded 2-CPU machine
    // The signal goes to the whole group, as a terminal's Ctrl-C does.
    child.stdout.on('data', (d) => { out += d; onOut?.(out, (s) => process.kill(-child.pid!, s), child.stdout, child.pid!); });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err }); });
  });
}

/** ppid and process group of a live process, from /proc/PID/stat. */
function procStat(pid: number): { ppid: number; pgid: number } {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // after "pid (comm) ": state ppid pgrp ...
  return { ppid: Number(f[1]), pgid: Number(f[2]) };
}

const vmmPid = (out: string): number => Number(/virtiofs-vmm \(pid (\d+)\)/.exec(out)?.[1]);

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function leftNothing(r: Run): Promise<void> {
  const pid = vmmPid(r.out);
  assert.ok(pid > 0, `the vmm pid is printed\n${r.out}`);
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((res) => setTimeout(res, 100));
  assert.not.ok(alive(pid), 'no virtiofs-vmm left running');
  const shm = fs.existsSync('/dev/shm') ? fs.readdirSync('/dev/shm').filter((n) => n.startsWith(`virtiofs-${pid}-`)) : [];
  assert.equal(shm, [], 'nothing of it in /dev/shm');
  const tree = /built a sample tree in (\S+)/.exec(r.out)?.[1];
  assert.ok(tree, 'a sample tree was built');
  assert.not.ok(fs.existsSync(tree!), 'the temporary tree is removed');
}

t('exits 0: DAX beats FUSE_READ on the window\'s files, pass 2 from cached mappings, eviction as its own step', async () => {
  // The device model it spawns runs in a process group of its own, so a
  // terminal's Ctrl-C reaches only the parent, which ends it.
  let seen: { startPid: number; start: ReturnType<typeof procStat>; vmmPid: number; vmm: ReturnType<typeof procStat> } | undefined;
  const r = await start([], (out, _kill, _stdout, pid) => {
    const vmm = vmmPid(out);
    if (!seen && vmm > 0) seen = { startPid: pid, start: procStat(pid), vmmPid: vmm, vmm: procStat(vmm) };
  });
  assert.ok(seen, `the vmm was seen running\n${r.out}`);
  assert.is(seen!.vmm.ppid, seen!.startPid, 'the vmm is npm start\'s own child');
  assert.is(seen!.start.pgid, seen!.startPid, 'npm start leads the group the test gave it');
  assert.is.not(seen!.vmm.pgid, seen!.start.pgid, 'the vmm is not in npm start\'s process group');
  assert.is(seen!.vmm.pgid, seen!.vmmPid, 'it leads a group of its own');
  assert.is(r.code, 0, `${r.out}\n${r.err}`);
  assert.match(r.out, /window 32\.0 MiB, dax-policy filesize/, 'a window that holds the working set');
  const line = (re: RegExp): string => r.out.split('\n').find((l) => re.test(l)) ?? '';
  const pass1 = line(/^pass 1 .*: 314 files/);
  const pass2 = line(/^pass 2 .*: 314 files/);
  const evict = line(/^eviction .*: 314 files/);
  for (const l of [pass1, pass2, evict]) assert.match(l, / 0 mismatches; DAX [\d.]+ s, FUSE_READ [\d.]+ s in the guest/, l);
  assert.match(pass1, /the 4 files through the window \(15\.0 MiB\)/, 'only the files above 32 KiB go through DAX');
  assert.match(pass1, /SETUPMAPPING 9, hits \d+, misses 9, evicted 0/, 'one mapping per chunk, no eviction');
  assert.match(pass2, /SETUPMAPPING 0, hits \d+, misses 0, evicted 0/, 'pass 2 is served from cached mappings');
  const evicted = Number(/evicted (\d+)/.exec(evict)?.[1]);
  assert.ok(evicted > 0, `dax=always on every file evicts: ${evict}`);
  assert.match(r.out, /^ {2}mismatches {3}0$/m);
  assert.match(r.out, /^ {2}pass 1 {7}DAX\/FUSE_READ [\d.]+x on the 4 files through the window \(15\.0 MiB\), [\d.]+x on every file/m);
  assert.match(r.out, /^ {2}pass 2 {7}DAX\/FUSE_READ [\d.]+x .*\(from cached mappings\)$/m);
  assert.match(r.out, /^ {2}eviction {5}dax=always, every file: \d+ chunks through 16: .*DAX\/FUSE_READ [\d.]+x on every file$/m);
  assert.match(r.out, /fallbacks {4}none/);
  assert.match(r.out, /result: OK/);
  assert.not.match(r.out, /virtiofs:myfs/, 'no shell without a terminal');
  assert.is(r.err, '', 'nothing on stderr');
  await leftNothing(r);
});

t('Ctrl-C mid-pass: one line, exit 130, the device model stopped, the tree removed, nothing else', async () => {
  let sent = false;
  const r = await start([], (out, kill) => {
    if (!sent && /^pass 1 .*: 1\/314 files|^virtiofs start: 314 files/m.test(out)) { sent = true; kill('SIGINT'); }
  });
  assert.ok(sent, r.out);
  assert.is(r.code, 130, `${r.out}\n${r.err}`);
  assert.is(r.err.trim(), 'virtiofs start: interrupted (SIGINT); stopping the device model and removing the sample tree');
  assert.not.match(r.out, /MISMATCH|FAILED|summary|result:/, 'no verdict on an interrupted run');
  await leftNothing(r);
});

t('stdout closed mid-run (npm start | head): quiet, 128 + SIGPIPE, nothing left behind', async () => {
  let closed = false;
  const r = await start([], (out, _kill, stdout) => {
    if (!closed && /^virtiofs start: mounted/m.test(out)) { closed = true; stdout.destroy(); }
  });
  assert.ok(closed, r.out);
  assert.is(r.code, 141, `${r.out}\n${r.err}`);
  assert.is(r.err, '', 'no stack trace, nothing at all');
  await leftNothing(r);
});

t.run();
