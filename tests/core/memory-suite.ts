// The memory suite: every case a backing of guest memory must pass, run
// once per backing (memory.test.ts: a plain buffer; memory-positioned.test.ts:
// the /dev/shm file and host files by positioned I/O; memory-mapped.test.ts:
// the sealed memfd and host file ranges mapped by the addon). This file has
// GuestMemory's accesses; memory-suite-files.ts the cases of shared files
// (two processes, sealing, close) and of DAX window ranges.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GuestMemory, GuestMemoryError, type MemoryBacking } from '../../core/memory';

export const RAM = 64 * 1024;
export const WIN_BASE = 0x1_0000_0000; // above 4 GiB, as a DAX window sits above RAM
const WIN = 16 * 1024;

export interface Kind {
  name: string;
  make(size: number): MemoryBacking;
  live: boolean; // has a live `bytes` view
  cleanup(): void;
}

export function throwsGm(fn: () => unknown, what: string): void {
  try { fn(); } catch (e) {
    assert.instance(e, GuestMemoryError, `${what}: ${e}`);
    return;
  }
  assert.unreachable(`${what}: no GuestMemoryError`);
}

export function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 0xff;
  return a;
}

/** The GuestMemory cases, over RAM and a second region of `kind`. */
export function guestMemorySuite(kind: Kind): void {
  const t = suite(`memory (${kind.name} backing)`);
  let mem: GuestMemory;

  t.before.each(() => {
    mem = new GuestMemory();
    mem.addRegion('ram', 0, kind.make(RAM));
    mem.addRegion('window', WIN_BASE, kind.make(WIN));
  });
  t.after.each(() => kind.cleanup());

  t('write/read/readInto round trips in RAM and in the window', () => {
    const p = pattern(1000, 7);
    mem.write(100, p);
    assert.equal(mem.read(100, 1000), p);
    const dst = new Uint8Array(1000);
    mem.readInto(100, dst);
    assert.equal(dst, p);
    const q = pattern(WIN, 3);
    mem.write(WIN_BASE, q);
    assert.equal(mem.read(WIN_BASE, WIN), q);
    // the window write did not land in RAM
    assert.equal(mem.read(0, 100), new Uint8Array(100));
    assert.equal(mem.read(RAM - 4, 4), new Uint8Array(4));
  });

  t('little-endian accessors', () => {
    mem.setU8(1, 0xab);
    mem.setU16(2, 0x1234);
    mem.setU32(4, 0xdeadbeef);
    mem.setU64(8, 0x0102030405060708n);
    assert.equal(mem.read(0, 16), Uint8Array.of(0, 0xab, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde,
      8, 7, 6, 5, 4, 3, 2, 1));
    assert.is(mem.u8(1), 0xab);
    assert.is(mem.u16(2), 0x1234);
    assert.is(mem.u32(4), 0xdeadbeef);
    assert.is(mem.u64(8), 0x0102030405060708n);
    // unaligned, top bits set, in the window
    mem.setU64(WIN_BASE + 3, 0xffee_ddcc_bbaa_9988n);
    assert.is(mem.u64(WIN_BASE + 3), 0xffee_ddcc_bbaa_9988n);
    assert.is(mem.u8(WIN_BASE + 3), 0x88);
    mem.setU32(WIN_BASE + WIN - 4, 0x8000_0001);
    assert.is(mem.u32(WIN_BASE + WIN - 4), 0x8000_0001);
    assert.is(mem.u16(WIN_BASE + WIN - 2), 0x8000);
    // accessors at the last byte of RAM
    mem.setU8(RAM - 1, 0x5a);
    assert.is(mem.u8(RAM - 1), 0x5a);
  });

  t('accessors interleave with read/write (no stale scratch)', () => {
    mem.setU32(40, 1);
    mem.setU32(44, 2);
    assert.is(mem.u32(40), 1);
    assert.is(mem.u32(44), 2);
    assert.equal(mem.read(40, 8), Uint8Array.of(1, 0, 0, 0, 2, 0, 0, 0));
  });

  t('every width at every offset across a page boundary, both ways', () => {
    const le = (b: Uint8Array) => b.reduceRight((v, x) => (v << 8n) | BigInt(x), 0n);
    for (const base of [0, WIN_BASE]) {
      for (const width of [1, 2, 4, 8]) {
        for (let at = 4096 - 9; at <= 4096 + 1; at++) {
          const gpa = base + at;
          const bytes = pattern(width, at * 7 + width);
          mem.write(gpa, bytes);
          const v = le(bytes);
          if (width === 1) assert.is(mem.u8(gpa), Number(v));
          if (width === 2) assert.is(mem.u16(gpa), Number(v));
          if (width === 4) assert.is(mem.u32(gpa), Number(v));
          if (width === 8) assert.is(mem.u64(gpa), v);
          const w = v ^ ((1n << BigInt(width * 8)) - 1n); // every bit flipped
          if (width === 1) mem.setU8(gpa, Number(w));
          if (width === 2) mem.setU16(gpa, Number(w));
          if (width === 4) mem.setU32(gpa, Number(w));
          if (width === 8) mem.setU64(gpa, w);
          assert.equal(mem.read(gpa, width), bytes.map((x) => x ^ 0xff), `width ${width} at ${gpa.toString(16)}`);
        }
      }
    }
    // a long access over several pages
    const long = pattern(3 * 4096 + 5, 11);
    mem.write(4093, long);
    assert.equal(mem.read(4093, long.length), long);
  });

  t('accesses outside any region are errors', () => {
    throwsGm(() => mem.read(RAM, 1), 'just past RAM');
    throwsGm(() => mem.read(RAM + 4096, 4), 'gap between RAM and window');
    throwsGm(() => mem.u32(WIN_BASE - 4), 'just below window');
    throwsGm(() => mem.write(WIN_BASE + WIN, Uint8Array.of(1)), 'just past window');
    throwsGm(() => mem.setU64(2 ** 52, 1n), 'far away');
  });

  t('accesses straddling the end of a region are errors and write nothing', () => {
    throwsGm(() => mem.read(RAM - 2, 4), 'read straddling RAM end');
    throwsGm(() => mem.u32(RAM - 2), 'u32 straddling RAM end');
    throwsGm(() => mem.setU64(WIN_BASE + WIN - 7, 1n), 'u64 straddling window end');
    throwsGm(() => mem.write(RAM - 1, Uint8Array.of(9, 9)), 'write straddling RAM end');
    assert.is(mem.u8(RAM - 1), 0);
    const e = (() => { try { mem.read(RAM - 2, 4); } catch (x) { return x as GuestMemoryError; } })();
    assert.ok(e && /crosses/.test(e.message), String(e));
    assert.is(e!.gpa, RAM - 2);
    assert.is(e!.len, 4);
  });

  t('an access across two adjacent regions is an error', () => {
    mem.addRegion('above', RAM, kind.make(4096));
    mem.write(RAM - 4, Uint8Array.of(1, 2, 3, 4));
    mem.write(RAM, Uint8Array.of(5, 6, 7, 8));
    assert.equal(mem.read(RAM, 4), Uint8Array.of(5, 6, 7, 8));
    throwsGm(() => mem.read(RAM - 2, 4), 'read across');
    throwsGm(() => mem.u32(RAM - 2), 'u32 across');
    throwsGm(() => mem.setU16(RAM - 1, 0xffff), 'u16 across');
    assert.equal(mem.read(RAM - 4, 4), Uint8Array.of(1, 2, 3, 4));
  });

  t('bad addresses and lengths are GuestMemoryError, not RangeError', () => {
    for (const gpa of [-1, 0.5, NaN, Infinity, 2 ** 53, -0.5]) {
      throwsGm(() => mem.read(gpa, 1), `read gpa ${gpa}`);
      throwsGm(() => mem.u8(gpa), `u8 gpa ${gpa}`);
      throwsGm(() => mem.setU32(gpa, 0), `setU32 gpa ${gpa}`);
      throwsGm(() => mem.write(gpa, new Uint8Array(1)), `write gpa ${gpa}`);
      throwsGm(() => mem.view(gpa, 1), `view gpa ${gpa}`);
    }
    for (const len of [-1, 1.5, NaN, Infinity, 2 ** 53, 2 ** 40]) {
      throwsGm(() => mem.read(0, len), `read len ${len}`);
      throwsGm(() => mem.view(0, len), `view len ${len}`);
      assert.not.ok(mem.contains(0, len), `contains len ${len}`);
    }
  });

  t('overlapping or invalid regions are rejected', () => {
    throwsGm(() => mem.addRegion('x', RAM - 1, kind.make(16)), 'overlaps RAM end');
    throwsGm(() => mem.addRegion('y', WIN_BASE - 8, kind.make(16)), 'overlaps window start');
    throwsGm(() => mem.addRegion('z', WIN_BASE + 8, kind.make(8)), 'inside window');
    throwsGm(() => mem.addRegion('ram', RAM * 2, kind.make(8)), 'duplicate name');
    throwsGm(() => mem.addRegion('neg', -4096, kind.make(8)), 'negative base');
    throwsGm(() => mem.addRegion('top', 2 ** 53 - 4, kind.make(8)), 'end beyond 2^53');
    assert.is(mem.regions().length, 2);
    // adjacent is fine
    mem.addRegion('adj', RAM, kind.make(8));
    assert.equal(mem.regions().map((r) => r.name), ['ram', 'adj', 'window']);
  });

  t('contains, region lookup and removeRegion', () => {
    assert.ok(mem.contains(0, RAM));
    assert.not.ok(mem.contains(0, RAM + 1));
    assert.ok(mem.contains(WIN_BASE, WIN));
    assert.is(mem.region('window')!.base, WIN_BASE);
    assert.is(mem.region('window')!.size, WIN);
    mem.u8(WIN_BASE); // prime the last-hit cache on the window
    mem.removeRegion('window');
    assert.is(mem.region('window'), undefined);
    throwsGm(() => mem.u8(WIN_BASE), 'removed region');
  });

  t(`view() is ${kind.live ? 'live' : 'undefined'}`, () => {
    const v = mem.view(WIN_BASE + 16, 8);
    if (!kind.live) {
      assert.is(v, undefined);
      return;
    }
    assert.ok(v);
    assert.is(v!.length, 8);
    mem.setU32(WIN_BASE + 16, 0x04030201);
    assert.equal(Array.from(v!.subarray(0, 4)), [1, 2, 3, 4]);
    v![4] = 0x77;
    assert.is(mem.u8(WIN_BASE + 20), 0x77);
  });

  t('zero-length accesses', () => {
    assert.equal(mem.read(10, 0), new Uint8Array(0));
    mem.write(10, new Uint8Array(0));
    mem.readInto(WIN_BASE + WIN, new Uint8Array(0)); // at the end: allowed, moves nothing
    assert.ok(mem.contains(RAM, 0));
    const v = mem.view(0, 0);
    if (kind.live) assert.is(v!.length, 0); else assert.is(v, undefined);
    throwsGm(() => mem.read(RAM + 1, 0), 'zero length outside memory');
    throwsGm(() => mem.read(-1, 0), 'zero length at negative gpa');
  });

  t.run();
}
