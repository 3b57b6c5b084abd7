import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { BufferBacking, GuestMemory, GuestMemoryError } from '../../core/memory';
import { Iovec, Uio, iovClamp, iovTotal, uiomove } from '../../core/uio';

function newMem(): GuestMemory {
  const m = new GuestMemory();
  m.addRegion('ram', 0, new BufferBacking(4096));
  return m;
}

const seq = (n: number, from = 1) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

const t = suite('uio');

t('iovTotal and iovClamp', () => {
  const iov: Iovec[] = [{ base: 0, len: 10 }, { base: 100, len: 0 }, { base: 200, len: 5 }];
  assert.is(iovTotal(iov), 15);
  assert.is(iovTotal([]), 0);
  assert.equal(iovClamp(iov, 12), [{ base: 0, len: 10 }, { base: 200, len: 2 }]);
  assert.equal(iovClamp(iov, 10), [{ base: 0, len: 10 }]);
  assert.equal(iovClamp(iov, 99), [{ base: 0, len: 10 }, { base: 200, len: 5 }]);
  assert.equal(iovClamp(iov, 0), []);
  assert.equal(iov[2], { base: 200, len: 5 }, 'input untouched');
  for (const bad of [{ base: -1, len: 1 }, { base: 0, len: -1 }, { base: 0.5, len: 1 }, { base: 0, len: NaN },
    { base: 2 ** 53 - 1, len: 2 }]) {
    assert.throws(() => iovTotal([bad]), (e: unknown) => e instanceof GuestMemoryError);
  }
});

t('read direction: buffer -> iovecs, piece by piece, advancing offset and resid', () => {
  const mem = newMem();
  const iov: Iovec[] = [{ base: 10, len: 3 }, { base: 100, len: 4 }, { base: 50, len: 2 }];
  const u = new Uio(mem, iov, 'read', 1000);
  assert.is(u.resid, 9);
  assert.is(uiomove(seq(5), u), 5);
  assert.is(u.resid, 4);
  assert.is(u.offset, 1005);
  assert.equal(u.remaining(), [{ base: 102, len: 2 }, { base: 50, len: 2 }]);
  assert.is(uiomove(seq(10, 100), u), 4); // only resid moves
  assert.is(u.resid, 0);
  assert.is(uiomove(seq(3), u), 0);
  assert.equal(mem.read(10, 3), Uint8Array.of(1, 2, 3));
  assert.equal(mem.read(100, 4), Uint8Array.of(4, 5, 100, 101));
  assert.equal(mem.read(50, 2), Uint8Array.of(102, 103));
  assert.is(mem.u8(13), 0);
  assert.equal(iov[0], { base: 10, len: 3 }, "caller's iovecs untouched");
});

t('write direction: iovecs -> buffer', () => {
  const mem = newMem();
  mem.write(300, Uint8Array.of(1, 2, 3));
  mem.write(7, Uint8Array.of(4, 5));
  const u = new Uio(mem, [{ base: 300, len: 3 }, { base: 7, len: 2 }], 'write');
  const cp = new Uint8Array(8);
  assert.is(uiomove(cp, u), 5);
  assert.equal(cp, Uint8Array.of(1, 2, 3, 4, 5, 0, 0, 0));
  assert.is(u.offset, 5);
});

t('resid limit, clamp and advance', () => {
  const mem = newMem();
  const u = new Uio(mem, [{ base: 0, len: 8 }, { base: 64, len: 8 }], 'read', 0, 12);
  assert.is(u.resid, 12);
  u.advance(6);
  assert.equal(u.remaining(), [{ base: 6, len: 2 }, { base: 64, len: 4 }]);
  u.clamp(3);
  assert.is(u.resid, 3);
  assert.equal(u.remaining(), [{ base: 6, len: 2 }, { base: 64, len: 1 }]);
  u.clamp(100); // never grows
  assert.is(u.resid, 3);
  assert.is(uiomove(Uint8Array.of(9, 9, 9, 9), u), 3);
  assert.equal(mem.read(5, 4), Uint8Array.of(0, 9, 9, 0));
  assert.equal(mem.read(64, 2), Uint8Array.of(9, 0));
  assert.throws(() => u.advance(1), RangeError);
  assert.throws(() => new Uio(mem, [], 'read', -1), RangeError);
  assert.throws(() => new Uio(mem, [], 'read', 0, 1.5), RangeError);
});

t('a bad guest address fails the move with GuestMemoryError after the good part', () => {
  const mem = newMem();
  const u = new Uio(mem, [{ base: 0, len: 4 }, { base: 5000, len: 4 }], 'read');
  assert.throws(() => uiomove(seq(8), u), (e: unknown) => e instanceof GuestMemoryError);
  assert.is(u.resid, 4);
  assert.equal(mem.read(0, 4), seq(4));
});

t('property: scattered read then gathered write round-trips the bytes', () => {
  const iovArb = fc.array(fc.record({ base: fc.integer({ min: 0, max: 4000 }), len: fc.integer({ min: 0, max: 96 }) }),
    { maxLength: 8 });
  fc.assert(fc.property(iovArb, fc.integer({ min: 1, max: 64 }), (raw, chunk) => {
    // make the iovecs disjoint and inside memory
    const iov: Iovec[] = [];
    let next = 0;
    for (const r of raw) {
      const base = Math.max(r.base, next);
      if (base + r.len > 4096) break;
      iov.push({ base, len: r.len });
      next = base + r.len;
    }
    const total = iovTotal(iov);
    const data = Uint8Array.from({ length: total }, (_, i) => (i * 7 + 1) & 0xff);
    const mem = newMem();
    const w = new Uio(mem, iov, 'read');
    for (let off = 0; off < total;) off += uiomove(data.subarray(off, off + chunk), w);
    assert.is(w.resid, 0);
    const r = new Uio(mem, iov, 'write');
    const back = new Uint8Array(total);
    for (let off = 0; off < total;) off += uiomove(back.subarray(off, off + chunk), r);
    assert.equal(back, data);
    assert.is(r.offset, total);
  }), { numRuns: 200 });
});

t.run();
