// Doorbells with the real virtiofsd: the request queue's kick and call
// FIFOs handed to the guest, so a request goes guest -> virtiofsd -> guest
// with no device-model hop; declined, it all goes through the vmm as before;
// a device reset takes them back and hands them over again; a lost daemon
// takes them back too (DEVICE_NEEDS_RESET through the vmm).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Allocator } from '../../core/allocator';
import { O_RDONLY, Vfs } from '../../core/vfs';
import { VirtioFsDriver } from '../../drivers/virtio-fs/driver';
import { fuseDeviceOf, VirtiofsFileSystemType } from '../../fs/virtiofs';
import { mountShare } from '../../tools/guest/mount';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';
import { samplePattern as pattern } from '../../tools/guest/sample-tree';

const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const MEMORY = 64 << 20;
const t = suite('end to end: vhost-user doorbells, real virtiofsd');

let dir = '';
let vmm: VmmChild | undefined;
/** Guests connected so far: the vmm prints one "gone" line for each, in order. */
let guests = 0;

t.before(async () => {
  assert.ok(fs.existsSync(VIRTIOFSD), `${VIRTIOFSD} is missing: apt-get install -y qemu-system-common`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-doorbells-'));
  fs.writeFileSync(path.join(dir, 'big'), pattern(1024 * 1024 + 17, 3));
  vmm = await spawnVmm(['--backend', 'vhost-user', '--shared-dir', dir, '--cache-size', '0', '--memory', '64M']);
});

t.after(async () => {
  assert.is(await vmm?.stop(), 0, 'vmm exits cleanly');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function readAll(vfs: Vfs, name: string): Promise<Buffer> {
  const fd = await vfs.open(`/${name}`, O_RDONLY);
  const parts: Uint8Array[] = [];
  for (;;) { const b = await vfs.read(fd, 16384); if (!b.length) break; parts.push(b); }
  await vfs.close(fd);
  return Buffer.concat(parts);
}

/**
 * The vmm's "gone" line for the `nth` guest to connect, with its QueueNotify
 * frames by queue. Each test takes its number before it mounts, so a test
 * that fails early cannot shift the next test onto its line.
 */
function goneLine(nth: number): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const lines = vmm!.stderr().split('\n').filter((l) => / gone: /.test(l));
      if (lines.length < nth) return;
      vmm!.child.stderr!.off('data', check);
      clearTimeout(timer);
      const m = /QueueNotify frames by queue: ([^)]*)\)/.exec(lines[nth - 1]!);
      const counts = new Map<number, number>();
      for (const kv of (m?.[1] ?? '').split(' ')) { const [q, n] = kv.split('='); if (n !== undefined) counts.set(Number(q), Number(n)); }
      resolve(counts);
    };
    const timer = setTimeout(() => { vmm!.child.stderr!.off('data', check); reject(new Error(`no "gone" line:\n${vmm!.stderr()}`)); }, 20_000);
    vmm!.child.stderr!.on('data', check);
    check();
  });
}

t('handed over: reads equal the host bytes; no NOTIFY frame for the request queue reaches the vmm', async () => {
  const nth = ++guests;
  // No busy-poll: every completion must then come as an interrupt, and with
  // the doorbells held that is data on the call FIFO. (Polling, the guest
  // may take every answer from the used ring before an interrupt is read.)
  const g = await mountShare({ connect: vmm!.address, token: vmm!.token, dax: 'never', busyPollUs: 0 });
  const tr = g.remote.transport;
  let before = 0;
  try {
    await tr.doorbells.held(1);
    before = tr.notifyFrames(1);
    for (let i = 0; i < 2; i++) assert.ok((await readAll(g.vfs, 'big')).equals(fs.readFileSync(path.join(dir, 'big'))));
    assert.is(tr.notifyFrames(1), before, 'every kick after the hand-over went to the FIFO');
    assert.ok(tr.doorbells.kicks >= 128, `${tr.doorbells.kicks} kicks through the FIFO`);
    assert.ok(tr.doorbells.calls >= 1, 'interrupts came on the call FIFO');
    assert.equal(tr.doorbells.queues, [1], 'the request queue only (hiprio stays with the vmm)');
  } finally { await g.close(); }
  const seen = await goneLine(nth);
  assert.is(seen.get(1) ?? 0, before, `the vmm counted only the frames sent before the hand-over (${before})`);
});

t('declined (doorbells: false, a guest reconnecting): reads work, every kick is a NOTIFY frame', async () => {
  const nth = ++guests;
  const g = await mountShare({ connect: vmm!.address, token: vmm!.token, dax: 'never', doorbells: false });
  const tr = g.remote.transport;
  try {
    assert.ok((await readAll(g.vfs, 'big')).equals(fs.readFileSync(path.join(dir, 'big'))));
    assert.equal(tr.doorbells.queues, []);
    assert.is(tr.doorbells.kicks, 0);
    assert.ok(tr.notifyFrames(1) >= 64, `${tr.notifyFrames(1)} NOTIFY frames`);
  } finally { await g.close(); }
  const sent = tr.notifyFrames(1); // DESTROY on the way out included
  assert.is((await goneLine(nth)).get(1), sent, 'the vmm saw each of them');
});

t('a device reset takes the doorbells back; the next DRIVER_OK hands them over again', async () => {
  const nth = ++guests;
  const g = await mountShare({ connect: vmm!.address, token: vmm!.token, dax: 'never' });
  const tr = g.remote.transport;
  try {
    await tr.doorbells.held(1);
    assert.ok((await readAll(g.vfs, 'big')).length > 0);
    await g.vfs.umount('/', 1);
    await g.remote.driver.close(); // resets the device
    const driver = await VirtioFsDriver.probe(tr, g.remote.memory, new Allocator(0, MEMORY));
    try {
      await tr.doorbells.held(1, 2);
      assert.ok(tr.doorbells.returned >= 1, 'the reset took them back');
      const before = tr.notifyFrames(1);
      const type = new VirtiofsFileSystemType();
      type.addDevice(fuseDeviceOf(driver, g.remote.memory), driver.tag);
      const vfs = new Vfs({ firstFd: 3 });
      await vfs.mount(type, driver.tag, '/', { dax: 'never' });
      assert.ok((await readAll(vfs, 'big')).equals(fs.readFileSync(path.join(dir, 'big'))));
      assert.is(tr.notifyFrames(1), before, 'kicks through the new hand-over');
      await vfs.umount('/', 1);
    } finally { await driver.close(); }
  } finally { await g.remote.close(); }
  await goneLine(nth);
});

/** The live virtiofsd serving this test's share (one session at a time here). */
function daemonPid(): number | undefined {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.startsWith(VIRTIOFSD) || !cmd.split('\0').includes(`source=${dir}`)) continue;
      if (/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))) continue;
      return Number(pid);
    } catch { /* gone */ }
  }
  return undefined;
}

t('a lost virtiofsd takes the doorbells back: the guest learns DEVICE_NEEDS_RESET from the vmm', async () => {
  const nth = ++guests;
  const g = await mountShare({ connect: vmm!.address, token: vmm!.token, dax: 'never' });
  const tr = g.remote.transport;
  try {
    await tr.doorbells.held(1);
    const pid = daemonPid();
    assert.ok(pid, 'this session\'s virtiofsd');
    const back = new Promise<void>((resolve) => {
      tr.onInterrupt(() => { if (tr.doorbells.queues.length === 0) resolve(); });
    });
    process.kill(pid!, 'SIGKILL');
    await back; // the config interrupt (needs reset) comes after the take-back
    assert.equal(tr.doorbells.queues, []);
    assert.ok(tr.doorbells.returned >= 1);
    try { await readAll(g.vfs, 'big'); assert.unreachable('a read after the daemon died'); } catch (e) { assert.is((e as { errno?: number }).errno, 5, String(e)); }
  } finally { await g.close().catch(() => undefined); }
  await goneLine(nth);
});

t.run();
