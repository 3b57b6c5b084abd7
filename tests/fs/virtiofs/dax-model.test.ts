// Property test: DaxManager against a plain reference model of OSv's stack
// (a vector scanned linearly, as virtiofs_dax.cc does), on random sequences
// of map / unmap / find / read / dropInode with any window and chunk size:
// same mappings, same finds, same SETUPMAPPINGs, same evictions, right bytes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ErrnoError } from '../../../core/errno';
import { DaxManager, MappingStack, MemoryDaxPort, type PlacementFactory } from '../../../fs/virtiofs/dax';
import { interfaceOnly } from './dax-placements';

interface M { nodeid: bigint | null; nchunks: number; fstart: number; mstart: number }
type Part = { mstart: number; nchunks: number };

class Model {
  ms: M[] = [];
  setups: number[][] = [];
  evicted = 0;
  constructor(readonly W: number, readonly cs: number) {}
  firstEmpty(): number {
    const m = this.ms[this.ms.length - 1];
    return m ? m.mstart + m.nchunks : 0;
  }
  find(nodeid: bigint, fstart: number): Part | null {
    for (const m of this.ms) {
      if (m.nodeid === nodeid && m.fstart <= fstart && fstart < m.fstart + m.nchunks) {
        const excess = fstart - m.fstart;
        return { mstart: m.mstart + excess, nchunks: m.nchunks - excess };
      }
    }
    return null;
  }
  private pop(n: number): number {
    let to = 0;
    while (to < n && this.ms.length > 0) {
      const m = this.ms[this.ms.length - 1]!;
      const k = Math.min(m.nchunks, n - to);
      if (m.nodeid !== null) this.evicted += k;
      m.nchunks -= k;
      if (m.nchunks === 0) this.ms.pop();
      to += k;
    }
    return to;
  }
  unmap(n: number): Part | string {
    const to = this.pop(n);
    if (to === 0 && n > 0) return 'ENODATA';
    return { mstart: this.firstEmpty(), nchunks: to };
  }
  map(nodeid: bigint, nchunks: number, fstart: number, evict: boolean): Part | string {
    let empty = this.W - this.firstEmpty();
    if (evict && empty < nchunks) empty += this.pop(nchunks - empty);
    const toMap = Math.min(nchunks, empty);
    const mstart = this.W - empty;
    if (toMap === 0) return nchunks === 0 ? { mstart, nchunks: 0 } : 'ENOBUFS';
    this.setups.push([Number(nodeid), fstart * this.cs, toMap * this.cs, mstart * this.cs]);
    const top = this.ms[this.ms.length - 1];
    if (top && top.nodeid === nodeid && top.fstart + top.nchunks === fstart) top.nchunks += toMap;
    else this.ms.push({ nodeid, nchunks: toMap, fstart, mstart });
    return { mstart, nchunks: toMap };
  }
  drop(nodeid: bigint): void {
    for (const m of this.ms) if (m.nodeid === nodeid) m.nodeid = null;
    while (this.ms.length > 0 && this.ms[this.ms.length - 1]!.nodeid === null) this.ms.pop();
  }
  read(nodeid: bigint, size: number, offset: number, len: number, aggressive: boolean): number | string {
    const want = Math.min(len, Math.max(0, size - offset));
    if (want === 0) return 0;
    if (this.W === 0) return 'no-window';
    let done = 0;
    while (done < want) {
      const pos = offset + done;
      const fstart = Math.floor(pos / this.cs);
      const coffset = pos % this.cs;
      let mp = this.find(nodeid, fstart);
      if (!mp) {
        const toMap = coffset + (aggressive ? size - pos : want - done);
        mp = this.map(nodeid, Math.ceil(toMap / this.cs), fstart, true) as Part;
      }
      done += Math.min(want - done, mp.nchunks * this.cs - coffset);
    }
    return done;
  }
}

const op = fc.oneof(
  fc.record({ k: fc.constant('map' as const), n: fc.integer({ min: 1, max: 3 }), nchunks: fc.integer({ min: 0, max: 14 }), fstart: fc.integer({ min: 0, max: 16 }), evict: fc.boolean() }),
  fc.record({ k: fc.constant('unmap' as const), nchunks: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ k: fc.constant('read' as const), n: fc.integer({ min: 1, max: 3 }), offset: fc.nat(), len: fc.integer({ min: 0, max: 400 }), aggressive: fc.boolean() }),
  fc.record({ k: fc.constant('read' as const), n: fc.integer({ min: 1, max: 3 }), offset: fc.nat(), len: fc.integer({ min: 0, max: 400 }), aggressive: fc.boolean() }),
  fc.record({ k: fc.constant('drop' as const), n: fc.integer({ min: 1, max: 3 }) }),
);

const scenario = fc.record({
  cs: fc.integer({ min: 1, max: 24 }),
  W: fc.integer({ min: 0, max: 10 }),
  rest: fc.nat(),
  sizes: fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300)),
  ops: fc.array(op, { maxLength: 40 }),
});

const errOf = (e: unknown) => (e instanceof ErrnoError ? e.code : String(e));

const t = suite('dax model');

async function behavesAsTheStack(placement?: PlacementFactory): Promise<void> {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ cs, W, rest, sizes, ops }) => {
      const device = new MemoryDaxPort({ windowSize: W * cs + (rest % cs), alignment: 0 });
      sizes.forEach((size, i) => {
        const b = new Uint8Array(size);
        for (let j = 0; j < size; j++) b[j] = (i * 97 + j * 13 + 1) & 255;
        device.files.set(BigInt(i + 1), b);
      });
      const m = new DaxManager(device, { chunkSize: cs, mapAlignment: 0, placement });
      const model = new Model(W, cs);
      assert.is(m.windowChunks, W);
      for (const o of ops) {
        if (o.k === 'map') {
          const want = model.map(BigInt(o.n), o.nchunks, o.fstart, o.evict);
          const got = await m.map(BigInt(o.n), 1n, o.nchunks, o.fstart, o.evict).catch(errOf);
          assert.equal(got, want, 'map');
        } else if (o.k === 'unmap') {
          const want = model.unmap(o.nchunks);
          const got = await m.unmap(o.nchunks).catch(errOf);
          assert.equal(got, want, 'unmap');
        } else if (o.k === 'drop') {
          model.drop(BigInt(o.n));
          await m.dropInode(BigInt(o.n));
        } else {
          const size = sizes[o.n - 1]!;
          const offset = size === 0 ? o.offset % 4 : o.offset % (size + 2);
          const want = model.read(BigInt(o.n), size, offset, o.len, o.aggressive);
          const dst = new Uint8Array(o.len);
          const r = await m.read({ nodeid: BigInt(o.n), size }, 1n, o.len, { offset, dst }, o.aggressive);
          assert.equal(r.fallback ? r.fallback.reason : r.bytes, want, 'read');
          assert.equal(dst.subarray(0, r.bytes), device.files.get(BigInt(o.n))!.subarray(offset, offset + r.bytes), 'bytes');
        }
        assert.equal(m.snapshot().mappings.map((x) => ({ nodeid: x.nodeid, nchunks: x.nchunks, fstart: x.fstart, mstart: x.mstart })), model.ms);
        assert.is(m.firstEmpty(), model.firstEmpty());
        assert.is(m.stats.chunksEvicted, model.evicted);
        assert.equal(device.setupCalls.map((c) => [Number(c.nodeid), c.foffset, c.len, c.moffset]), model.setups);
        for (let n = 1n; n <= 3n; n++) {
          for (let f = 0; f < 18; f++) assert.equal(m.find(n, f), model.find(n, f), `find ${n} ${f}`);
        }
      }
    }),
    { numRuns: 300 },
  );
}

t('DaxManager behaves as the reference stack', () => behavesAsTheStack());

t('... with the stack reached only through the DaxPlacement interface', () =>
  behavesAsTheStack((n) => interfaceOnly(new MappingStack(n))));

t.run();
