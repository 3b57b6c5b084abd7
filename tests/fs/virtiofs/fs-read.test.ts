// virtiofs reads: every byte through DAX and through FUSE_READ, eviction,
// small chunks, dax=inode, and what OSv's read path got wrong, fixed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import { Vfs } from '../../../core/vfs';
import { VirtiofsFileSystemType, connectionOf } from '../../../fs/virtiofs';
import * as K from '../../../fs/fuse';
import { FakeFuseDevice, content, settle } from './fs-fake-device';
import { mounted, same } from './fs-helpers';

const MiB = 1 << 20;
const SIZES = [0, 1, 4095, 4096, 4097, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 9 * MiB];

const t = suite('virtiofs read');

function files(sizes: number[]) {
  return (d: FakeFuseDevice) => sizes.forEach((n, i) => d.file(1n, `f${i}`, content(i + 1, n)));
}

async function stats(dev: FakeFuseDevice) {
  return (await connectionOf(dev))!.dax!.stats;
}

for (const [label, mountOpts] of [['DAX (2 MiB chunks)', {}], ['DAX (4 KiB chunks)', { 'chunk-size': '4096' }], ['FUSE_READ (dax=never)', { dax: 'never' }]] as const) {
  t(`every byte of files of ${SIZES.join(', ')} bytes through ${label}`, async () => {
    const { dev, readAll, vfs } = await mounted({ windowSize: 32 * MiB }, mountOpts, files(SIZES));
    for (let i = 0; i < SIZES.length; i++) {
      const got = await readAll(`/f${i}`, 3 * MiB + 7);
      assert.ok(same(got, content(i + 1, SIZES[i]!)), `f${i} (${SIZES[i]} bytes)`);
      // Odd offsets and lengths, and reads past the end.
      const fd = await vfs.open(`/f${i}`);
      const size = SIZES[i]!;
      for (const [off, len] of [[1, 4096], [size - 1, 10], [size, 10], [size + 5000, 10], [Math.floor(size / 2), 2 * MiB + 3]]) {
        if (off < 0) continue;
        const b = await vfs.pread(fd, len, off);
        assert.ok(same(b, content(i + 1, size).subarray(off, off + len)), `f${i} at ${off}+${len}`);
      }
      await vfs.close(fd);
    }
    const s = await stats(dev);
    const total = SIZES.reduce((a, b) => a + b, 0);
    if (label.startsWith('DAX')) {
      assert.is(dev.count(K.FUSE_READ), 0, 'no FUSE_READ');
      assert.ok(s.bytesDax >= total);
      assert.is(s.bytesFuseRead, 0);
    } else {
      assert.is(dev.count(K.FUSE_SETUPMAPPING), 0, 'no SETUPMAPPING');
      assert.ok(s.bytesFuseRead >= total);
      assert.is(s.bytesDax, 0);
    }
  });
}

t('FUSE_READ goes in pieces of max_pages pages', async () => {
  const { dev, readAll } = await mounted({ maxPages: 4 }, { dax: 'never' }, files([100_000]));
  assert.ok(same(await readAll('/f0', 100_000), content(1, 100_000)));
  const sizes = dev.log.flatMap((r) => (r.opcode === K.FUSE_READ ? [r.body.size] : []));
  assert.equal(sizes, [16384, 16384, 16384, 16384, 16384, 16384, 100_000 - 6 * 16384]);
});

t('a window of 3 chunks: eviction, and every byte still right', async () => {
  const sizes = [8192, 12288, 5000, 20000, 4096];
  const { dev, readAll } = await mounted({ windowSize: 3 * 4096 }, { 'chunk-size': '4k' }, files(sizes));
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < sizes.length; i++) assert.ok(same(await readAll(`/f${i}`, 3000), content(i + 1, sizes[i]!)), `f${i}`);
  }
  const s = await stats(dev);
  assert.ok(s.chunksEvicted > 0, 'chunks were evicted');
  assert.is(dev.count(K.FUSE_READ), 0);
  assert.ok(dev.window!.mappings().every((m) => m.moffset + m.len <= 3 * 4096));
});

t('dax=inode maps only the files whose attr carries FUSE_ATTR_DAX', async () => {
  const { dev, readAll } = await mounted({}, { dax: 'inode' }, (d) => {
    d.file(1n, 'yes', content(1, 10_000), true);
    d.file(1n, 'no', content(2, 10_000), false);
  });
  const yes = dev.nodes.get(1n)!.children!.get('yes')!;
  assert.ok(same(await readAll('/yes'), content(1, 10_000)));
  assert.ok(same(await readAll('/no'), content(2, 10_000)));
  const mapped = dev.log.flatMap((r) => (r.opcode === K.FUSE_SETUPMAPPING ? [r.nodeid] : []));
  const read = dev.log.flatMap((r) => (r.opcode === K.FUSE_READ ? [r.nodeid] : []));
  assert.equal(mapped, [yes]);
  assert.ok(read.length > 0 && read.every((n) => n !== yes));
});

t('ENOSYS to SETUPMAPPING: exactly one SETUPMAPPING, then FUSE_READ only (not one per read)', async () => {
  const { dev, readAll } = await mounted({}, {}, files([5000, 3 * MiB, 1]));
  dev.setupErrno = Errno.ENOSYS;
  for (let round = 0; round < 3; round++) {
    for (const [i, n] of [5000, 3 * MiB, 1].entries()) assert.ok(same(await readAll(`/f${i}`, 70_000), content(i + 1, n)));
  }
  assert.is(dev.count(K.FUSE_SETUPMAPPING), 1);
  assert.ok(dev.count(K.FUSE_READ) > 0);
  const s = await stats(dev);
  assert.is(s.bytesFuseRead, 3 * (5000 + 3 * MiB + 1));
});

t('a DAX read failing part-way reads the rest with FUSE_READ', async () => {
  const { dev, vfs } = await mounted({}, { 'chunk-size': '4k' }, files([5 * 4096 + 17]));
  dev.setupFailAfter = 1;
  const fd = await vfs.open('/f0');
  // Chunk 0 maps; the SETUPMAPPING for the rest fails.
  const a = await vfs.pread(fd, 4096, 0);
  const b = await vfs.pread(fd, 4 * 4096 + 17, 4096);
  assert.ok(same(a, content(1, 5 * 4096 + 17).subarray(0, 4096)));
  assert.ok(same(b, content(1, 5 * 4096 + 17).subarray(4096)));
  const s = await stats(dev);
  assert.is(s.fallbacks.setupmapping, 1);
  assert.is(s.bytesFuseRead, 4 * 4096 + 17);
  await vfs.close(fd);
});

t('no map alignment announced (or 0): the page size, not a shift by -1', async () => {
  for (const mapAlignment of [undefined, 0]) {
    const { dev, readAll } = await mounted({ mapAlignment }, { 'chunk-size': '4096' }, files([10_000]));
    const conn = (await connectionOf(dev))!;
    assert.is(conn.info.mapAlignment, 12);
    assert.is(conn.dax!.mapAlignment, 12);
    assert.ok(same(await readAll('/f0'), content(1, 10_000)));
    assert.is(dev.count(K.FUSE_READ), 0);
  }
  // A chunk size that is not a multiple of the page size is refused.
  const dev = new FakeFuseDevice({ mapAlignment: undefined });
  const type = new VirtiofsFileSystemType({ log: () => {} });
  type.addDevice(dev);
  try {
    await new Vfs().mount(type, 'fake', '/', { 'chunk-size': '2048' });
    assert.unreachable('mounted');
  } catch (e) {
    assert.is((e as ErrnoError).errno, Errno.EINVAL);
  }
});

t('the device is told the FUSE_INIT record (the map alignment in force) and forgets it after DESTROY', async () => {
  for (const [announced, inForce] of [[16, 16], [undefined, 12], [0, 12]] as const) {
    const { dev, vfs } = await mounted({ mapAlignment: announced }, {}, files([10]));
    const conn = (await connectionOf(dev))!;
    assert.equal(dev.inits, [conn.info]);
    assert.is(dev.inits[0]!.mapAlignment, inForce);
    await vfs.umount('/');
    assert.equal(dev.inits.at(-1), undefined);
    assert.is(dev.count(K.FUSE_DESTROY), 1);
  }
});

t('a short FUSE_READ reply: the length that came is used (not the length asked)', async () => {
  const { dev, vfs } = await mounted({}, { dax: 'never' }, files([10_000]));
  const fd = await vfs.open('/f0');
  dev.shortRead = 1000;
  const b = await vfs.pread(fd, 4096, 0);
  assert.is(b.length, 1000);
  assert.ok(same(b, content(1, 10_000).subarray(0, 1000)));
  assert.is((await stats(dev)).bytesFuseRead, 1000);
  await vfs.close(fd);
});

t('aggressive maps the rest of the file on the first miss', async () => {
  const size = 10 * 4096 + 5;
  const { dev, vfs } = await mounted({}, { 'chunk-size': '4k', aggressive: 'true' }, files([size]));
  const fd = await vfs.open('/f0');
  assert.ok(same(await vfs.pread(fd, 100, 4096 + 3), content(1, size).subarray(4096 + 3, 4096 + 103)));
  const setups = dev.log.filter((r) => r.opcode === K.FUSE_SETUPMAPPING);
  assert.is(setups.length, 1);
  const s0 = setups[0]!;
  if (s0.opcode === K.FUSE_SETUPMAPPING) {
    assert.is(s0.body.foffset, 4096n);
    assert.is(s0.body.len, 10n * 4096n);
    assert.is(s0.body.flags, K.FUSE_SETUPMAPPING_FLAG_READ);
  }
  for (let off = 4096; off < size; off += 3000) await vfs.pread(fd, 3000, off);
  assert.is(dev.count(K.FUSE_SETUPMAPPING), 1, 'the rest of the file was already mapped');
  await vfs.close(fd);
  // Without the option, the same read maps one chunk.
  const plain = await mounted({}, { 'chunk-size': '4k' }, files([size]));
  const fd2 = await plain.vfs.open('/f0');
  await plain.vfs.pread(fd2, 100, 4096 + 3);
  const p0 = plain.dev.log.find((r) => r.opcode === K.FUSE_SETUPMAPPING)!;
  if (p0.opcode === K.FUSE_SETUPMAPPING) assert.is(p0.body.len, 4096n);
});

t('a dropped file leaves the window: REMOVEMAPPING before its FORGET', async () => {
  // inode-cache=0: a closed file's inode is dropped at once.
  const { dev, readAll } = await mounted({}, { 'chunk-size': '4k', 'inode-cache': '0' }, files([3 * 4096, 4096]));
  await readAll('/f0');
  await readAll('/f1');
  await settle();
  assert.is(dev.window!.mappings().length, 0);
  assert.ok(dev.count(K.FUSE_REMOVEMAPPING) >= 1);
  const f0 = dev.nodes.get(1n)!.children!.get('f0')!;
  const iRemove = dev.log.findIndex((r) => r.opcode === K.FUSE_REMOVEMAPPING);
  const iForget = dev.log.findIndex((r) => r.opcode === K.FUSE_FORGET && r.nodeid === f0);
  assert.ok(iRemove >= 0 && iRemove < iForget, 'REMOVEMAPPING comes first');
});

t('no window: reads go through FUSE_READ, with no SETUPMAPPING', async () => {
  const { dev, readAll } = await mounted({ windowSize: 0 }, {}, files([70_000]));
  assert.ok(same(await readAll('/f0', 9999), content(1, 70_000)));
  assert.is(dev.count(K.FUSE_SETUPMAPPING), 0);
  assert.is((await connectionOf(dev))!.dax, null);
});

t('concurrent readers of many files through a small window', async () => {
  const sizes = Array.from({ length: 24 }, (_, i) => (i * 37_321) % 300_000 + (i % 3 === 0 ? 0 : 1));
  const { dev, vfs } = await mounted({ windowSize: 4 * 65536 }, { 'chunk-size': '64k', 'inode-cache': '0' }, files(sizes));
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  dev.delay = () => new Promise((r) => setTimeout(r, Math.floor(rnd() * 3)));
  const reader = async (k: number) => {
    for (let j = 0; j < sizes.length; j++) {
      const i = (j * 5 + k * 7) % sizes.length;
      const fd = await vfs.open(`/f${i}`);
      const off = Math.floor(rnd() * sizes[i]!);
      const len = 1 + Math.floor(rnd() * 100_000);
      const b = await vfs.pread(fd, len, off);
      assert.ok(same(b, content(i + 1, sizes[i]!).subarray(off, off + len)), `reader ${k} f${i} at ${off}+${len}`);
      await vfs.close(fd);
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, k) => reader(k)));
  dev.delay = undefined;
  await settle();
  assert.equal(dev.liveLookups(), []);
  assert.is(dev.openHandles.size, 0);
  assert.ok((await stats(dev)).chunksEvicted > 0);
});

t('closed files keep their inode and mappings (inode-cache); the oldest goes past the limit', async () => {
  const { dev, vfs, readAll } = await mounted({}, { 'chunk-size': '4k', 'inode-cache': '2' }, files([4096, 4096, 4096]));
  await readAll('/f0');
  await readAll('/f0');
  await settle();
  assert.is(dev.count(K.FUSE_SETUPMAPPING), 1, 'the reopened file reads through its mapping');
  assert.is(dev.count(K.FUSE_FORGET), 0);
  assert.is(dev.count(K.FUSE_REMOVEMAPPING), 0);
  assert.is((await stats(dev)).hits, 1);
  await readAll('/f1');
  await readAll('/f2');
  await settle();
  // Three unused inodes, room for two: f0's lookups go back, its range is freed first.
  assert.is(dev.count(K.FUSE_FORGET) + dev.count(K.FUSE_BATCH_FORGET), 1);
  assert.is(dev.count(K.FUSE_REMOVEMAPPING), 1);
  const f0 = dev.nodes.get(1n)!.children!.get('f0')!;
  assert.ok(!dev.liveLookups().includes(f0), 'f0 forgotten');
  await vfs.umount('/');
  await settle();
  assert.equal(dev.liveLookups(), [], 'unmount forgets the cached inodes');
});

t.run();
