// Guest memory, positioned vs mapped, in one run: 4 KiB reads (and u16
// ring-index loads) of guest RAM (a /dev/shm file by positioned I/O vs a
// sealed memfd mapped with a live view) and 4 KiB reads of a DAX window
// range over a host file (HostFileRange pread vs MappedFileRange guarded
// copy), each through GuestMemory as the driver and the DAX manager reach
// it, at random 4 KiB-aligned offsets in a span of --span MiB. A plain
// buffer (everything in one process) is the floor. Several runs of each;
// min/median/max ns per op and the ratio of the medians. Prints figures;
// nothing fails on a time.
//
//   npx ts-node --transpile-only tools/bench/memory.ts [--runs N] [--ops N] [--span MiB]

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BufferBacking, GuestMemory, HostFileRange, MappedFileRange, WindowBacking, createRam, mmapAddon, mmapMissing,
  type FileRange, type MemoryBacking,
} from '../../core/index.node';
import { table } from './report';

const RAM = 64 << 20;
const FILE = 16 << 20;
const WIN_BASE = 2 ** 40;
const BLOCK = 4096;

interface Figures { min: number; median: number; max: number }

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name}: a positive integer`);
  return v;
}

/** Random block-aligned offsets below `size`, the same for every variant. */
function offsets(n: number, size: number): Float64Array {
  const out = new Float64Array(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = (x % (size / BLOCK)) * BLOCK;
  }
  return out;
}

function measure(runs: number, ops: number, fn: () => void): Figures {
  fn(); // warm-up: page-ins, JIT
  const ns: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    ns.push(Number(process.hrtime.bigint() - t0) / ops);
  }
  ns.sort((a, b) => a - b);
  return { min: ns[0]!, median: ns[ns.length >> 1]!, max: ns[ns.length - 1]! };
}

function ramMemory(backing: MemoryBacking): GuestMemory {
  const mem = new GuestMemory();
  mem.addRegion('ram', 0, backing);
  mem.write(0, new Uint8Array(RAM).fill(0x5a)); // every page present
  return mem;
}

function windowMemory(range: FileRange): GuestMemory {
  const win = new WindowBacking(FILE);
  win.map(0, FILE, range, 0, false);
  const mem = new GuestMemory();
  mem.addRegion('dax-window', WIN_BASE, win);
  return mem;
}

function main(): void {
  const runs = arg('--runs', 7);
  const ops = arg('--ops', 50_000);
  if (!mmapAddon) throw new Error(`the mmap addon is not loaded (${mmapMissing}): nothing to compare`);
  const span = arg('--span', 4) << 20;
  if (span > FILE) throw new Error(`--span: at most ${FILE >> 20}`);
  const at = offsets(ops, span);
  const dst = new Uint8Array(BLOCK);
  let sink = 0;
  const rows: string[][] = [];
  const row = (what: string, p: Figures, m: Figures, floor?: Figures) => {
    const f = (v: number) => v.toFixed(0);
    rows.push([what, f(p.min), f(p.median), f(p.max), f(m.min), f(m.median), f(m.max), `${(p.median / m.median).toFixed(1)}x`,
      floor ? f(floor.median) : '']);
  };

  const shm = createRam(RAM, { positioned: true });
  const memfd = createRam(RAM);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-memory-'));
  const file = path.join(dir, 'data');
  fs.writeFileSync(file, new Uint8Array(FILE).fill(0xa5)); // in the page cache
  const host = new HostFileRange(fs.openSync(file, 'r'), true);
  const mapped = new MappedFileRange(fs.openSync(file, 'r'), 0, FILE, false, true);
  try {
    const p = ramMemory(shm);
    const m = ramMemory(memfd);
    const b = ramMemory(new BufferBacking(RAM));
    const read = (mem: GuestMemory, base: number, o: Float64Array) => () => {
      for (let i = 0; i < ops; i++) { mem.readInto(base + o[i]!, dst); sink += dst[7]!; }
    };
    const u16 = (mem: GuestMemory) => () => { for (let i = 0; i < ops; i++) sink += mem.u16(at[i]! + 2); };
    row('guest RAM: readInto 4 KiB', measure(runs, ops, read(p, 0, at)), measure(runs, ops, read(m, 0, at)),
      measure(runs, ops, read(b, 0, at)));
    row('guest RAM: u16 load', measure(runs, ops, u16(p)), measure(runs, ops, u16(m)), measure(runs, ops, u16(b)));
    const wp = windowMemory(host);
    const wm = windowMemory(mapped);
    row('DAX window: readInto 4 KiB', measure(runs, ops, read(wp, WIN_BASE, at)), measure(runs, ops, read(wm, WIN_BASE, at)));
  } finally {
    shm.close(); shm.unlink(); memfd.close();
    host.release(); mapped.release();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const head = ['ns per op', 'positioned min', 'median', 'max', 'mapped min', 'median', 'max', 'positioned/mapped', 'buffer median'];
  process.stdout.write(`${table(head, rows, 1)}\n\n${runs} runs of ${ops} ops each at random 4 KiB-aligned offsets in`
    + ` ${span >> 20} MiB (RAM ${RAM >> 20} MiB; the file ${FILE >> 20} MiB, in the page cache); Node ${process.version},`
    + ` ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}\n`);
  if (sink === -1) process.stdout.write(`${sink}\n`); // keeps the loops from being optimised away
}

main();
