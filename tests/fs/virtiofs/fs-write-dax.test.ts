// DAX writes through the filesystem (Linux's fuse_dax_write_iter; read and
// write DAX mappings, Liu Bo, 2019): writes inside the file through the
// window (upgrading a read mapping in place), extending writes as
// FUSE_WRITE, ENOSPC at map time to the writer, truncation removing the
// chunks past the end before the SETATTR, fsync reaching the server, the
// mount options; and per-file DAX's changed hint (per-file DAX for
// virtio-fs, Jeffle Xu, 2021) applied after the last close.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, O_RDWR, Vfs } from '../../../core/vfs';
import { VirtiofsFileSystemType, connectionOf } from '../../../fs/virtiofs';
import * as K from '../../../fs/fuse';
import { FakeFuseDevice, content, settle } from './fs-fake-device';
import { mounted, same } from './fs-helpers';

const CS = 64 * 1024;
const t = suite('virtiofs DAX writes');

async function dax(dev: FakeFuseDevice) {
  return (await connectionOf(dev))!.dax!;
}

function setups(dev: FakeFuseDevice) {
  return dev.log.flatMap((r) => (r.opcode === K.FUSE_SETUPMAPPING
    ? [{ write: (r.body.flags & K.FUSE_SETUPMAPPING_FLAG_WRITE) !== 0n, moffset: Number(r.body.moffset), foffset: Number(r.body.foffset) }]
    : []));
}

async function rejects(p: Promise<unknown>, errno: number): Promise<void> {
  try { await p; } catch (e) { assert.instance(e, ErrnoError); assert.is((e as ErrnoError).errno, errno); return; }
  assert.unreachable(`expected ${errno}`);
}

t('a write over a read mapping: one SETUPMAPPING with WRITE at the same moffset, no FUSE_WRITE, the bytes in the file', async () => {
  const { dev, vfs } = await mounted({}, { 'chunk-size': '64k' }, (d) => d.file(1n, 'f', content(1, 3 * CS)));
  const fd = await vfs.open('/f', O_RDWR);
  assert.ok(same(await vfs.pread(fd, 100, CS + 5), content(1, 3 * CS).subarray(CS + 5, CS + 105)));
  const [ro] = setups(dev);
  assert.equal(ro, { write: false, moffset: 0, foffset: CS });
  assert.is(await vfs.pwrite(fd, new Uint8Array(10).fill(0xee), CS + 50), 10);
  assert.equal(setups(dev), [ro, { write: true, moffset: 0, foffset: CS }]);
  assert.is(dev.count(K.FUSE_WRITE), 0);
  const node = dev.nodes.get(dev.nodes.get(1n)!.children!.get('f')!)!;
  assert.ok(node.data!.subarray(CS + 50, CS + 60).every((b) => b === 0xee));
  // The next write there is a hit; a write elsewhere maps for writing at once.
  await vfs.pwrite(fd, new Uint8Array(10).fill(1), CS);
  await vfs.pwrite(fd, new Uint8Array(10).fill(2), 2 * CS + 7);
  assert.equal(setups(dev).slice(2), [{ write: true, moffset: CS, foffset: 2 * CS }]);
  assert.is((await dax(dev)).stats.upgrades, 1);
  assert.is((await dax(dev)).stats.writeMappings, 1);
  // fsync reaches the server.
  await vfs.fsync(fd);
  assert.is(dev.count(K.FUSE_FSYNC), 1);
  await vfs.close(fd);
});

t('an extending write is a FUSE_WRITE; then the window covers the new size', async () => {
  const { dev, vfs } = await mounted({}, { 'chunk-size': '64k' }, (d) => d.file(1n, 'f', content(1, 1000)));
  const fd = await vfs.open('/f', O_RDWR);
  await vfs.pread(fd, 10, 0); // chunk 0 mapped read-only
  assert.is(await vfs.pwrite(fd, new Uint8Array(500).fill(7), 900), 500, 'past the end: FUSE_WRITE');
  assert.is(dev.count(K.FUSE_WRITE), 1);
  assert.is((await vfs.fstat(fd)).size, 1400);
  const b = await vfs.pread(fd, 600, 800);
  assert.ok(same(b.subarray(0, 100), content(1, 1000).subarray(800, 900)));
  assert.ok(b.subarray(100).every((x) => x === 7), 'the new bytes through the same chunk');
  assert.is(dev.count(K.FUSE_READ), 0, 'no FUSE_READ: the mapping covers the new size');
  assert.is(setups(dev).length, 1);
  // A write that starts inside and ends outside extends too: all FUSE_WRITE, as Linux.
  await vfs.pwrite(fd, new Uint8Array(200).fill(9), 1300);
  assert.is(dev.count(K.FUSE_WRITE), 2);
  await vfs.close(fd);
});

t('ENOSPC at map time reaches the writer at once; a write spanning the refusal is short by exactly what was written', async () => {
  const { dev, vfs } = await mounted({}, { 'chunk-size': '64k' }, (d) => d.file(1n, 'f', new Uint8Array(4 * CS)));
  const node = dev.nodes.get(dev.nodes.get(1n)!.children!.get('f')!)!;
  dev.space = CS; // room for one write mapping
  const fd = await vfs.open('/f', O_RDWR);
  // Two chunks in one write mapping (OSv's stack maps a run at once): refused whole, nothing written.
  await rejects(vfs.pwrite(fd, new Uint8Array(2 * CS).fill(5), CS / 2), Errno.ENOSPC);
  assert.ok(node.data!.every((b) => b === 0));
  assert.is(await vfs.pwrite(fd, new Uint8Array(10).fill(5), 0), 10, 'one chunk fits');
  // Through chunk 0 (mapped for writing), then chunk 1 is refused: short by exactly what went.
  assert.is(await vfs.pwrite(fd, new Uint8Array(2 * CS).fill(6), CS / 2), CS / 2);
  await rejects(vfs.pwrite(fd, new Uint8Array(10).fill(7), CS), Errno.ENOSPC);
  assert.is(dev.count(K.FUSE_WRITE), 0, 'no FUSE_WRITE behind the writer\'s back');
  assert.ok(node.data!.subarray(0, 10).every((b) => b === 5));
  assert.ok(node.data!.subarray(CS / 2, CS).every((b) => b === 6));
  assert.ok(node.data!.subarray(CS).every((b) => b === 0), 'nothing half-written past what was reported');
  assert.is((await dax(dev)).stats.enospc, 3);
  // Reads never reserve: they still work.
  assert.is((await vfs.pread(fd, 10, 3 * CS)).length, 10);
  await vfs.close(fd);
});

t('truncate: REMOVEMAPPING of exactly the chunks past the end, before the SETATTR; no old bytes after it', async () => {
  const { dev, vfs } = await mounted({}, { 'chunk-size': '64k' }, (d) => d.file(1n, 'f', content(3, 4 * CS)));
  const fd = await vfs.open('/f', O_RDWR);
  for (let f = 0; f < 4; f++) await vfs.pread(fd, 1, f * CS); // chunks 0..3 at window chunks 0..3
  const before = dev.log.length;
  await vfs.ftruncate(fd, CS + 10);
  const after = dev.log.slice(before);
  const rm = after.findIndex((r) => r.opcode === K.FUSE_REMOVEMAPPING);
  const sa = after.findIndex((r) => r.opcode === K.FUSE_SETATTR);
  assert.ok(rm >= 0 && sa > rm, 'REMOVEMAPPING first');
  const removed = after.flatMap((r) => (r.opcode === K.FUSE_REMOVEMAPPING ? r.body.mappings.map((m) => [Number(m.moffset), Number(m.len)]) : []));
  assert.equal(removed, [[2 * CS, 2 * CS]], 'window chunks 2 and 3: file chunks 2 and 3');
  assert.is((await dax(dev)).stats.chunksTruncated, 2);
  await vfs.ftruncate(fd, 4 * CS); // zeros from CS + 10 on
  const b = await vfs.pread(fd, 3 * CS, CS);
  assert.ok(same(b.subarray(0, 10), content(3, 4 * CS).subarray(CS, CS + 10)));
  assert.ok(b.subarray(10).every((x) => x === 0), 'no old bytes through the window');
  await vfs.close(fd);
});

t('a punched hole: the next write there upgrades again', async () => {
  const { dev, vfs } = await mounted({}, { 'chunk-size': '64k' }, (d) => d.file(1n, 'f', new Uint8Array(2 * CS)));
  const fd = await vfs.open('/f', O_RDWR);
  await vfs.pwrite(fd, new Uint8Array(4), 0);
  await vfs.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);
  await vfs.pwrite(fd, new Uint8Array(4), 8);
  assert.equal(setups(dev).map((s) => s.write), [true, true]);
  assert.is(setups(dev)[1]!.moffset, setups(dev)[0]!.moffset);
  await vfs.close(fd);
});

t('dax=never writes with FUSE_WRITE only; dax=inode writes through the window only for FUSE_ATTR_DAX files', async () => {
  const never = await mounted({}, { dax: 'never' }, (d) => d.file(1n, 'f', new Uint8Array(100)));
  const fd = await never.vfs.open('/f', O_RDWR);
  await never.vfs.pwrite(fd, new Uint8Array(4), 0);
  assert.is(never.dev.count(K.FUSE_SETUPMAPPING), 0);
  assert.is(never.dev.count(K.FUSE_WRITE), 1);
  const inode = await mounted({}, { dax: 'inode' }, (d) => { d.file(1n, 'yes', new Uint8Array(100), true); d.file(1n, 'no', new Uint8Array(100)); });
  for (const name of ['yes', 'no']) {
    const f = await inode.vfs.open(`/${name}`, O_RDWR);
    await inode.vfs.pwrite(f, new Uint8Array(4), 0);
    await inode.vfs.close(f);
  }
  assert.is(inode.dev.count(K.FUSE_SETUPMAPPING), 1);
  assert.is(inode.dev.count(K.FUSE_WRITE), 1);
});

for (const [from, to] of [[true, false], [false, true]] as const) {
  t(`dax=inode, the hint goes ${from ? 'off' : 'on'}: the open file keeps its state; after the last close (default inode cache) the next open has the new one`, async () => {
    const { dev, vfs } = await mounted({}, { dax: 'inode' }, (d) => d.file(1n, 'f', content(1, 5000), from));
    const nodeid = dev.nodes.get(1n)!.children!.get('f')!;
    const fd = await vfs.open('/f', O_RDWR);
    const fd2 = await vfs.open('/f');
    await vfs.pread(fd, 10, 0);
    dev.nodes.get(nodeid)!.dax = to;
    await vfs.fstat(fd); // GETATTR: the hint changed
    await vfs.pread(fd, 10, 100);
    const mapsWhileOpen = dev.count(K.FUSE_SETUPMAPPING);
    assert.is(mapsWhileOpen, from ? 1 : 0, 'no switch while open');
    await vfs.close(fd);
    await settle();
    assert.is(dev.forgets.length, 0, 'still open by another fd');
    await vfs.close(fd2);
    await settle();
    assert.equal(dev.forgets.map((f) => f.nodeid), [nodeid], 'dropped at its last close, not kept in the inode cache');
    if (from) assert.ok(dev.count(K.FUSE_REMOVEMAPPING) > 0, 'its chunks went before the FORGET');
    const fd3 = await vfs.open('/f');
    const reads = dev.count(K.FUSE_READ);
    assert.ok(same(await vfs.pread(fd3, 100, 0), content(1, 5000).subarray(0, 100)));
    assert.is(dev.count(K.FUSE_SETUPMAPPING) > mapsWhileOpen, to, `DAX ${to ? 'on' : 'off'} now`);
    assert.is(dev.count(K.FUSE_READ) > reads, !to);
    await vfs.close(fd3);
  });
}

/** /f read once with its DAX hint `dax`, closed and kept unused in the
 *  inode cache; then the server flips the hint. */
async function cachedThenFlipped(dax: boolean) {
  const { dev, vfs } = await mounted({}, { dax: 'inode' }, (d) => d.file(1n, 'f', content(1, 5000), dax));
  const nodeid = dev.nodes.get(1n)!.children!.get('f')!;
  const fd = await vfs.open('/f');
  await vfs.pread(fd, 10, 0);
  await vfs.close(fd);
  await settle();
  assert.is(dev.forgets.length, 0, 'kept in the inode cache');
  dev.nodes.get(nodeid)!.dax = !dax;
  return { dev, vfs, nodeid };
}

t('dax=inode: an inode kept unused in the inode cache, its hint changed: the open that sees it keeps the old state; dropped at that open\'s last close', async () => {
  const { dev, vfs, nodeid } = await cachedThenFlipped(true);
  let fd = await vfs.open('/f'); // LOOKUP revives the cached inode: the hint changed, it is marked
  const reads = dev.count(K.FUSE_READ);
  assert.ok(same(await vfs.pread(fd, 100, 200), content(1, 5000).subarray(200, 300)));
  assert.is(dev.count(K.FUSE_READ), reads, 'still DAX while this open lasts');
  await vfs.close(fd);
  await settle();
  assert.equal(dev.forgets.map((f) => f.nodeid), [nodeid], 'not cached again');
  fd = await vfs.open('/f');
  const maps = dev.count(K.FUSE_SETUPMAPPING);
  assert.ok(same(await vfs.pread(fd, 100, 4000), content(1, 5000).subarray(4000, 4100)));
  assert.is(dev.count(K.FUSE_READ), reads + 1, 'FUSE_READ now');
  assert.is(dev.count(K.FUSE_SETUPMAPPING), maps);
  await vfs.close(fd);
});

t('dax=inode: a listing (READDIRPLUS) that shows an unused cached inode with another hint drops it at once', async () => {
  const { dev, vfs, nodeid } = await cachedThenFlipped(false);
  assert.ok((await vfs.readdirAll('/')).some((e) => e.name === 'f'));
  assert.ok(dev.count(K.FUSE_READDIRPLUS) >= 1);
  await settle();
  assert.equal(dev.forgets.map((f) => f.nodeid), [nodeid], 'forgotten with the listing, not kept');
  const fd = await vfs.open('/f');
  assert.ok(same(await vfs.pread(fd, 100, 0), content(1, 5000).subarray(0, 100)));
  assert.is(dev.count(K.FUSE_SETUPMAPPING), 1, 'the next open has the new state: DAX');
  await vfs.close(fd);
});

t('dax=always and dax=never ignore the per-inode flag (and a changed one keeps the inode cached)', async () => {
  const { dev, vfs } = await mounted({}, { dax: 'always' }, (d) => d.file(1n, 'f', content(1, 5000), false));
  const nodeid = dev.nodes.get(1n)!.children!.get('f')!;
  const fd = await vfs.open('/f');
  await vfs.pread(fd, 10, 0);
  assert.is(dev.count(K.FUSE_SETUPMAPPING), 1);
  dev.nodes.get(nodeid)!.dax = true;
  await vfs.fstat(fd);
  await vfs.close(fd);
  await settle();
  assert.is(dev.forgets.length, 0);
});

t('mount options: dax-placement, dax-adaptive; a later mount naming another placement, or dax=inode on a connection without it, is EINVAL', async () => {
  const dev = new FakeFuseDevice();
  const type = new VirtiofsFileSystemType({ log: () => {} });
  type.addDevice(dev);
  for (const bad of [{ 'dax-placement': 'fifo' }, { 'dax-adaptive': 'maybe' }] as Record<string, string>[]) await rejects(new Vfs().mount(type, 'fake', '/', bad), Errno.EINVAL);
  const a = new Vfs();
  await a.mount(type, 'fake', '/', { 'dax-placement': 'lru', 'dax-adaptive': 'off' });
  assert.is((await dax(dev)).placementName, 'lru');
  await rejects(new Vfs().mount(type, 'fake', '/', { 'dax-placement': 'lifo' }), Errno.EINVAL);
  await rejects(new Vfs().mount(type, 'fake', '/', { dax: 'inode' }), Errno.EINVAL);
  const b = new Vfs();
  await b.mount(type, 'fake', '/', { 'dax-placement': 'lru', dax: 'always' });
  await b.umount('/');
  await a.umount('/');
});

t.run();
