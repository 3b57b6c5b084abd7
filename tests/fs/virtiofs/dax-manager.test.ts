// DaxManager beyond OSv's fixtures: read path, coalescing, eviction order,
// find, aggressive prefetch, fallbacks, alignment, REMOVEMAPPING, statistics.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import { DaxManager, MemoryDaxPort, MemoryDaxPortOptions, REMOVEMAPPING_MAX_RANGES } from '../../../fs/virtiofs/dax';

const CS = 4096;

function content(nodeid: bigint, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (Number(nodeid) * 131 + i * 7 + (i >> 8)) & 255;
  return b;
}

function setup(chunks: number, files: Record<string, number>, opts: Partial<MemoryDaxPortOptions> = {}, chunkSize = CS) {
  const device = new MemoryDaxPort({ windowSize: chunks * chunkSize, ...opts });
  const sizes = new Map<bigint, number>();
  for (const [k, size] of Object.entries(files)) {
    device.files.set(BigInt(k), content(BigInt(k), size));
    sizes.set(BigInt(k), size);
  }
  const m = new DaxManager(device, { chunkSize, mapAlignment: 12 });
  const read = async (nodeid: bigint, offset: number, len: number, aggressive = false) => {
    const dst = new Uint8Array(len);
    const r = await m.read({ nodeid, size: sizes.get(nodeid)! }, nodeid + 100n, len, { offset, dst }, aggressive);
    const want = device.files.get(nodeid)!.subarray(offset, offset + r.bytes);
    assert.equal(dst.subarray(0, r.bytes), want, `bytes of ${nodeid} at ${offset}`);
    return r;
  };
  return { device, m, read };
}

const stackOf = (m: DaxManager) => m.snapshot().mappings.map((x) => [x.nodeid, x.mstart, x.nchunks, x.fstart]);

const t = suite('dax manager');

t('a sequential read maps chunk by chunk and coalesces into one mapping', async () => {
  const { m, device, read } = setup(8, { 1: 3 * CS });
  for (let off = 0; off < 3 * CS; off += 1000) await read(1n, off, 1000);
  assert.equal(stackOf(m), [[1n, 0, 3, 0]]);
  assert.is(device.setupCalls.length, 3);
  assert.equal(device.setupCalls.map((c) => [c.foffset, c.len, c.moffset, c.write, c.fh]), [
    [0, CS, 0, false, 101n], [CS, CS, CS, false, 101n], [2 * CS, CS, 2 * CS, false, 101n],
  ]);
});

t('mappings of other files, or not continuing the top one, do not coalesce', async () => {
  const { m, read } = setup(8, { 1: 8 * CS, 2: CS });
  await read(1n, 0, 10);
  await read(2n, 0, 10);
  await read(1n, CS, 10); // continues file 1, but file 2 is on top
  await read(1n, 3 * CS, 10); // a gap in the file
  assert.equal(stackOf(m), [[1n, 0, 1, 0], [2n, 1, 1, 0], [1n, 2, 1, 1], [1n, 3, 1, 3]]);
});

t('eviction takes the highest (most recently mapped) chunks first', async () => {
  const { m, read } = setup(4, { 1: 2 * CS, 2: CS, 3: CS, 4: 2 * CS });
  await read(1n, 0, 2 * CS);
  await read(2n, 0, 1);
  await read(3n, 0, 1);
  assert.is(m.firstEmpty(), 4);
  await read(4n, 0, 2 * CS); // needs 2: file 3 then file 2 go
  assert.equal(stackOf(m), [[1n, 0, 2, 0], [4n, 2, 2, 0]]);
  assert.is(m.stats.chunksEvicted, 2);
  assert.is(m.find(2n, 0), null);
  assert.is(m.find(3n, 0), null);
  await read(2n, 0, 1); // evicts the top chunk of file 4 only
  assert.equal(stackOf(m), [[1n, 0, 2, 0], [4n, 2, 1, 0], [2n, 3, 1, 0]]);
  assert.equal(m.find(4n, 0), { mstart: 2, nchunks: 1 });
  assert.is(m.find(4n, 1), null);
});

t('find returns the run to the end of the mapping, and the lowest copy of a chunk mapped twice', async () => {
  const { m } = setup(10, { 1: 10 * CS });
  await m.map(1n, 1n, 2, 5); // f[5], f[6] at 0, 1
  await m.map(1n, 1n, 5, 3); // f[3..8) at 2..7: f[5], f[6] twice
  assert.equal(m.find(1n, 5), { mstart: 0, nchunks: 2 });
  assert.equal(m.find(1n, 6), { mstart: 1, nchunks: 1 });
  assert.equal(m.find(1n, 3), { mstart: 2, nchunks: 5 });
  assert.equal(m.find(1n, 7), { mstart: 6, nchunks: 1 });
  await m.unmap(5); // the second copy goes; the first stays found
  assert.equal(m.find(1n, 5), { mstart: 0, nchunks: 2 });
  assert.is(m.find(1n, 3), null);
  assert.is(m.find(1n, 7), null);
});

t('aggressive maps the rest of the file at once; later reads hit', async () => {
  const { m, device, read } = setup(8, { 1: 5 * CS - 100 });
  await read(1n, CS + 10, 10, true);
  assert.equal(device.setupCalls.map((c) => [c.foffset, c.len]), [[CS, 4 * CS]]);
  for (let off = CS; off < 5 * CS - 100; off += 777) await read(1n, off, 500);
  assert.is(device.setupCalls.length, 1);
  assert.is(m.stats.misses, 1);
  assert.ok(m.stats.hits >= 10);
  // Not aggressive: just enough chunks.
  const b = setup(8, { 1: 5 * CS });
  await b.read(1n, CS - 5, 10);
  assert.equal(b.device.setupCalls.map((c) => [c.foffset, c.len]), [[0, 2 * CS]]);
});

t('aggressive on a file larger than the window maps the whole window', async () => {
  const { m, device, read } = setup(4, { 1: CS, 2: 20 * CS });
  await read(1n, 0, 10);
  const r = await read(2n, 0, 10, true);
  assert.is(r.bytes, 10);
  assert.equal(stackOf(m), [[2n, 0, 4, 0]]);
  assert.equal(device.setupCalls[1], { nodeid: 2n, fh: 102n, foffset: 0, len: 4 * CS, moffset: 0, write: false });
});

t('a read larger than the window goes on until done, every byte right', async () => {
  const { m, read } = setup(3, { 1: 10 * CS + 123 });
  const r = await read(1n, 50, 10 * CS);
  assert.equal(r, { bytes: 10 * CS, fallback: null });
  assert.is(m.stats.bytesDax, 10 * CS);
});

t('reads are clamped to the file size and the buffer', async () => {
  const { m, device, read } = setup(4, { 1: CS + 100 });
  assert.equal(await read(1n, CS + 90, 1000), { bytes: 10, fallback: null });
  assert.equal(await read(1n, CS + 100, 1000), { bytes: 0, fallback: null });
  assert.equal(await read(1n, 5 * CS, 1000), { bytes: 0, fallback: null });
  assert.is(device.setupCalls.length, 1);
  const dst = new Uint8Array(8);
  const r = await m.read({ nodeid: 1n, size: CS + 100 }, 1n, 1000, { offset: 4, dst });
  assert.is(r.bytes, 8);
  assert.equal(dst, device.files.get(1n)!.subarray(4, 12));
});

t('bad arguments reject with EINVAL', async () => {
  const { m } = setup(4, { 1: CS });
  for (const [off, amt, size] of [[-1, 1, 10], [0, -1, 10], [0.5, 1, 10], [0, 1, NaN]] as const) {
    try {
      await m.read({ nodeid: 1n, size }, 1n, amt, { offset: off, dst: new Uint8Array(4) });
      assert.unreachable();
    } catch (e) {
      assert.is((e as ErrnoError).errno, Errno.EINVAL);
    }
  }
});

t('ENOSYS from SETUPMAPPING is remembered: no second SETUPMAPPING, reads fall back at once', async () => {
  const { m, device, read } = setup(4, { 1: CS, 2: CS }, { fail: () => Errno.ENOSYS });
  assert.ok(m.canMap);
  assert.equal(await read(1n, 0, 10), { bytes: 0, fallback: { reason: 'enosys', errno: Errno.ENOSYS } });
  assert.not.ok(m.canMap);
  assert.equal(await read(2n, 0, 10), { bytes: 0, fallback: { reason: 'enosys', errno: Errno.ENOSYS } });
  assert.equal(await read(1n, 0, 10), { bytes: 0, fallback: { reason: 'enosys', errno: Errno.ENOSYS } });
  assert.is(device.setupCalls.length, 1);
  assert.is(m.stats.setupMappingSent, 1);
  assert.is(m.stats.fallbacks.enosys, 3);
  assert.not.ok(m.snapshot().canMap);
});

t('ENOSYS while other reads wait for the lock: they do not send SETUPMAPPING either', async () => {
  const { m, device } = setup(4, { 1: CS, 2: CS, 3: CS }, {
    fail: () => Errno.ENOSYS,
    delay: () => new Promise((r) => setTimeout(r, 2)),
  });
  const rs = await Promise.all([1n, 2n, 3n].map((n) => m.read({ nodeid: n, size: CS }, n, 10, { offset: 0, dst: new Uint8Array(10) })));
  assert.equal(rs.map((r) => r.fallback?.reason), ['enosys', 'enosys', 'enosys']);
  assert.is(device.setupCalls.length, 1);
});

t('other SETUPMAPPING errors fall back with the reason, and the next read tries again', async () => {
  let fail = [Errno.EIO, Errno.ENOMEM];
  const { m, device, read } = setup(4, { 1: 2 * CS }, { fail: () => fail.shift() ?? 0 });
  assert.equal(await read(1n, 0, 10), { bytes: 0, fallback: { reason: 'setupmapping', errno: Errno.EIO } });
  assert.equal(await read(1n, 0, 10), { bytes: 0, fallback: { reason: 'setupmapping', errno: Errno.ENOMEM } });
  assert.equal(await read(1n, 0, 10), { bytes: 10, fallback: null });
  assert.ok(m.canMap);
  assert.is(device.setupCalls.length, 3);
  assert.equal(m.stats.fallbackErrnos, { EIO: 1, ENOMEM: 1 });
  assert.is(m.stats.fallbacks.setupmapping, 2);
  // A failure part way: the bytes already read are reported with the fallback.
  fail = [Errno.EIO];
  assert.equal(await read(1n, CS - 10, 30), { bytes: 10, fallback: { reason: 'setupmapping', errno: Errno.EIO } });
  assert.equal(await read(1n, CS - 10, 30), { bytes: 30, fallback: null });
});

t('a device that throws something else than ErrnoError counts as EIO', async () => {
  const device = new MemoryDaxPort({ windowSize: 4 * CS });
  device.files.set(1n, new Uint8Array(CS));
  device.setupMapping = async () => { throw new TypeError('boom'); };
  const m = new DaxManager(device, { chunkSize: CS });
  const r = await m.read({ nodeid: 1n, size: CS }, 1n, 10, { offset: 0, dst: new Uint8Array(10) });
  assert.equal(r.fallback, { reason: 'setupmapping', errno: Errno.EIO });
});

t('no window, or one smaller than a chunk: fallback without any request', async () => {
  for (const windowSize of [0, CS - 1]) {
    const device = new MemoryDaxPort({ windowSize });
    device.files.set(1n, new Uint8Array(10));
    const m = new DaxManager(device, { chunkSize: CS });
    assert.is(m.windowChunks, 0);
    assert.not.ok(m.canMap);
    const r = await m.read({ nodeid: 1n, size: 10 }, 1n, 10, { offset: 0, dst: new Uint8Array(10) });
    assert.equal(r, { bytes: 0, fallback: { reason: 'no-window', errno: Errno.ENODEV } });
    assert.is(device.setupCalls.length, 0);
  }
});

t('no map alignment announced: the page size (not a shift by -1)', () => {
  const device = new MemoryDaxPort({ windowSize: 16 * CS });
  for (const mapAlignment of [undefined, -1]) {
    const m = new DaxManager(device, { chunkSize: CS, mapAlignment });
    assert.is(m.mapAlignment, 12);
    assert.is(m.windowChunks, 16);
    assert.throws(() => new DaxManager(device, { chunkSize: 2048, mapAlignment }), (e: ErrnoError) => e.errno === Errno.EINVAL);
    assert.throws(() => new DaxManager(device, { chunkSize: CS + 512, mapAlignment }), (e: ErrnoError) => e.errno === Errno.EINVAL);
  }
  assert.is(new DaxManager(device).chunkSize, DaxManager.DEFAULT_CHUNK_SIZE);
  assert.is(new DaxManager(device, { chunkSize: 1000, mapAlignment: 0 }).windowChunks, Math.floor((16 * CS) / 1000));
  assert.is(new DaxManager(device, { chunkSize: 1 << 21, mapAlignment: 21 }).mapAlignment, 21);
  assert.throws(() => new DaxManager(device, { chunkSize: CS, mapAlignment: 16 }), (e: ErrnoError) => e.errno === Errno.EINVAL);
  assert.throws(() => new DaxManager(device, { chunkSize: 0 }), (e: ErrnoError) => e.errno === Errno.EINVAL);
  assert.throws(() => new DaxManager(device, { chunkSize: CS, mapAlignment: 1.5 }), (e: ErrnoError) => e.errno === Errno.EINVAL);
});

t('eviction sends no REMOVEMAPPING: the next SETUPMAPPING reuses the chunks', async () => {
  const { m, device, read } = setup(2, { 1: 2 * CS, 2: 2 * CS });
  await read(1n, 0, 2 * CS);
  await read(2n, 0, 2 * CS);
  await read(1n, 0, 2 * CS);
  assert.is(device.removeCalls.length, 0);
  assert.is(m.stats.removeMappingSent, 0);
  assert.is(m.stats.chunksEvicted, 4);
  assert.equal(device.mapped.map((e) => [e.moffset, e.len, e.nodeid]), [[0, 2 * CS, 1n]]);
});

t('unmap(deep) sends REMOVEMAPPING for exactly the chunks taken off', async () => {
  const { m, device } = setup(6, { 1: 6 * CS });
  await m.map(1n, 1n, 4, 0);
  assert.equal(await m.unmap(3, true), { mstart: 1, nchunks: 3 });
  assert.equal(device.removeCalls, [[{ moffset: CS, len: 3 * CS }]]);
  assert.equal(device.mapped.map((e) => [e.moffset, e.len]), [[0, CS]]);
});

t('unmapAll frees every chunk the device may still map, evicted ones included', async () => {
  const { m, device, read } = setup(6, { 1: 6 * CS, 2: 2 * CS });
  await read(1n, 0, 10, true); // 6 chunks
  await m.unmap(4); // shallow: chunks 2..5 still mapped on the device
  await read(2n, 0, 10); // chunk 2
  assert.equal(stackOf(m), [[1n, 0, 2, 0], [2n, 2, 1, 0]]);
  await m.unmapAll();
  assert.equal(device.removeCalls, [[{ moffset: 0, len: 6 * CS }]]);
  assert.equal(device.mapped, []);
  assert.equal(stackOf(m), []);
  await m.unmapAll(); // nothing left: no request
  assert.is(device.removeCalls.length, 1);
  await read(1n, 0, 10); // still usable after
  assert.equal(stackOf(m), [[1n, 0, 1, 0]]);
});

t('dropInode removes the file from the stack and its chunks on the device, in batches of 256 ranges', async () => {
  const n = 300;
  const { m, device, read } = setup(2 * n, { 1: n * CS, 2: n * CS });
  for (let i = 0; i < n; i++) {
    await read(1n, i * CS, 1);
    await read(2n, i * CS, 1);
  }
  assert.is(m.snapshot().mappings.length, 2 * n);
  await m.dropInode(1n);
  assert.equal(device.removeCalls.map((c) => c.length), [REMOVEMAPPING_MAX_RANGES, n - REMOVEMAPPING_MAX_RANGES]);
  assert.equal(device.removeCalls.flat()[1], { moffset: 2 * CS, len: CS });
  assert.ok(device.mapped.every((e) => e.nodeid === 2n));
  assert.is(device.mapped.length, n);
  assert.is(m.find(1n, 0), null);
  const snap = m.snapshot();
  assert.is(snap.firstEmpty, 2 * n); // dropped mappings stay as tombstones below file 2's
  assert.is(snap.mappings.filter((x) => x.nodeid === null).length, n);
  assert.equal(m.find(2n, 7), { mstart: 15, nchunks: 1 });
  await m.dropInode(2n);
  assert.is(m.firstEmpty(), 0); // all tombstones: the stack empties
  assert.equal(device.mapped, []);
  assert.is(m.stats.removeMappingSent, 4);
  await m.dropInode(3n); // never mapped: no request
  assert.is(m.stats.removeMappingSent, 4);
});

t('dropInode also removes evicted chunks the device still maps to the file; tombstones are evicted like mappings', async () => {
  const { m, device, read } = setup(4, { 1: 4 * CS, 2: CS, 3: 4 * CS });
  await read(1n, 0, 10, true);
  await m.unmap(2);
  await read(2n, 0, 10); // chunk 2 now file 2's; chunk 3 still file 1's on the device
  await m.dropInode(1n);
  assert.equal(device.removeCalls, [[{ moffset: 0, len: 2 * CS }, { moffset: 3 * CS, len: CS }]]);
  assert.equal(stackOf(m), [[null, 0, 2, 0], [2n, 2, 1, 0]]);
  await read(3n, 0, 10, true); // evicts file 2 and the tombstone
  assert.equal(stackOf(m), [[3n, 0, 4, 0]]);
  assert.is(m.stats.chunksEvicted, 2 + 1); // live chunks only: file 1's 2 by unmap, then file 2's 1 (not the tombstone's)
});

t('after a failed SETUPMAPPING its chunks are removed by any dropInode (their state is unknown)', async () => {
  let fail = 0;
  const { m, device, read } = setup(4, { 1: CS, 2: CS }, { fail: () => fail });
  await read(1n, 0, 10);
  fail = Errno.EIO;
  await read(2n, 0, 10);
  fail = 0;
  await m.dropInode(1n);
  assert.equal(device.removeCalls, [[{ moffset: 0, len: 2 * CS }]]);
});

t('REMOVEMAPPING errors reject after every batch was tried; what failed is tried again', async () => {
  const { m, device, read } = setup(4, { 1: 4 * CS });
  await read(1n, 0, 10, true);
  const real = device.removeMapping.bind(device);
  let fails = 1;
  device.removeMapping = async (r) => { if (fails-- > 0) throw new ErrnoError(Errno.EIO); return real(r); };
  try {
    await m.unmapAll();
    assert.unreachable();
  } catch (e) {
    assert.is((e as ErrnoError).errno, Errno.EIO);
  }
  assert.is(m.firstEmpty(), 0);
  await m.unmapAll();
  assert.equal(device.mapped, []);
  assert.is(m.stats.removeMappingSent, 2);
});

t('statistics and snapshot', async () => {
  const { m, read } = setup(4, { 7: 3 * CS });
  await read(7n, 0, 10);
  await read(7n, 5, 10);
  await read(7n, CS, 10, true);
  m.noteFuseRead(4096);
  m.noteFuseRead(-1); // ignored
  const s = m.stats.snapshot();
  assert.equal(s, {
    hits: 1, misses: 2, chunksMapped: 3, chunksEvicted: 0, setupMappingSent: 2, removeMappingSent: 0,
    writeMappings: 0, upgrades: 0, enospc: 0, chunksTruncated: 0, reclaimRuns: 0, adaptiveSwitches: 0, adaptiveMisses: 0,
    fallbacks: { 'no-window': 0, enosys: 0, setupmapping: 0, copy: 0 }, fallbackErrnos: {},
    bytesDax: 30, bytesDaxWritten: 0, bytesFuseRead: 4096,
  });
  assert.equal(m.snapshot(), {
    chunkSize: CS, windowChunks: 4, firstEmpty: 3, freeChunks: 1, placement: 'lifo', canMap: true, bypassing: false,
    mappings: [{ nodeid: 7n, mstart: 0, nchunks: 3, fstart: 0, foffset: 0, moffset: 0, writable: false }],
  });
});

t('hits do not wait for another read\'s SETUPMAPPING', async () => {
  let hold: () => void = () => {};
  let holding = false;
  const { m, read } = setup(4, { 1: CS, 2: CS }, {
    delay: () => (holding ? new Promise<void>((r) => { hold = r; }) : Promise.resolve()),
  });
  await read(1n, 0, 10);
  holding = true;
  const slow = read(2n, 0, 10);
  const fast = await read(1n, 0, 10);
  assert.is(fast.bytes, 10);
  assert.ok(m.find(2n, 0) === null); // not visible until its SETUPMAPPING completes
  hold();
  assert.is((await slow).bytes, 10);
});

t('the fake window refuses reads of unmapped ranges, past EOF, or in flight', async () => {
  let hold: () => void = () => {};
  const device = new MemoryDaxPort({ windowSize: 4 * CS, delay: () => new Promise<void>((r) => { hold = r; }) });
  device.files.set(1n, new Uint8Array(CS + 10));
  assert.throws(() => device.window.read(0, new Uint8Array(1)), /not mapped/);
  const p = device.setupMapping({ nodeid: 1n, fh: 1n, foffset: 0, len: 2 * CS, moffset: 0, write: false });
  assert.throws(() => device.window.read(0, new Uint8Array(1)), /in flight/);
  hold();
  await p;
  device.window.read(CS, new Uint8Array(10));
  assert.throws(() => device.window.read(CS, new Uint8Array(11)), /past the end/);
});

t.run();
