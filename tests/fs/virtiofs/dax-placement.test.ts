// The placement interface: OSv's stack driven through DaxPlacement alone
// against a model, the manager's calls into it (commit after a SETUPMAPPING
// that succeeded, abort after one that failed, evictions counted), and the
// second policy (Linux's range pool, fs/virtiofs/dax/pool.ts) under the
// same manager: every byte right, concurrent reads, the book removing what
// the device still maps.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Errno } from '../../../core/errno';
import { DaxManager, MappingStack, MemoryDaxPort, RangePool, type DaxPlacement } from '../../../fs/virtiofs/dax';
import { interfaceOnly } from './dax-placements';

const CS = 4096;

function files(device: MemoryDaxPort, sizes: number[]): void {
  sizes.forEach((size, i) => {
    const b = new Uint8Array(size);
    for (let j = 0; j < size; j++) b[j] = ((i + 1) * 53 + j * 11 + (j >> 9)) & 255;
    device.files.set(BigInt(i + 1), b);
  });
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

const t = suite('dax placement');

t('the stack through DaxPlacement agrees with a model of OSv\'s stack', () => {
  type Op =
    | { k: 'map'; nodeid: number; n: number; f: number; evict: boolean; ok: boolean }
    | { k: 'evict'; n: number } | { k: 'drop'; nodeid: number } | { k: 'clear' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('map' as const), nodeid: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 0, max: 6 }),
      f: fc.integer({ min: 0, max: 8 }), evict: fc.boolean(), ok: fc.boolean() }),
    fc.record({ k: fc.constant('map' as const), nodeid: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 3 }),
      f: fc.integer({ min: 0, max: 8 }), evict: fc.constant(true), ok: fc.constant(true) }),
    fc.record({ k: fc.constant('evict' as const), n: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ k: fc.constant('drop' as const), nodeid: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ k: fc.constant('clear' as const) }),
  );
  fc.assert(fc.property(fc.integer({ min: 0, max: 12 }), fc.array(op, { maxLength: 40 }), (W, ops) => {
    const p: DaxPlacement = interfaceOnly(new MappingStack(W));
    // Model: the window bottom up, one record per used chunk.
    let chunks: { nodeid: number | null; f: number; entry: number }[] = [];
    let entries = 0;
    const pop = (n: number) => {
      let live = 0;
      for (let i = 0; i < n && chunks.length > 0; i++) if (chunks.pop()!.nodeid !== null) live++;
      return live;
    };
    for (const o of ops) {
      if (o.k === 'map') {
        let empty = W - chunks.length;
        let evicted = 0;
        if (o.evict && empty < o.n) { const before = chunks.length; evicted = pop(o.n - empty); empty += before - chunks.length; }
        const placed = p.place(BigInt(o.nodeid), o.f, o.n, o.evict);
        assert.equal(placed, { mstart: W - empty, nchunks: Math.min(o.n, empty), evicted }, 'place');
        assert.equal(p.lookup(BigInt(o.nodeid), o.f) >= W - empty, false, 'placed chunks are not in the index');
        if (placed.nchunks <= 0) continue;
        if (!o.ok) { p.abort(placed); continue; }
        p.commit(BigInt(o.nodeid), o.f, placed);
        const top = chunks[chunks.length - 1];
        const entry = top && top.nodeid === o.nodeid && top.f + 1 === o.f ? top.entry : entries++;
        for (let i = 0; i < placed.nchunks; i++) chunks.push({ nodeid: o.nodeid, f: o.f + i, entry });
      } else if (o.k === 'evict') {
        const k = Math.min(o.n, chunks.length);
        assert.equal(p.victims(o.n), k > 0 ? [{ mstart: chunks.length - k, nchunks: k }] : [], 'victims');
        assert.is(p.evict(o.n), pop(o.n), 'live chunks evicted');
      } else if (o.k === 'drop') {
        p.drop(BigInt(o.nodeid));
        for (const c of chunks) if (c.nodeid === o.nodeid) c.nodeid = null;
        while (chunks.length > 0 && chunks[chunks.length - 1]!.nodeid === null) chunks.pop();
      } else {
        p.clear();
        chunks = [];
      }
      assert.is(p.firstEmpty(), chunks.length);
      for (let nodeid = 1; nodeid <= 3; nodeid++) {
        for (let f = 0; f < 16; f++) {
          const mc = chunks.findIndex((c) => c.nodeid === nodeid && c.f === f);
          assert.is(p.lookup(BigInt(nodeid), f), mc, `lookup ${nodeid}:${f}`);
          if (mc < 0) continue;
          let end = mc;
          while (end < chunks.length && chunks[end]!.entry === chunks[mc]!.entry) end++;
          assert.is(p.runEnd(mc), end, `run of ${nodeid}:${f}`);
        }
      }
      const runs: { nodeid: bigint | null; nchunks: number; fstart: number; mstart: number }[] = [];
      chunks.forEach((c, i) => {
        const last = runs[runs.length - 1];
        if (i > 0 && chunks[i - 1]!.entry === c.entry) last!.nchunks++;
        else runs.push({ nodeid: c.nodeid === null ? null : BigInt(c.nodeid), nchunks: 1, fstart: c.f, mstart: i });
      });
      assert.equal(p.mappings(), runs, 'mappings');
    }
  }), { numRuns: 400 });
});

t('the manager commits after a SETUPMAPPING that succeeded, aborts after one that failed, counts evictions', async () => {
  let fail = 0;
  const device = new MemoryDaxPort({ windowSize: 2 * CS, fail: () => fail });
  files(device, [CS, CS, CS]);
  const calls: Record<string, number> = {};
  const m = new DaxManager(device, { chunkSize: CS, placement: (n) => interfaceOnly(new MappingStack(n), calls) });
  const read = (n: bigint) => m.read({ nodeid: n, size: CS }, n, 10, { offset: 0, dst: new Uint8Array(10) });
  assert.is((await read(1n)).bytes, 10);
  fail = Errno.EIO;
  assert.equal((await read(2n)).fallback, { reason: 'setupmapping', errno: Errno.EIO });
  assert.equal(calls, { place: 2, commit: 1, abort: 1 });
  fail = 0;
  assert.is((await read(2n)).bytes, 10);
  assert.is((await read(3n)).bytes, 10); // evicts file 2
  assert.is(m.stats.chunksEvicted, 1);
  assert.equal(calls, { place: 4, commit: 3, abort: 1 });
  await m.dropInode(1n);
  await m.unmapAll();
  assert.equal(calls, { place: 4, commit: 3, abort: 1, drop: 1, clear: 1 });
  assert.equal(device.mapped, []);
});

t('the second policy under the same manager: Linux\'s range pool, every byte right, reclaim', async () => {
  const device = new MemoryDaxPort({ windowSize: 3 * CS });
  const sizes = [5 * CS + 7, 2 * CS, 1, 3 * CS];
  files(device, sizes);
  const m = new DaxManager(device, { chunkSize: CS, placement: (n) => interfaceOnly(new RangePool(n)) });
  for (let round = 0; round < 2; round++) {
    for (const [i, size] of sizes.entries()) {
      const dst = new Uint8Array(size);
      const r = await m.read({ nodeid: BigInt(i + 1), size }, 1n, size, { offset: 0, dst }, round === 1);
      assert.equal(r, { bytes: size, fallback: null });
      assert.equal(dst, device.files.get(BigInt(i + 1))!);
    }
  }
  await m.idle();
  assert.ok(m.stats.chunksEvicted > 0);
  assert.ok(m.stats.reclaimRuns > 0, 'the background reclaim ran');
  assert.ok(device.setupCalls.every((c) => c.len === CS), 'one range per SETUPMAPPING');
  // The synchronous hit path works on it too.
  const dst = new Uint8Array(100);
  await m.read({ nodeid: 4n, size: sizes[3]! }, 1n, 1, { offset: CS, dst: new Uint8Array(1) });
  assert.is(m.readHit({ nodeid: 4n, size: sizes[3]! }, CS, dst), 100);
  assert.equal(dst, device.files.get(4n)!.subarray(CS, CS + 100));
  // The book, not the policy, knows what the device still maps.
  await m.dropInode(4n);
  assert.ok(device.mapped.every((e) => e.nodeid !== 4n));
  await m.unmapAll();
  assert.equal(device.mapped, []);
  assert.equal(m.snapshot().mappings, []);
});

t('the range pool under concurrent reads with random SETUPMAPPING delays', async () => {
  for (const seed of [3, 17, 99]) {
    const rand = rng(seed);
    const device = new MemoryDaxPort({ windowSize: 4 * CS, delay: () => new Promise((r) => setTimeout(r, Math.floor(rand() * 3))) });
    const sizes = Array.from({ length: 6 }, () => Math.floor(rand() * 8 * CS));
    files(device, sizes);
    const m = new DaxManager(device, { chunkSize: CS, placement: (n) => new RangePool(n) });
    await Promise.all(Array.from({ length: 80 }, async () => {
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 3)));
      const n = Math.floor(rand() * sizes.length);
      const size = sizes[n]!;
      const offset = Math.floor(rand() * (size + 1));
      const len = Math.floor(rand() * 3 * CS);
      const dst = new Uint8Array(len);
      const r = await m.read({ nodeid: BigInt(n + 1), size }, 1n, len, { offset, dst });
      assert.is(r.fallback, null);
      assert.is(r.bytes, Math.min(len, size - offset));
      assert.equal(dst.subarray(0, r.bytes), device.files.get(BigInt(n + 1))!.subarray(offset, offset + r.bytes));
    }));
    assert.is(m.stats.fallbacks.copy, 0);
  }
});

t.run();
