import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WindowBacking, WindowFault, type FileRange } from '../../core/window';
import { HostFileRange } from '../../core/host-file.node';
import { GuestMemory } from '../../core/memory';

const t = suite('dax window backing');

/** A file whose byte at pos is (seed + pos) & 0xff. */
function patterned(seed: number): FileRange & { released: number; written: Map<number, number> } {
  const f = {
    released: 0,
    written: new Map<number, number>(),
    read(pos: number, dst: Uint8Array) { for (let i = 0; i < dst.length; i++) dst[i] = f.written.get(pos + i) ?? ((seed + pos + i) & 0xff); },
    write(pos: number, src: Uint8Array) { src.forEach((b, i) => f.written.set(pos + i, b)); },
    release() { f.released++; },
  };
  return f;
}

t('a mapping shows its file range; unmapped ranges fault', () => {
  const w = new WindowBacking(64);
  const a = patterned(0);
  w.map(16, 16, a, 100, false);
  const dst = new Uint8Array(16);
  w.read(16, dst);
  assert.equal(Array.from(dst), Array.from({ length: 16 }, (_, i) => (100 + i) & 0xff));
  assert.throws(() => w.read(8, new Uint8Array(16)), (e: unknown) => e instanceof WindowFault);
  assert.throws(() => w.read(30, new Uint8Array(4)), (e: unknown) => e instanceof WindowFault);
});

t('writes need a write mapping and land in the file', () => {
  const w = new WindowBacking(32);
  const a = patterned(0);
  w.map(0, 16, a, 0, false);
  assert.throws(() => w.write(0, new Uint8Array([1])), /read mapping/);
  w.map(0, 16, a, 0, true);
  w.write(4, new Uint8Array([9, 8]));
  assert.is(a.written.get(4), 9);
  assert.is(a.written.get(5), 8);
});

t('a new mapping over an occupied range replaces it, trimming the edges', () => {
  const w = new WindowBacking(100);
  const a = patterned(0);
  const b = patterned(50);
  w.map(0, 60, a, 1000, false);
  w.map(20, 20, b, 0, false);
  const ms = w.mappings().map((m) => [m.moffset, m.len, m.foffset, m.file === a ? 'a' : 'b']);
  assert.equal(ms, [[0, 20, 1000, 'a'], [20, 20, 0, 'b'], [40, 20, 1040, 'a']]);
  w.unmap(0, 100);
  assert.is(w.mappings().length, 0);
  assert.is(a.released, 1);
  assert.is(b.released, 1);
});

t('bad ranges are refused', () => {
  const w = new WindowBacking(16);
  const a = patterned(0);
  for (const [m, l] of [[-1, 4], [0, 0], [0, 17], [15, 2], [0.5, 1]]) {
    assert.throws(() => w.map(m, l, a, 0, false), (e: unknown) => e instanceof WindowFault);
  }
  assert.throws(() => w.map(0, 4, a, -1, false), (e: unknown) => e instanceof WindowFault);
});

t('through GuestMemory: a window region above RAM', () => {
  const mem = new GuestMemory();
  const w = new WindowBacking(1 << 20);
  mem.addRegion('window', 0x1_0000_0000, w);
  w.map(4096, 4096, patterned(7), 0, false);
  assert.is(mem.u8(0x1_0000_0000 + 4096), 7);
  assert.throws(() => mem.u8(0x1_0000_0000), (e: unknown) => e instanceof WindowFault);
});

t('property: reads agree with a byte-per-byte model of the table', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ m: fc.nat(63), l: fc.integer({ min: 1, max: 32 }), f: fc.nat(1000), seed: fc.nat(255), unmap: fc.boolean() }), { maxLength: 20 }),
    (ops) => {
      const w = new WindowBacking(64);
      const model: (number | undefined)[] = new Array(64).fill(undefined);
      for (const op of ops) {
        const l = Math.min(op.l, 64 - op.m);
        if (op.unmap) { w.unmap(op.m, l); for (let i = 0; i < l; i++) model[op.m + i] = undefined; }
        else { w.map(op.m, l, patterned(op.seed), op.f, false); for (let i = 0; i < l; i++) model[op.m + i] = (op.seed + op.f + i) & 0xff; }
      }
      for (let i = 0; i < 64; i++) {
        const d = new Uint8Array(1);
        if (model[i] === undefined) assert.throws(() => w.read(i, d));
        else { w.read(i, d); assert.is(d[0], model[i]); }
      }
    }), { numRuns: 200 });
});

t('HostFileRange: positioned reads of a real file, zeros past its end', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'window-'));
  try {
    const p = path.join(dir, 'f');
    fs.writeFileSync(p, Buffer.from([1, 2, 3, 4, 5]));
    const fr = HostFileRange.open(p, true);
    const w = new WindowBacking(8192);
    w.map(0, 4096, fr, 0, true);
    const d = new Uint8Array(8);
    w.read(0, d);
    assert.equal(Array.from(d), [1, 2, 3, 4, 5, 0, 0, 0]);
    w.write(1, new Uint8Array([42]));
    assert.is(fs.readFileSync(p)[1], 42);
    w.clear(); // releases (closes) the fd
    assert.throws(() => fs.fstatSync(fr.fd));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
