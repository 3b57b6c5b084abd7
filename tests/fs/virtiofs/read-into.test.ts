// The read-into path: Vfs.preadInto through virtiofs (DAX hit, DAX miss,
// FUSE_READ), DaxManager.readHit, and MappingStack's O(1) lookup against a
// model of the stack.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { connectionOf } from '../../../fs/virtiofs';
import { DaxManager, MemoryDaxPort } from '../../../fs/virtiofs/dax';
import { MappingStack } from '../../../fs/virtiofs/dax/stack';
import { FakeFuseDevice, content } from './fs-fake-device';
import { mounted, same } from './fs-helpers';

const MiB = 1 << 20;
const t = suite('virtiofs read into');

for (const [label, mountOpts] of [['DAX', { 'chunk-size': '64k' }], ['FUSE_READ', { dax: 'never' }]] as const) {
  t(`preadInto through ${label}: every byte, EOF, misses then hits`, async () => {
    const size = 3 * MiB + 123;
    const { dev, vfs } = await mounted({ windowSize: 8 * MiB }, mountOpts, (d: FakeFuseDevice) => d.file(1n, 'f', content(7, size)));
    const want = content(7, size);
    const fd = await vfs.open('/f');
    const dst = new Uint8Array(10_000);
    for (let round = 0; round < 2; round++) {
      for (let off = 0; off < size; off += 9_999) {
        const n = await vfs.preadInto(fd, dst, off);
        assert.is(n, Math.min(dst.length, size - off));
        assert.ok(same(dst.subarray(0, n), want.subarray(off, off + n)), `bytes at ${off}`);
      }
    }
    assert.is(await vfs.preadInto(fd, dst, size), 0);
    const dax = (await connectionOf(dev))!.dax;
    if (label === 'DAX') {
      const s = dax!.stats;
      assert.ok(s.hits > s.misses, 'the second round hits');
      assert.is(s.bytesFuseRead, 0);
    }
    await vfs.close(fd);
  });
}

function manager(chunks: number, cs: number, files: Record<string, number>) {
  const device = new MemoryDaxPort({ windowSize: chunks * cs });
  for (const [k, n] of Object.entries(files)) device.files.set(BigInt(k), content(Number(k), n));
  return { device, m: new DaxManager(device, { chunkSize: cs, mapAlignment: 12 }) };
}

t('readHit: -1 (nothing counted) until mapped, then a synchronous copy across runs', async () => {
  const cs = 4096;
  const { device, m } = manager(8, cs, { 1: 5 * cs, 2: cs });
  const ip = { nodeid: 1n, size: 5 * cs };
  const dst = new Uint8Array(3 * cs - 200);
  assert.is(m.readHit(ip, 100, dst), -1);
  assert.is(m.stats.hits + m.stats.misses, 0);
  // Chunks 0-1 of file 1, then one of file 2, then chunk 2 of file 1: two runs.
  await m.read(ip, 1n, 2 * cs, { offset: 0, dst: new Uint8Array(2 * cs) });
  await m.read({ nodeid: 2n, size: cs }, 2n, cs, { offset: 0, dst: new Uint8Array(cs) });
  assert.is(m.readHit(ip, 100, dst), -1, 'chunk 2 not mapped yet');
  await m.read(ip, 1n, cs, { offset: 2 * cs, dst: new Uint8Array(cs) });
  const hits = m.stats.hits;
  assert.is(m.readHit(ip, 100, dst), dst.length);
  assert.ok(same(dst, device.files.get(1n)!.subarray(100, 100 + dst.length)));
  assert.is(m.stats.hits, hits + 2, 'one hit per run');
  assert.is(m.readHit(ip, 5 * cs - 10, dst), -1, 'chunk 4 not mapped');
  assert.is(m.readHit(ip, 5 * cs, dst), 0, 'at EOF');
  assert.is(m.readHit(ip, 2 * cs + 10, new Uint8Array(10)), 10);
});

t('readHit never reads a chunk while it is being re-mapped', async () => {
  const cs = 4096;
  const { device, m } = manager(1, cs, { 1: cs, 2: cs });
  await m.read({ nodeid: 1n, size: cs }, 1n, cs, { offset: 0, dst: new Uint8Array(cs) });
  // File 2 evicts file 1 from the only chunk; during its SETUPMAPPING both must miss.
  const seen: number[] = [];
  const setup = device.setupMapping.bind(device);
  device.setupMapping = async (req) => {
    seen.push(m.readHit({ nodeid: 1n, size: cs }, 0, new Uint8Array(cs)), m.readHit({ nodeid: 2n, size: cs }, 0, new Uint8Array(cs)));
    await setup(req);
    seen.push(m.readHit({ nodeid: 2n, size: cs }, 0, new Uint8Array(cs)));
  };
  const pending = m.read({ nodeid: 2n, size: cs }, 2n, cs, { offset: 0, dst: new Uint8Array(cs) });
  await pending;
  assert.equal(seen, [-1, -1, -1], 'not on the stack until the reply');
  const dst = new Uint8Array(cs);
  assert.is(m.readHit({ nodeid: 2n, size: cs }, 0, dst), cs);
  assert.ok(same(dst, device.files.get(2n)!));
});

t('MappingStack lookup/runEnd agree with a model under push, pop and drop', () => {
  type Op = { k: 'push'; nodeid: number; n: number; f: number } | { k: 'pop'; n: number } | { k: 'drop'; nodeid: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('push' as const), nodeid: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 4 }), f: fc.integer({ min: 0, max: 6 }) }),
    fc.record({ k: fc.constant('pop' as const), n: fc.integer({ min: 1, max: 5 }) }),
    fc.record({ k: fc.constant('drop' as const), nodeid: fc.integer({ min: 1, max: 3 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
    const W = 40;
    const s = new MappingStack(W);
    // Model: per window chunk, [nodeid|null, file chunk, entry id].
    let chunks: { nodeid: number | null; f: number; entry: number }[] = [];
    let entries = 0;
    for (const o of ops) {
      if (o.k === 'push') {
        if (chunks.length + o.n > W) continue;
        const top = chunks[chunks.length - 1];
        const coalesce = top !== undefined && top.nodeid === o.nodeid && top.f + 1 === o.f
          && s.mappings()[s.mappings().length - 1]!.nodeid === BigInt(o.nodeid);
        const entry = coalesce ? top!.entry : entries++;
        s.push(BigInt(o.nodeid), o.n, o.f, chunks.length);
        for (let i = 0; i < o.n; i++) chunks.push({ nodeid: o.nodeid, f: o.f + i, entry });
      } else if (o.k === 'pop') {
        s.pop(o.n);
        chunks = chunks.slice(0, Math.max(0, chunks.length - o.n));
      } else {
        s.drop(BigInt(o.nodeid));
        for (const c of chunks) if (c.nodeid === o.nodeid) c.nodeid = null;
        while (chunks.length > 0 && chunks[chunks.length - 1]!.nodeid === null) chunks.pop();
      }
      for (let nodeid = 1; nodeid <= 3; nodeid++) {
        for (let f = 0; f < 12; f++) {
          const mc = chunks.findIndex((c) => c.nodeid === nodeid && c.f === f);
          assert.is(s.lookup(BigInt(nodeid), f), mc);
          if (mc < 0) continue;
          let end = mc;
          while (end < chunks.length && chunks[end]!.entry === chunks[mc]!.entry) end++;
          assert.is(s.runEnd(mc), end, `run of ${nodeid}:${f}`);
          assert.equal(s.find(BigInt(nodeid), f), { mstart: mc, nchunks: end - mc });
        }
      }
    }
  }), { numRuns: 300 });
});

t.run();
