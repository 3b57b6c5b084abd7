// The manager's write path (read and write DAX mappings, Liu Bo, 2019;
// Linux's fs/fuse/dax.c): reads map read-only, a write over a read mapping
// upgrades it with one SETUPMAPPING carrying WRITE at the same moffset, an
// unmapped range is mapped for writing at once, a refused write mapping
// comes back at once, truncation removes exactly the chunks past the end.
// Both placements.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import { DaxManager, MemoryDaxPort, type MemoryDaxPortOptions, type PlacementName } from '../../../fs/virtiofs/dax';

const CS = 4096;

function setup(chunks: number, sizes: Record<string, number>, placement: PlacementName, opts: Partial<MemoryDaxPortOptions> = {}) {
  const device = new MemoryDaxPort({ windowSize: chunks * CS, ...opts });
  for (const [k, size] of Object.entries(sizes)) {
    const b = new Uint8Array(size);
    for (let i = 0; i < size; i++) b[i] = (Number(k) * 31 + i) & 255;
    device.files.set(BigInt(k), b);
  }
  const m = new DaxManager(device, { chunkSize: CS, placement });
  const inode = (n: bigint) => ({ nodeid: n, size: device.files.get(n)!.length });
  const read = async (n: bigint, offset: number, len: number) => {
    const dst = new Uint8Array(len);
    const r = await m.read(inode(n), 100n + n, len, { offset, dst });
    return { r, dst: dst.subarray(0, r.bytes) };
  };
  const write = (n: bigint, offset: number, data: Uint8Array) => m.write(inode(n), 100n + n, offset, data);
  return { device, m, read, write };
}

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

for (const placement of ['lifo', 'lru'] as const) {
  const t = suite(`dax write (${placement})`);

  t('a read maps read-only; a write over it upgrades it: one SETUPMAPPING with WRITE at the same moffset', async () => {
    const { device, m, read, write } = setup(4, { 1: 2 * CS }, placement);
    await read(1n, 0, 10);
    assert.equal(device.setupCalls.map((c) => [c.write, c.moffset, c.foffset, c.len]), [[false, 0, 0, CS]]);
    const moffset = device.setupCalls[0]!.moffset;
    assert.equal(await write(1n, 100, fill(50, 7)), { bytes: 50, fallback: null });
    assert.equal(device.setupCalls.map((c) => [c.write, c.moffset, c.foffset, c.len]), [[false, 0, 0, CS], [true, moffset, 0, CS]]);
    assert.is(m.stats.upgrades, 1);
    assert.is(m.stats.writeMappings, 0);
    assert.is(m.stats.chunksMapped, 1, 'no second chunk for the same file range');
    assert.equal(device.files.get(1n)!.subarray(100, 150), fill(50, 7));
    // Now writable: the next writes and reads are hits, no request.
    assert.is(m.writeHit({ nodeid: 1n, size: 2 * CS }, 0, fill(8, 9)), 8);
    assert.equal((await write(1n, 200, fill(3, 1))).bytes, 3);
    assert.equal((await read(1n, 0, 8)).dst, fill(8, 9));
    assert.is(device.setupCalls.length, 2);
    assert.equal(m.snapshot().mappings.map((x) => [x.mstart, x.nchunks, x.writable]), [[0, 1, true]]);
  });

  t('an unmapped range is mapped for writing at once; a write spanning chunks maps just those', async () => {
    const { device, m, write, read } = setup(8, { 1: 8 * CS }, placement);
    const data = fill(CS + 20, 5);
    assert.equal(await write(1n, 2 * CS - 10, data), { bytes: data.length, fallback: null });
    assert.ok(device.setupCalls.every((c) => c.write), 'write mappings only');
    assert.equal(device.setupCalls.map((c) => c.foffset).sort((a, b) => a - b), placement === 'lifo' ? [CS] : [CS, 2 * CS, 3 * CS]);
    assert.equal(device.setupCalls.reduce((n, c) => n + c.len, 0), 3 * CS);
    assert.is(m.stats.upgrades, 0);
    assert.equal(device.files.get(1n)!.subarray(2 * CS - 10, 3 * CS + 10), data);
    assert.equal((await read(1n, 2 * CS - 10, data.length)).dst, data, 'a read uses the write mapping');
    assert.is(device.setupCalls.length, placement === 'lifo' ? 1 : 3);
  });

  t('ENOSPC from the write mapping comes back at once; what was written before is counted, nothing else changed', async () => {
    let refuse = false;
    const { device, m, write } = setup(8, { 1: 4 * CS }, placement, { fail: (a) => (refuse && a.write ? Errno.ENOSPC : 0) });
    const before = device.files.get(1n)!.slice();
    assert.equal((await write(1n, 0, fill(CS, 1))).bytes, CS);
    refuse = true;
    const r = await write(1n, CS - 5, fill(2 * CS, 2)); // 5 bytes land in the first chunk, then ENOSPC
    assert.equal(r, { bytes: 5, fallback: { reason: 'setupmapping', errno: Errno.ENOSPC } });
    assert.is(m.stats.enospc, 1);
    const f = device.files.get(1n)!;
    assert.equal(f.subarray(0, CS - 5), fill(CS - 5, 1));
    assert.equal(f.subarray(CS - 5, CS), fill(5, 2));
    assert.equal(f.subarray(CS), before.subarray(CS), 'nothing past what was reported');
    // An upgrade refused the same way.
    const { m: m2, read: read2, write: write2 } = setup(4, { 1: CS }, placement, { fail: (a) => (a.write ? Errno.ENOSPC : 0) });
    await read2(1n, 0, 1);
    assert.equal(await write2(1n, 0, fill(4, 4)), { bytes: 0, fallback: { reason: 'setupmapping', errno: Errno.ENOSPC } });
    assert.equal(m2.snapshot().mappings, [], 'a failed upgrade leaves the index: its state is unknown');
  });

  t('other SETUPMAPPING errors: a fallback, FUSE_WRITE writes the rest; ENOSYS remembered', async () => {
    const { device, m, write } = setup(4, { 1: CS }, placement, { fail: () => Errno.ENOSYS });
    assert.equal(await write(1n, 0, fill(4, 4)), { bytes: 0, fallback: { reason: 'enosys', errno: Errno.ENOSYS } });
    assert.equal(await write(1n, 0, fill(4, 4)), { bytes: 0, fallback: { reason: 'enosys', errno: Errno.ENOSYS } });
    assert.is(device.setupCalls.length, 1);
    assert.not.ok(m.canMap);
  });

  t('bytes past the size are left to the caller (an extending write is a FUSE_WRITE)', async () => {
    const { write } = setup(4, { 1: 100 }, placement);
    assert.equal(await write(1n, 90, fill(20, 3)), { bytes: 10, fallback: null });
    assert.equal(await write(1n, 100, fill(20, 3)), { bytes: 0, fallback: null });
  });

  t('truncate removes exactly the chunks past the new end, and distrusts the last one for writing', async () => {
    const { device, m, read, write } = setup(10, { 1: 5 * CS, 2: CS }, placement);
    await write(1n, 0, fill(5 * CS, 1)); // five write mappings of file 1
    await read(2n, 0, 1);
    const moffsetOf = (f: number) => device.mapped.find((e) => e.nodeid === 1n && e.foffset <= f * CS && f * CS < e.foffset + e.len)!;
    const past = [3, 4].map((f) => moffsetOf(f).moffset + (f * CS - moffsetOf(f).foffset));
    device.removeCalls.length = 0;
    await m.truncate(1n, 2 * CS + 1); // chunks 0..2 stay, 3 and 4 go
    const removed = device.removeCalls.flat().flatMap((r) => Array.from({ length: r.len / CS }, (_, k) => r.moffset + k * CS));
    assert.equal(removed.sort((a, b) => a - b), past.sort((a, b) => a - b));
    assert.is(m.stats.chunksTruncated, 2);
    assert.is(m.find(1n, 3), null);
    assert.is(m.find(1n, 4), null);
    assert.ok(m.find(1n, 2) && m.find(1n, 0) && m.find(2n, 0));
    device.files.set(1n, device.files.get(1n)!.slice(0, 2 * CS + 1));
    // The chunk holding the end is upgraded again before the next write through it.
    const setups = device.setupCalls.length;
    assert.is(m.writeHit({ nodeid: 1n, size: 2 * CS + 1 }, 2 * CS, fill(1, 9)), -1);
    assert.equal((await write(1n, 2 * CS, fill(1, 9))).bytes, 1);
    assert.equal(device.setupCalls.slice(setups).map((c) => [c.write, c.foffset]), [[true, 2 * CS]]);
    assert.is(m.writeHit({ nodeid: 1n, size: 2 * CS + 1 }, 0, fill(1, 9)), 1, 'chunks before the end stay writable');
    // Truncating to 0 takes everything of the file; nothing of file 2.
    await m.truncate(1n, 0);
    assert.ok(device.mapped.every((e) => e.nodeid === 2n));
  });

  t('truncate also removes evicted chunks the device still shows past the end', async () => {
    const { device, m, read } = setup(8, { 1: 4 * CS }, placement);
    await read(1n, 3 * CS, 1); // file 1 chunk 3
    await m.unmap(1); // OSv's shallow unmap: out of the placement, still on the device
    assert.is(m.find(1n, 3), null);
    assert.is(device.mapped.length, 1);
    await m.truncate(1n, CS);
    assert.is(m.stats.chunksTruncated, 1);
    const stillShown = device.mapped.filter((e) => e.nodeid === 1n);
    assert.equal(stillShown, [], 'nothing of file 1 past its end on the device');
  });

  t('truncate after a refused SETUPMAPPING over a chunk of the file: the chunk of unknown state goes too', async () => {
    let full = false;
    const { device, m, write } = setup(1, { 1: CS, 2: 2 * CS }, placement, { fail: (a) => (full && a.write ? Errno.ENOSPC : 0) });
    await write(2n, CS, fill(5, 1)); // file 2 chunk 1 in the only chunk
    full = true;
    const r = await write(1n, 0, fill(1, 2)); // evicts it; the write mapping is refused
    assert.is(r.fallback?.errno, Errno.ENOSPC);
    // (The pool's background reclaim may have removed it already; the stack never does.)
    if (placement === 'lifo') assert.ok(device.mapped.some((e) => e.nodeid === 2n), 'the device still shows file 2 (the SETUPMAPPING failed)');
    await m.truncate(2n, 0);
    assert.equal(device.mapped.filter((e) => e.nodeid === 2n), [], 'nothing of file 2 past its end on the device');
  });

  t('a punched hole makes its chunks need an upgrade again', async () => {
    const { device, m, write } = setup(4, { 1: 2 * CS }, placement);
    await write(1n, 0, fill(2 * CS, 1));
    const n = device.setupCalls.length;
    await m.forgetWritable(1n, CS + 10, 5);
    assert.is(m.writeHit({ nodeid: 1n, size: 2 * CS }, CS, fill(1, 1)), -1);
    assert.is(m.writeHit({ nodeid: 1n, size: 2 * CS }, 0, fill(1, 1)), 1);
    await write(1n, CS, fill(1, 2));
    assert.equal(device.setupCalls.slice(n).map((c) => [c.write, c.foffset]), [[true, CS]]);
  });

  t('concurrent reads and writes of shared chunks: every byte where its write put it', async () => {
    let seed = 7;
    const rand = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 2 ** 32; };
    const { device, m } = setup(3, { 1: 6 * CS, 2: 4 * CS }, placement, {
      delay: () => new Promise((r) => setTimeout(r, Math.floor(rand() * 2))),
    });
    const model = new Map([[1n, device.files.get(1n)!.slice()], [2n, device.files.get(2n)!.slice()]]);
    await Promise.all(Array.from({ length: 80 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 3)));
      const n = i % 4 < 2 ? 1n : 2n;
      const size = model.get(n)!.length;
      if (i % 2) {
        // Writes to regions of their own (some across a chunk boundary), so their order does not matter.
        const off = Math.floor(i / 4) * 203;
        const data = fill(150, i);
        const r = await m.write({ nodeid: n, size }, 1n, off, data);
        assert.equal(r, { bytes: 150, fallback: null });
        model.get(n)!.set(data, off);
      } else {
        const off = Math.floor(rand() * size);
        const len = Math.min(size - off, 1 + Math.floor(rand() * CS));
        const r = await m.read({ nodeid: n, size }, 1n, len, { offset: off, dst: new Uint8Array(len) });
        assert.is(r.fallback, null);
      }
    }));
    assert.equal(device.files.get(1n), model.get(1n));
    assert.equal(device.files.get(2n), model.get(2n));
    assert.is(m.stats.fallbacks.copy, 0);
  });

  t.run();
}

const u = suite('dax write: OSv\'s low-level map with the write flag');
u('map(..., write) sends WRITE and books the chunks writable', async () => {
  const device = new MemoryDaxPort({ windowSize: 4 * CS });
  device.files.set(1n, new Uint8Array(4 * CS));
  const m = new DaxManager(device, { chunkSize: CS });
  await m.map(1n, 1n, 2, 0, false, true);
  assert.equal(device.setupCalls.map((c) => c.write), [true]);
  assert.is(m.writeHit({ nodeid: 1n, size: 4 * CS }, CS, fill(4, 1)), 4);
  await assert.not.throws(() => m.writeHit({ nodeid: 1n, size: 4 * CS }, 0, fill(4, 1)));
  try { await m.write({ nodeid: 1n, size: -1 }, 1n, 0, fill(1, 1)); assert.unreachable(); } catch (e) {
    assert.instance(e, ErrnoError);
  }
});
u.run();
