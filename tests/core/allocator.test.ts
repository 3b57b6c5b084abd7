import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Allocator, AllocatorError } from '../../core/allocator';

function allocErr(fn: () => unknown, kind: string): AllocatorError {
  try { fn(); } catch (e) {
    assert.instance(e, AllocatorError, String(e));
    assert.is((e as AllocatorError).kind, kind, String(e));
    return e as AllocatorError;
  }
  return assert.unreachable(`no AllocatorError (${kind})`) as never;
}

const t = suite('allocator');

t('first fit, default 8-byte alignment, lengths remembered', () => {
  const a = new Allocator(0x1000, 0x1000);
  const x = a.alloc(10);
  const y = a.alloc(10);
  assert.is(x, 0x1000);
  assert.is(y, 0x1010); // 0x100a rounded up to 8
  assert.is(a.sizeOf(x), 10);
  assert.is(a.allocations, 2);
  // the 6 bytes of padding stay free
  assert.is(a.freeBytes, 0x1000 - 20);
  assert.equal(a.freeBlocks(), [{ start: 0x100a, len: 6 }, { start: 0x101a, len: 0x1000 - 0x1a }]);
  a.free(x);
  assert.is(a.alloc(16), 0x1000); // reuses the lowest hole
});

t('alignment is absolute (gpa), including large alignments', () => {
  const a = new Allocator(0x1003, 0x10000);
  const x = a.alloc(1, 1);
  assert.is(x, 0x1003);
  const y = a.alloc(100, 4096);
  assert.is(y, 0x2000);
  const big = new Allocator(2 ** 40 + 8, 2 ** 33);
  assert.is(big.alloc(1, 2 ** 32), 2 ** 40 + 2 ** 32);
});

t('free coalesces with both neighbours into one block', () => {
  const a = new Allocator(0, 4096);
  const p = [a.alloc(64), a.alloc(64), a.alloc(64), a.alloc(64)];
  a.free(p[0]!);
  a.free(p[2]!);
  assert.is(a.freeBlocks().length, 3);
  a.free(p[1]!); // joins 0 and 2
  assert.equal(a.freeBlocks(), [{ start: 0, len: 192 }, { start: 256, len: 4096 - 256 }]);
  a.free(p[3]!);
  assert.equal(a.freeBlocks(), [{ start: 0, len: 4096 }]);
  assert.is(a.largestFree, 4096);
  assert.is(a.allocations, 0);
});

t('exhaustion is a typed error naming the request and what is free', () => {
  const a = new Allocator(0, 256);
  const p = a.alloc(100);
  a.alloc(100);
  const e = allocErr(() => a.alloc(100), 'exhausted');
  assert.match(e.message, /100 bytes/);
  assert.match(e.message, /56 bytes free/); // [100,104) and [204,256)
  assert.is(a.freeBytes, 56);
  a.free(p);
  // free now [0,104) and [204,256): 100 fits in the first, 150 nowhere
  allocErr(() => a.alloc(150), 'exhausted');
  assert.is(a.alloc(100), 0);
  // fits by size but not by alignment
  const b = new Allocator(8, 64);
  allocErr(() => b.alloc(60, 64), 'exhausted');
  assert.is(b.largestFree, 64);
});

t('invalid requests and unknown frees are typed errors', () => {
  const a = new Allocator(0, 1024);
  for (const len of [0, -1, 1.5, NaN, Infinity]) allocErr(() => a.alloc(len), 'invalid');
  for (const al of [0, 3, 6, -8, 0.5, NaN, 2 ** 53]) allocErr(() => a.alloc(8, al), 'invalid');
  const x = a.alloc(16);
  allocErr(() => a.free(x + 8), 'unknown');
  allocErr(() => a.free(4096), 'unknown');
  a.free(x);
  allocErr(() => a.free(x), 'unknown'); // double free
  assert.is(a.freeBytes, 1024);
  allocErr(() => new Allocator(-1, 10), 'invalid');
  allocErr(() => new Allocator(0, 0), 'invalid');
  allocErr(() => new Allocator(2 ** 53 - 4, 8), 'invalid');
});

t('property: random alloc/free never overlaps, stays in range, is aligned, and frees back to one block', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('alloc' as const), len: fc.integer({ min: 1, max: 600 }), alignLog: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
  );
  fc.assert(fc.property(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 1, max: 8192 }), fc.array(op, { maxLength: 80 }),
    (base, size, ops) => {
      const a = new Allocator(base, size);
      const live = new Map<number, number>();
      for (const o of ops) {
        if (o.kind === 'alloc') {
          const align = 2 ** o.alignLog;
          let gpa: number;
          try { gpa = a.alloc(o.len, align); } catch (e) {
            if (!(e instanceof AllocatorError) || e.kind !== 'exhausted') throw e;
            continue;
          }
          assert.ok(gpa >= base && gpa + o.len <= base + size, 'in range');
          assert.is(gpa % align, 0, 'aligned');
          for (const [g, l] of live) assert.ok(gpa + o.len <= g || g + l <= gpa, 'no overlap');
          live.set(gpa, o.len);
        } else if (live.size) {
          const keys = [...live.keys()];
          const g = keys[o.pick % keys.length]!;
          a.free(g);
          live.delete(g);
        }
        let used = 0;
        for (const l of live.values()) used += l;
        assert.is(a.freeBytes, size - used);
        const blocks = a.freeBlocks();
        for (let i = 1; i < blocks.length; i++) {
          assert.ok(blocks[i - 1]!.start + blocks[i - 1]!.len < blocks[i]!.start, 'ordered and coalesced');
        }
      }
      for (const g of live.keys()) a.free(g);
      assert.equal(a.freeBlocks(), [{ start: base, len: size }]);
      assert.is(a.freeBytes, size);
      assert.is(a.largestFree, size);
    }), { numRuns: 300 });
});

t.run();
