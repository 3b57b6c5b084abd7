// Linux's range pool (fs/virtiofs/dax/pool.ts; Linux virtiofs DAX series,
// Goyal et al., 2020): the free list, the busy list in the order ranges
// were mapped, inline reclaim (the inode's own first range, else the busy
// list's head), and the background reclaim the manager runs for it: under
// 20 % free, 10 ranges at a time, each run one REMOVEMAPPING.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DaxManager, MemoryDaxPort, RangePool, RECLAIM_CHUNK, RECLAIM_THRESHOLD_PERCENT } from '../../../fs/virtiofs/dax';

const CS = 4096;
const t = suite('dax range pool');

function place(p: RangePool, nodeid: bigint, f: number): number {
  const r = p.place(nodeid, f, 1, true);
  if (r.nchunks > 0) p.commit(nodeid, f, r);
  return r.mstart;
}

t('ranges come from the free list\'s head and go back to its tail; one range per place', () => {
  const p = new RangePool(4);
  assert.equal(p.place(1n, 0, 3, false), { mstart: 0, nchunks: 1, evicted: 0 });
  p.abort({ mstart: 0, nchunks: 1 });
  assert.is(place(p, 1n, 0), 1, 'the aborted range went to the tail');
  assert.is(place(p, 1n, 1), 2);
  assert.is(place(p, 2n, 0), 3);
  assert.is(place(p, 2n, 1), 0);
  assert.is(p.freeChunks(), 0);
  assert.equal(p.place(3n, 0, 1, false), { mstart: 4, nchunks: 0, evicted: 0 }, 'full, no evict: nothing');
  assert.is(p.lookup(1n, 1), 2);
  assert.is(p.runEnd(2), 3);
  p.drop(1n);
  assert.is(p.freeChunks(), 2);
  assert.is(p.lookup(1n, 1), -1);
  assert.is(p.firstEmpty(), 1);
});

t('inline reclaim: the inode\'s own first range, else the least recently mapped', () => {
  const p = new RangePool(3);
  place(p, 1n, 5); // range 0
  place(p, 2n, 0); // range 1
  place(p, 1n, 2); // range 2
  // File 1 needs one: its lowest file chunk (2, at range 2) goes, not the LRU head.
  assert.equal(p.place(1n, 9, 1, true), { mstart: 2, nchunks: 1, evicted: 1 });
  p.commit(1n, 9, { mstart: 2, nchunks: 1 });
  assert.is(p.lookup(1n, 2), -1);
  // File 3 has none: the busy list's head (range 0, file 1 chunk 5) goes.
  assert.equal(p.place(3n, 0, 1, true), { mstart: 0, nchunks: 1, evicted: 1 });
  assert.is(p.lookup(1n, 5), -1);
  assert.equal(p.victims(2), [{ mstart: 1, nchunks: 1 }, { mstart: 2, nchunks: 1 }], 'busy list, least recently mapped first');
});

t('remove takes the file chunks in range (truncation); mappings merge neighbours of one file', () => {
  const p = new RangePool(6);
  for (let f = 0; f < 4; f++) place(p, 1n, f);
  place(p, 2n, 0);
  assert.equal(p.mappings(), [{ nodeid: 1n, nchunks: 4, fstart: 0, mstart: 0 }, { nodeid: 2n, nchunks: 1, fstart: 0, mstart: 4 }]);
  assert.is(p.remove(1n, 2, Infinity), 2);
  assert.equal(p.mappings(), [{ nodeid: 1n, nchunks: 2, fstart: 0, mstart: 0 }, { nodeid: 2n, nchunks: 1, fstart: 0, mstart: 4 }]);
  assert.is(p.freeChunks(), 3);
  p.clear();
  assert.equal(p.mappings(), []);
  assert.is(p.freeChunks(), 6);
});

t(`background reclaim: under ${RECLAIM_THRESHOLD_PERCENT} % free, ${RECLAIM_CHUNK} least recently mapped ranges per run, one REMOVEMAPPING each`, async () => {
  const W = 40; // threshold: 8 free
  const device = new MemoryDaxPort({ windowSize: W * CS });
  device.files.set(1n, new Uint8Array(64 * CS).fill(3));
  const m = new DaxManager(device, { chunkSize: CS, placement: 'lru' });
  const read = (f: number) => m.read({ nodeid: 1n, size: 64 * CS }, 1n, 1, { offset: f * CS, dst: new Uint8Array(1) });
  for (let f = 0; f < 32; f++) await read(f); // 8 free: not under the threshold
  await m.idle();
  assert.is(m.stats.reclaimRuns, 0);
  assert.is(device.removeCalls.length, 0);
  await read(32); // 7 free: one run frees 10
  await m.idle();
  assert.is(m.stats.reclaimRuns, 1);
  assert.is(device.removeCalls.length, 1);
  assert.equal(device.removeCalls[0]!.map((r) => r.moffset / CS), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (let f = 0; f < 10; f++) assert.is(m.find(1n, f), null);
  for (let f = 10; f < 33; f++) assert.ok(m.find(1n, f), `chunk ${f} kept`);
  assert.is(m.snapshot().freeChunks, 17);
  assert.is(m.stats.chunksEvicted, 10);
  // Reading what was reclaimed maps it again, in new ranges: every byte right.
  const dst = new Uint8Array(CS);
  assert.equal(await m.read({ nodeid: 1n, size: 64 * CS }, 1n, CS, { offset: 0, dst }), { bytes: CS, fallback: null });
  assert.ok(dst.every((b) => b === 3));
  await m.unmapAll();
  assert.equal(device.mapped, []);
});

t.run();
