import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { O_RDONLY } from '../../core/vfs';
import { mountShare, type GuestMount } from '../../tools/guest/mount';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';
import { samplePattern as pattern } from '../../tools/guest/sample-tree';

// The life of the real virtiofsd behind the real program (virtiofs-vmm
// --backend vhost-user): its death mid-read, a queue count it cannot serve,
// and a clean shutdown.
const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const MiB = 1024 * 1024;
const t = suite('end to end: virtiofsd lifecycle under virtiofs-vmm');

let dir = '';
const vmms: VmmChild[] = [];
const guests: GuestMount[] = [];

/** Reject when `p` has not settled within `ms`: nothing may hang. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms); });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

interface Proc { pid: number; ppid: number; state: string; cmdline: string }

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      // comm may hold spaces and parentheses: fields resume after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(p), ppid: Number(ppid), state: state!, cmdline: fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch { /* gone */ }
  }
  return out;
}

/** Live virtiofsd processes below `pid` (zombies awaiting their reaper don't count). */
function daemonsUnder(pid: number): Proc[] {
  const all = processes();
  const below = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) if (below.has(p.ppid) && !below.has(p.pid)) { below.add(p.pid); grew = true; }
  }
  return all.filter((p) => p.pid !== pid && below.has(p.pid) && p.cmdline.startsWith(VIRTIOFSD) && p.state !== 'Z');
}

/** Live virtiofsd processes serving `share`, wherever they were reparented. */
function daemonsServing(share: string): Proc[] {
  return processes().filter((p) => p.cmdline.startsWith(VIRTIOFSD) && p.cmdline.includes(`source=${share}`) && p.state !== 'Z');
}

function alive(pid: number): boolean {
  try { return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const vhostUser = (...more: string[]) => ['--backend', 'vhost-user', '--shared-dir', dir, '--cache-size', '8M', '--memory', '64M', ...more];

t.before(() => {
  assert.ok(fs.existsSync(VIRTIOFSD), `${VIRTIOFSD} is missing: apt-get install -y qemu-system-common`);
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-lifecycle-')));
  fs.writeFileSync(path.join(dir, 'big'), pattern(32 * MiB, 11));
  fs.writeFileSync(path.join(dir, 'small'), 'small\n');
});

t.after(async () => {
  for (const g of guests) await within(g.close(), 10_000, 'guest close').catch(() => {});
  for (const v of vmms) await v.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

t('virtiofsd killed mid-read: pending and later reads fail with EIO promptly; the vmm says why', async () => {
  const vmm = await spawnVmm(vhostUser());
  vmms.push(vmm);
  const guest = await mountShare({ connect: vmm.address, token: vmm.token, dax: 'never', timeoutMs: 10_000 });
  guests.push(guest);
  const daemons = daemonsUnder(vmm.child.pid!);
  assert.ok(daemons.length >= 1, 'a virtiofsd runs under the vmm');

  const fd = await guest.vfs.open('/big', O_RDONLY);
  const host = fs.readFileSync(path.join(dir, 'big'));
  let good = 0;
  let killedAt = 0;
  const errors: string[] = [];
  // Four readers in a loop over the file; the daemon dies under them.
  const reader = async (k: number) => {
    for (let off = k * 128 * 1024; ; off = (off + 4 * 128 * 1024) % host.length) {
      try {
        const b = await guest.vfs.pread(fd, 128 * 1024, off);
        if (!Buffer.from(b).equals(host.subarray(off, off + 128 * 1024))) throw new Error(`wrong bytes at ${off}`);
        good++;
      } catch (err) {
        errors.push((err as { code?: string }).code ?? (err as Error).message);
        return Date.now();
      }
    }
  };
  const readers = [0, 1, 2, 3].map(reader);
  await until(() => good >= 50, 10_000, '50 good reads before the kill');
  killedAt = Date.now();
  for (const d of daemons) process.kill(d.pid, 'SIGKILL');

  const failedAt = await within(Promise.all(readers), 5_000, 'reads pending when virtiofsd died');
  assert.equal(errors, ['EIO', 'EIO', 'EIO', 'EIO'], 'every pending read fails with EIO');
  assert.ok(Math.max(...failedAt) - killedAt < 5_000);

  for (const [what, call] of [
    ['pread on the open fd', () => guest.vfs.pread(fd, 4096, 0)],
    ['a read of a file opened before', () => guest.vfs.read(fd, 4096)],
    ['open of another file', () => guest.vfs.open('/small', O_RDONLY)],
  ] as const) {
    const t0 = Date.now();
    const err = await within((call() as Promise<unknown>).then(() => undefined, (e: unknown) => e), 2_000, what);
    assert.is((err as { code?: string } | undefined)?.code, 'EIO', `${what}: EIO`);
    assert.ok(Date.now() - t0 < 2_000, `${what}: promptly`);
  }
  await until(() => /virtiofsd lost/.test(vmm.stderr()), 3_000, 'the vmm reports the lost daemon');
  assert.match(vmm.stderr(), /virtiofsd lost: .*(exit|signal|SIGKILL|closed)/i, 'and why');
  for (const d of daemons) await until(() => !alive(d.pid), 3_000, `virtiofsd ${d.pid} gone`);

  await within(guest.close().catch(() => {}), 10_000, 'guest close after the loss');
  guests.splice(guests.indexOf(guest), 1);
  assert.is(await within(vmm.stop(), 15_000, 'vmm stop'), 0, 'the vmm still shuts down cleanly');
  vmms.splice(vmms.indexOf(vmm), 1);
});

t('--num-request-queues 2 is refused at start: virtiofsd offers one', async () => {
  let err: Error | undefined;
  try {
    const v = await within(spawnVmm(vhostUser('--num-request-queues', '2')), 120_000, 'vmm start');
    vmms.push(v);
  } catch (e) { err = e as Error; }
  assert.ok(err, 'the vmm did not start');
  assert.match(err!.message, /exited with status 2/);
  assert.match(err!.message, /--num-request-queues 2: the daemon offers 1/);
  await until(() => daemonsServing(dir).length === 0, 3_000, 'no virtiofsd left by the refused start');
});

t('SIGTERM after a guest session: exit 0, no virtiofsd, no shared-memory file left', async () => {
  const vmm = await spawnVmm(vhostUser());
  vmms.push(vmm);
  const pid = vmm.child.pid!;
  const guest = await mountShare({ connect: vmm.address, token: vmm.token, dax: 'always' });
  const fd = await guest.vfs.open('/small', O_RDONLY);
  assert.is(Buffer.from(await guest.vfs.read(fd, 100)).toString(), 'small\n');
  await guest.vfs.close(fd);
  const daemons = daemonsUnder(pid);
  assert.ok(daemons.length >= 1, 'a virtiofsd served the session');
  const shm = () => fs.readdirSync('/dev/shm').filter((n) => n.startsWith(`virtiofs-${pid}-`));
  // The RAM file's name goes at DRIVER_OK: both processes keep it open (a
  // memfd, with the addon built, never had one).
  assert.equal(shm(), [], 'guest RAM no longer named in /dev/shm once the driver is up');
  const held = fs.readdirSync(`/proc/${pid}/fd`).map((n) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${n}`); } catch { return ''; } });
  const ram = (l: string) => l.startsWith('/memfd:virtiofs-ram') || (l.startsWith(`/dev/shm/virtiofs-${pid}-`) && l.endsWith('(deleted)'));
  assert.ok(held.some(ram), 'the vmm still holds guest RAM');
  await within(guest.close(), 10_000, 'guest close');

  assert.is(await within(vmm.stop(), 15_000, 'vmm stop'), 0, 'exit status 0 on SIGTERM');
  vmms.splice(vmms.indexOf(vmm), 1);
  for (const d of daemons) await until(() => !alive(d.pid), 3_000, `virtiofsd ${d.pid} gone`);
  assert.equal(daemonsServing(dir), [], 'no virtiofsd left');
  assert.equal(shm(), [], 'no virtiofs-* file left in /dev/shm');
});

t.run();
