// The end-to-end items over TCP with a spawned virtiofs-vmm: a
// generated tree read byte for byte through DAX (2 MiB and 4 KiB chunks,
// windows of four chunks) and FUSE_READ; two mounts of one device sharing
// one manager; a device without a window; concurrent readers; the device
// model killed mid-read.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Errno, ErrnoError } from '../../core/errno';
import { O_RDONLY, Vfs } from '../../core/vfs';
import { VirtiofsFileSystemType, type VirtiofsMount } from '../../fs/virtiofs';
import { runCommand, type ShellContext } from '../../tools/guest/commands';
import { mountShare, type GuestMount } from '../../tools/guest/mount';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';
import { checkFile, checkSymlinks, readPass, walkShare } from '../../tools/guest/verify';
import { samplePattern as pattern } from '../../tools/guest/sample-tree';

const t = suite('guest share end to end');
const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES: Record<string, number> = {
  empty: 0, one: 1, p4095: 4095, p4096: 4096, p4097: 4097, m2minus: 2 * MiB - 1, m2: 2 * MiB, m2plus: 2 * MiB + 1, m9: 9 * MiB,
};
let dir = '';
const vmms: VmmChild[] = [];

async function vmm(cacheSize: string): Promise<VmmChild> {
  const v = await spawnVmm(['--shared-dir', dir, '--cache-size', cacheSize, '--memory', '64M']);
  vmms.push(v);
  return v;
}

function secondMount(m: GuestMount, dax: string): Promise<Vfs> {
  const type = new VirtiofsFileSystemType();
  type.addDevice(m.device, m.remote.driver.tag);
  const vfs = new Vfs();
  return vfs.mount(type, m.remote.driver.tag, '/', { dax }).then(() => vfs);
}

const within = <T>(ms: number, p: Promise<T>, what: string): Promise<T> => Promise.race([
  p, new Promise<never>((_, reject) => { setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref(); }),
]);

const timing = process.env.E2E_TIMING !== undefined;
t.before.each((ctx) => { if (timing) console.time((ctx as { __test__: string }).__test__); });
t.after.each((ctx) => { if (timing) console.timeEnd((ctx as { __test__: string }).__test__); });

t.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guest-share-'));
  let seed = 11;
  for (const [name, size] of Object.entries(SIZES)) fs.writeFileSync(path.join(dir, name), pattern(size, seed++));
  fs.mkdirSync(path.join(dir, 'd1/d2/d3/d4/d5/d6/d7/d8'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'd1/d2/d3/d4/d5/d6/d7/d8/leaf'), pattern(5000, 99));
  fs.symlinkSync('d1/d2/d3/d4/d5/d6/d7/d8/leaf', path.join(dir, 'link'));
  fs.mkdirSync(path.join(dir, 'many'));
  for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(dir, 'many', `f${i}`), pattern(i, i));
});

t.after(async () => {
  for (const v of vmms) { const t0 = Date.now(); const code = await v.stop(); if (timing) console.log(`vmm stop: ${code} after ${Date.now() - t0} ms`); }
  fs.rmSync(dir, { recursive: true, force: true });
});

for (const [cacheSize, chunkSize] of [['8M', '2M'], ['16K', '4K']] as const) {
  t(`the tree byte for byte: chunks of ${chunkSize} in a ${cacheSize} window, then FUSE_READ`, async () => {
    const v = await vmm(cacheSize);
    // The DAX pass maps every miss (dax-adaptive=off): every byte through the window.
    const m = await mountShare({ connect: v.address, token: v.token, dax: 'always', chunkSize, options: { 'dax-adaptive': 'off' } });
    try {
      const listing = await walkShare(m.vfs);
      assert.is(listing.files.length, Object.keys(SIZES).length + 1 + 1000);
      assert.equal(listing.symlinks, ['/link']);
      assert.ok(listing.dirs.includes('/d1/d2/d3/d4/d5/d6/d7/d8'));
      const dax = await readPass(m.vfs, dir, listing.files, { readSize: 128 * KiB + 3 });
      assert.equal(dax.mismatches, []);
      const big = await checkFile(m.vfs, '/m9', path.join(dir, 'm9'), 4096);
      assert.is(big, null, 'page-sized reads');
      const s = (await m.dax())!.stats;
      assert.is((await m.dax())!.chunkSize, chunkSize === '2M' ? 2 * MiB : 4 * KiB);
      assert.ok(s.chunksEvicted > 0, 'a window of four chunks evicts');
      assert.ok(s.setupMappingSent > 0 && s.hits > 0);
      assert.is(s.bytesFuseRead, 0, 'dax=always read nothing by FUSE_READ');
      assert.is(Object.values(s.fallbacks).reduce((a, b) => a + b, 0), 0, 'no fallbacks');
      const fuseVfs = await secondMount(m, 'never');
      const fuse = await readPass(fuseVfs, dir, listing.files, { readSize: MiB });
      assert.equal(fuse.mismatches, []);
      assert.is(s.bytesFuseRead, fuse.bytes, 'the FUSE_READ pass is counted by the shared manager');
      assert.equal(await checkSymlinks(m.vfs, dir, listing.symlinks), []);
      await fuseVfs.umount('/');
      // With the adaptive rule (the default), the window evicting this much serves
      // misses with FUSE_READ: still every byte right, the choice counted.
      const adaptiveVfs = await secondMount(m, 'always');
      const before = s.bytesFuseRead;
      const adaptive = await readPass(adaptiveVfs, dir, listing.files, { readSize: 128 * KiB + 3 });
      assert.equal(adaptive.mismatches, []);
      assert.ok(s.adaptiveMisses > 0 && s.bytesFuseRead > before, 'the rule served misses with FUSE_READ');
      assert.is(Object.values(s.fallbacks).reduce((a, b) => a + b, 0), 0, 'not failures');
      await adaptiveVfs.umount('/');
    } finally {
      await m.close();
    }
  });
}

t('two mounts of one device share one DaxManager', async () => {
  const v = vmms[0]!;
  const m = await mountShare({ connect: v.address, token: v.token, dax: 'always' });
  const other = await secondMount(m, 'always');
  try {
    const mgr = await m.dax();
    const fsOf = (vfs: Vfs) => vfs.mounts()[0]!.fs as VirtiofsMount;
    assert.ok(mgr);
    assert.is(fsOf(m.vfs).conn.dax, mgr, 'mount 1');
    assert.is(fsOf(other).conn.dax, mgr, 'mount 2: the same instance');
    const fd = await m.vfs.open('/m2plus', O_RDONLY); // held open: its mapping stays
    await m.vfs.read(fd, 3 * MiB);
    const before = mgr!.stats.snapshot();
    assert.is(await checkFile(other, '/m2plus', path.join(dir, 'm2plus')), null);
    const after = mgr!.stats.snapshot();
    assert.ok(after.hits > before.hits, 'the second mount hits the first one\'s mapping');
    assert.is(after.setupMappingSent, before.setupMappingSent, 'no new SETUPMAPPING');
    await m.vfs.close(fd);
  } finally {
    await other.umount('/');
    await m.close();
  }
});

t('a device without a window: FUSE_READ only, dax says so, dax=always refused', async () => {
  const v = await vmm('0');
  const m = await mountShare({ connect: v.address, token: v.token });
  try {
    assert.is(m.remote.driver.getDax(), undefined);
    assert.is(await m.dax(), undefined);
    assert.is(await checkFile(m.vfs, '/m9', path.join(dir, 'm9')), null);
    let out = '';
    const ctx: ShellContext = {
      vfs: m.vfs, tag: 'myfs', windowSize: 0, dax: () => m.dax(), json: true, cwd: '/', out: { write: (c) => { out += c; } }, names: new Map(),
    };
    await runCommand(ctx, ['dax']);
    assert.equal(JSON.parse(out), { window: null, stats: null });
    ctx.json = false;
    out = '';
    await runCommand(ctx, ['dax']);
    assert.match(out, /no cache window: every read is a FUSE_READ/);
  } finally {
    await m.close();
  }
  let refused: unknown;
  try { await (await mountShare({ connect: v.address, token: v.token, dax: 'always' })).close(); } catch (e) { refused = e; }
  assert.ok(refused instanceof ErrnoError && refused.errno === Errno.EINVAL, 'dax=always without a window: EINVAL');
});

t('16 readers at once through a four-chunk window, all correct', async () => {
  const v = vmms[0]!;
  const m = await mountShare({ connect: v.address, token: v.token, dax: 'always' });
  try {
    const names = ['m9', 'm2', 'm2plus', 'm2minus', 'p4097', 'one', 'm9', 'm2plus', 'many/f999', 'many/f500', 'p4095', 'm9', 'empty', 'm2', 'p4096', 'link'];
    const res = await within(60000, Promise.all(names.map((n, i) => checkFile(m.vfs, `/${n}`, path.join(dir, n), 64 * KiB + i))), 'readers');
    assert.equal(res, names.map(() => null));
    assert.ok((await m.dax())!.stats.chunksEvicted > 0);
  } finally {
    await m.close();
  }
});

t('the device model killed mid-read: every pending read rejects with EIO, nothing hangs', async () => {
  const v = await vmm('8M');
  const m = await mountShare({ connect: v.address, token: v.token, dax: 'always' });
  const fuseVfs = await secondMount(m, 'never');
  let started = 0;
  // Half read by FUSE_READ, half through DAX across the 9 MiB file, which
  // does not fit the 8 MiB window: both keep requests in flight.
  const reader = async (i: number): Promise<unknown> => {
    const vfs = i % 2 ? fuseVfs : m.vfs;
    const fd = await vfs.open('/m9', O_RDONLY);
    started++;
    try {
      for (let round = 0; round < 100000; round++) {
        await vfs.pread(fd, 256 * KiB, ((round * 7 + i) * 256 * KiB) % (9 * MiB));
      }
      return 'finished';
    } catch (e) {
      return e;
    }
  };
  const readers = Array.from({ length: 16 }, (_, i) => reader(i));
  while (started < 16) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  v.child.kill('SIGKILL');
  const results = await within(10000, Promise.all(readers), 'reads after SIGKILL');
  for (const r of results) assert.ok(r instanceof ErrnoError && r.errno === Errno.EIO, `EIO, got ${String(r)}`);
  assert.ok(Date.now() - t0 < 5000, 'promptly');
  const again = await within(5000, m.vfs.stat('/one').then(() => 'ok', (e) => e), 'a call after the loss');
  assert.ok(again instanceof ErrnoError && again.errno === Errno.EIO, 'later calls fail with EIO too');
  await within(10000, fuseVfs.umount('/', 1).catch(() => undefined), 'umount after the loss');
  await within(10000, m.close().catch(() => undefined), 'close after the loss');
  // A SIGKILLed device model cannot remove its guest RAM file: the test does.
  for (const n of fs.readdirSync('/dev/shm')) if (n.startsWith(`virtiofs-${v.child.pid}-`)) fs.rmSync(path.join('/dev/shm', n), { force: true });
});

t.run();
