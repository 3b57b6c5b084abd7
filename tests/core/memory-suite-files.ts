// The memory suite's cases for shared files (memory-suite.ts says who runs
// them): guest RAM seen by two processes, which backing a file gets, RAM
// after close, and DAX window ranges over host files (every width, zeros
// past the end, truncation under a mapping, unmap and replace).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { GuestMemory } from '../../core/memory';
import { createRam, openRam, ramIsMapped, type RamFile } from '../../core/ram.node';
import { ShmFileBacking } from '../../core/shm-file.node';
import { WindowBacking, WindowFault, type FileRange } from '../../core/window';
import { RamChild } from './ram-child-client';
import { guestMemorySuite, pattern, WIN_BASE } from './memory-suite';

export interface FileBackings {
  name: 'positioned' | 'mapped';
  /** Does guest RAM of this kind (and the child's) get a live mapping? */
  mapped: boolean;
  /** The environment a child process of the same kind runs with. */
  childEnv: Record<string, string | undefined>;
  /** A window range over [foffset, foffset + len) of fd, which it owns. */
  fileRange(fd: number, foffset: number, len: number, writable: boolean): FileRange;
  /** A write through a window range past the end of its file: */
  writePastEnd: 'extends' | 'faults';
}

const PAGE = 4096;
const kindOf = (r: RamFile) => (ramIsMapped(r) ? 'mapped' : 'positioned');

export function filesSuite(b: FileBackings): void {
  const made: RamFile[] = [];
  guestMemorySuite({
    name: `${b.name} RAM`,
    make: (n) => { const r = createRam(n); made.push(r); return r; },
    live: b.mapped,
    cleanup: () => { for (const r of made.splice(0)) { r.close(); r.unlink(); } },
  });
  ramSuite(b);
  windowSuite(b);
}

function ramSuite(b: FileBackings): void {
  const t = suite(`guest RAM file (${b.name})`);

  t('a child writes, the parent reads; the parent writes, the child reads', async () => {
    const SIZE = 1 << 20;
    const ram = createRam(SIZE);
    const mem = new GuestMemory();
    mem.addRegion('ram', 0, ram);
    const child = new RamChild(ram.path, b.childEnv);
    try {
      assert.is(await child.next(), 'ready');
      assert.is(await child.ask('kind'), b.name);
      assert.is(await child.ask('write 4094 5000 9'), 'ok'); // across pages
      assert.equal(mem.read(4094, 5000), pattern(5000, 9));
      assert.is(await child.ask(`setu64 ${SIZE - 8} 18446744073709551615`), 'ok');
      assert.is(mem.u64(SIZE - 8), 0xffff_ffff_ffff_ffffn);
      const p = pattern(3000, 200);
      mem.write(0x8_0000, p);
      assert.is(await child.ask(`read ${0x8_0000} 3000`), Buffer.from(p).toString('hex'));
      mem.setU64(0x100, 0x1122_3344_5566_7788n);
      assert.is(await child.ask('u64 256'), String(0x1122_3344_5566_7788n));
      assert.match(await child.ask(`read ${SIZE - 2} 4`), /^error .*crosses/);
    } finally {
      await child.end();
      ram.close();
      ram.unlink();
    }
  });

  t(`an unsealed /dev/shm file gets positioned I/O; createRam gives ${b.name}`, () => {
    const shm = ShmFileBacking.create(2 * PAGE);
    try {
      const opened = openRam(shm.path, 2 * PAGE);
      assert.is(kindOf(opened), 'positioned', 'unsealed: a truncate could SIGBUS a plain load');
      opened.close();
      assert.throws(() => openRam(shm.path, PAGE), /8192 bytes, expected 4096/);
    } finally { shm.close(); shm.unlink(); }
    const ram = createRam(2 * PAGE);
    try {
      assert.is(kindOf(ram), b.name);
      assert.is(fs.fstatSync(ram.fd).size, 2 * PAGE);
      const again = openRam(ram.path);
      assert.is(kindOf(again), b.name);
      ram.write(10, Uint8Array.of(7));
      const d = new Uint8Array(1);
      again.read(10, d);
      assert.is(d[0], 7);
      again.close();
    } finally { ram.close(); ram.unlink(); }
    const asked = createRam(PAGE, { positioned: true });
    try { assert.is(kindOf(asked), 'positioned'); } finally { asked.close(); asked.unlink(); }
  });

  t('guest RAM that is not a regular file is refused, and a FIFO does not hang', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ram-'));
    try {
      assert.throws(() => openRam(dir), /not a regular file|EISDIR/);
      execFileSync('mkfifo', [path.join(dir, 'fifo')]);
      assert.throws(() => openRam(path.join(dir, 'fifo')), /not a regular file/);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  t('closed RAM: every access faults, none reads stale bytes', () => {
    const ram = createRam(4 * PAGE);
    const mem = new GuestMemory();
    mem.addRegion('ram', 0, ram);
    mem.write(PAGE, pattern(64, 3));
    const v = mem.view(PAGE, 64);
    ram.close();
    assert.throws(() => mem.read(PAGE, 64));
    assert.throws(() => mem.u32(PAGE));
    assert.throws(() => mem.setU8(PAGE, 1));
    assert.throws(() => ram.read(0, new Uint8Array(1)));
    if (b.mapped) assert.is(v!.length, 0, 'an old view is detached'); else assert.is(v, undefined);
    ram.close(); // idempotent
    ram.unlink(); // a /dev/shm file's name; nothing for a memfd
  });

  t.run();
}

/** A temporary host file of `bytes`, opened read-write. */
function hostFile(bytes: Uint8Array): { file: string; fd: number; done(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'window-'));
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, bytes);
  const fd = fs.openSync(file, 'r+');
  return { file, fd, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function windowSuite(b: FileBackings): void {
  const t = suite(`dax window range (${b.name})`);
  const WIN = 8 * PAGE;

  const setup = (content: Uint8Array, writable = true) => {
    const h = hostFile(content);
    const win = new WindowBacking(WIN);
    const mem = new GuestMemory();
    mem.addRegion('window', WIN_BASE, win);
    return { ...h, win, mem, range: (fo: number, len: number) => b.fileRange(fs.openSync(h.file, writable ? 'r+' : 'r'), fo, len, writable) };
  };

  t('a range shows the host file at every width; an unaligned file offset; zeros past the end', () => {
    const content = pattern(3 * PAGE + 100, 5);
    const s = setup(content);
    try {
      s.win.map(0, 4 * PAGE, s.range(PAGE, 4 * PAGE), PAGE, true); // past the end: 100 bytes, then zeros
      s.win.map(4 * PAGE, PAGE, s.range(100, PAGE), 100, true); // not page-aligned in the file
      assert.equal(s.mem.read(WIN_BASE, 2 * PAGE + 100), content.subarray(PAGE));
      assert.equal(s.mem.read(WIN_BASE + 2 * PAGE + 100, 2 * PAGE - 100), new Uint8Array(2 * PAGE - 100));
      assert.equal(s.mem.read(WIN_BASE + 4 * PAGE, PAGE), content.subarray(100, 100 + PAGE));
      const dv = new DataView(content.buffer);
      for (const at of [0, 1, PAGE - 3, PAGE - 1, 2 * PAGE + 92]) {
        assert.is(s.mem.u8(WIN_BASE + at), content[PAGE + at]);
        assert.is(s.mem.u16(WIN_BASE + at), dv.getUint16(PAGE + at, true));
        assert.is(s.mem.u32(WIN_BASE + at), dv.getUint32(PAGE + at, true));
        assert.is(s.mem.u64(WIN_BASE + at), dv.getBigUint64(PAGE + at, true));
      }
      // writes land in the file, and the file's writes show at once
      s.mem.setU32(WIN_BASE + PAGE - 2, 0xa1b2c3d4);
      assert.equal(Array.from(fs.readFileSync(s.file).subarray(2 * PAGE - 2, 2 * PAGE + 2)), [0xd4, 0xc3, 0xb2, 0xa1]);
      fs.writeSync(s.fd, Uint8Array.of(1, 2, 3), 0, 3, PAGE + 50);
      assert.equal(s.mem.read(WIN_BASE + 50, 3), Uint8Array.of(1, 2, 3));
    } finally { s.win.clear(); fs.closeSync(s.fd); s.done(); }
  });

  t(`truncate under a mapping: reads 0 past the new end, no crash; a write past it ${b.writePastEnd}`, () => {
    const content = pattern(4 * PAGE, 9);
    const s = setup(content);
    try {
      s.win.map(0, 4 * PAGE, s.range(0, 4 * PAGE), 0, true);
      assert.equal(s.mem.read(WIN_BASE, 4 * PAGE), content);
      fs.ftruncateSync(s.fd, PAGE + 10); // by someone else, under the mapping
      const got = s.mem.read(WIN_BASE, 4 * PAGE);
      assert.equal(got.subarray(0, PAGE + 10), content.subarray(0, PAGE + 10));
      assert.equal(got.subarray(PAGE + 10), new Uint8Array(3 * PAGE - 10));
      assert.is(s.mem.u64(WIN_BASE + 3 * PAGE), 0n);
      assert.is(s.mem.u8(WIN_BASE + PAGE + 9), content[PAGE + 9]);
      if (b.writePastEnd === 'faults') {
        assert.throws(() => s.mem.write(WIN_BASE + 2 * PAGE, Uint8Array.of(1)), /past the end/);
        assert.is(fs.fstatSync(s.fd).size, PAGE + 10, 'the file did not grow');
      } else {
        s.mem.write(WIN_BASE + 2 * PAGE, Uint8Array.of(1));
        assert.is(fs.fstatSync(s.fd).size, 2 * PAGE + 1, 'the file grew');
      }
      s.mem.setU16(WIN_BASE + 4, 0xbeef); // before the end: still fine
      assert.is(s.mem.u16(WIN_BASE + 4), 0xbeef);
    } finally { s.win.clear(); fs.closeSync(s.fd); s.done(); }
  });

  t('unmap, then read: a fault, never stale bytes; a replaced range is released first', () => {
    const s = setup(pattern(2 * PAGE, 1));
    const other = hostFile(pattern(2 * PAGE, 77));
    try {
      const a = s.range(0, 2 * PAGE);
      s.win.map(0, 2 * PAGE, a, 0, true);
      assert.is(s.mem.u8(WIN_BASE + 1), pattern(2, 1)[1]);
      s.win.unmap(0, 2 * PAGE);
      assert.throws(() => s.mem.read(WIN_BASE, 1), (e: unknown) => e instanceof WindowFault);
      assert.throws(() => a.read(0, new Uint8Array(1)), 'the released range itself faults');
      // replace: the old range is gone before the new one shows
      const c = s.range(0, 2 * PAGE);
      s.win.map(0, 2 * PAGE, c, 0, false);
      const d = b.fileRange(fs.openSync(other.file, 'r'), 0, 2 * PAGE, false);
      s.win.map(0, 2 * PAGE, d, 0, false);
      assert.throws(() => c.read(0, new Uint8Array(1)), 'the replaced range faults');
      assert.equal(s.mem.read(WIN_BASE, 16), pattern(16, 77));
      // a partial unmap keeps the rest of the same range
      s.win.unmap(0, PAGE);
      assert.throws(() => s.mem.u8(WIN_BASE), (e: unknown) => e instanceof WindowFault);
      assert.is(s.mem.u8(WIN_BASE + PAGE), pattern(PAGE + 1, 77)[PAGE]);
      s.win.clear();
      assert.throws(() => d.read(PAGE, new Uint8Array(1)), 'cleared: released');
    } finally { s.win.clear(); fs.closeSync(s.fd); s.done(); other.done(); }
  });

  t.run();
}
