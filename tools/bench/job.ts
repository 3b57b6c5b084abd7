// One job on one path: numjobs workers, each on its own file, each keeping
// iodepth positioned reads or writes in flight (fio's libaio) or one
// (psync), with the same offsets — and, for rw/randrw, the same choice of
// read or write (half each, fio's rwmixread=50) — on every path (same
// randseed), until runtime or io_size. The host path is the host's own
// pread/pwrite of the same files.

import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './histogram';
import type { JobSpec } from './options';

export type PathKind = 'dax' | 'fuse' | 'host';

/** The legend's names (the plot and the matrix cover reads and writes). */
export const PATH_LABEL: Record<PathKind, string> = { dax: 'DAX', fuse: 'FUSE_READ/FUSE_WRITE', host: 'host' };

/** A job's path by the requests it sends: FUSE_READ, FUSE_WRITE or both. */
export function pathLabel(path: PathKind, rw: JobSpec['rw']): string {
  if (path !== 'fuse') return PATH_LABEL[path];
  const w = writesOf(rw);
  return w === 'none' ? 'FUSE_READ' : w === 'all' ? 'FUSE_WRITE' : 'FUSE_READ+WRITE';
}

export interface DaxJobStats {
  hits: number;
  misses: number;
  evictions: number;
  setupMappings: number;
  fallbacks: number;
  bytesDax: number;
  bytesFuseRead: number;
  /** The write path: bytes written through the window, upgrades, write mappings, ENOSPC. */
  bytesDaxWritten?: number;
  upgrades?: number;
  writeMappings?: number;
  /** Misses served by FUSE_READ/FUSE_WRITE under the adaptive rule. */
  adaptiveMisses?: number;
  reclaimRuns?: number;
}

export interface LatencySummary {
  meanUs: number;
  minUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** fio's default completion-latency percentiles (its percentile_list). */
export const FIO_PERCENTILES = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99] as const;

/** Completion latency in fio's terms (ns), for its JSON layout. */
export interface ClatNs {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  N: number;
  /** Keyed as fio keys them: "99.900000". */
  percentile: Record<string, number>;
}

export interface JobResult {
  name: string;
  path: PathKind;
  rw: JobSpec['rw'];
  bs: number;
  size: number;
  iodepth: number;
  numjobs: number;
  ioengine: JobSpec['ioengine'];
  /** Seconds from the first read issued to the last completed. */
  elapsed: number;
  ios: number;
  bytes: number;
  mibps: number;
  iops: number;
  lat: LatencySummary;
  clatNs: ClatNs;
  dax?: DaxJobStats;
  /** ios that were writes (rw, randrw: about half). */
  writes?: number;
  /** mibps / the host job's mibps (same spec), when the host was measured. */
  vsHost?: number;
}

/** One positioned read (or, if write, write) of bs bytes at offset of job
 *  j's file; resolves to the byte count. */
export type AsyncRead = (job: number, slot: number, offset: number, write: boolean) => Promise<number>;
export type SyncRead = (job: number, offset: number, write: boolean) => number;

/** Whether the job writes at all, and whether it only writes. */
export function writesOf(rw: JobSpec['rw']): 'none' | 'all' | 'mixed' {
  return rw === 'write' || rw === 'randwrite' ? 'all' : rw === 'rw' || rw === 'randrw' ? 'mixed' : 'none';
}

export type ProgressFn = (bytes: number, ios: number, elapsed: number) => void;

const PROGRESS_MS = 200;

/** Offsets of one worker's file: sequential wrapping at the end, or
 *  uniform random blocks; and for rw/randrw whether each I/O writes. */
export class OffsetGen {
  private cursor = 0;
  private state: number;
  private mix: number;
  private readonly blocks: number;
  private readonly sequential: boolean;
  private readonly writes: 'none' | 'all' | 'mixed';

  constructor(rw: JobSpec['rw'], private readonly bs: number, size: number, seed: number) {
    this.blocks = Math.floor(size / bs);
    if (this.blocks < 1) throw new RangeError(`file of ${size} bytes holds no block of ${bs}`);
    this.state = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.mix = (seed ^ 0x2545f491) >>> 0 || 1;
    this.sequential = rw === 'read' || rw === 'write' || rw === 'rw';
    this.writes = writesOf(rw);
  }

  /** Whether the next I/O is a write (its own sequence, the same on every path). */
  nextIsWrite(): boolean {
    if (this.writes !== 'mixed') return this.writes === 'all';
    let x = this.mix;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.mix = x;
    return (x & 1) === 1;
  }

  next(): number {
    if (this.sequential) {
      const off = this.cursor;
      this.cursor = this.cursor + 1 >= this.blocks ? 0 : this.cursor + 1;
      return off * this.bs;
    }
    // xorshift32: cheap, and the same sequence on every path.
    let x = this.state;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.state = x;
    return (x % this.blocks) * this.bs;
  }
}

export function seedOf(spec: JobSpec, job: number): number {
  return (spec.randseed + Math.imul(job + 1, 0x85ebca6b)) >>> 0;
}

interface Tally { hist: LatencyHistogram; ios: number; bytes: number; elapsed: number; writes: number }

function limits(spec: JobSpec): { deadline: number; perJob: number } {
  return {
    deadline: spec.runtime === undefined ? Infinity : spec.runtime * 1000,
    perJob: spec.ioSize === undefined ? Infinity : spec.ioSize,
  };
}

/** Every worker's I/O through an async function (guest paths; host with >1 in flight). */
export async function driveAsync(spec: JobSpec, read: AsyncRead, progress?: ProgressFn): Promise<Tally> {
  const { deadline, perJob } = limits(spec);
  const hist = new LatencyHistogram();
  const gens = Array.from({ length: spec.numjobs }, (_, j) => new OffsetGen(spec.rw, spec.bs, spec.size, seedOf(spec, j)));
  const issued = new Array<number>(spec.numjobs).fill(0);
  let ios = 0;
  let writes = 0;
  let bytes = 0;
  let lastTick = 0;
  const start = performance.now();
  let end = start;
  const reader = async (j: number, slot: number): Promise<void> => {
    const gen = gens[j]!;
    for (;;) {
      const t0 = performance.now();
      if (t0 - start >= deadline || issued[j]! >= perJob) return;
      issued[j] += spec.bs;
      const w = gen.nextIsWrite();
      const n = await read(j, slot, gen.next(), w);
      const t1 = performance.now();
      if (n !== spec.bs) throw new Error(`short ${w ? 'write' : 'read'}: ${n} of ${spec.bs} bytes`);
      hist.record((t1 - t0) * 1e6);
      ios++;
      if (w) writes++;
      bytes += n;
      if (t1 > end) end = t1;
      if (progress && t1 - lastTick >= PROGRESS_MS) { lastTick = t1; progress(bytes, ios, (t1 - start) / 1000); }
    }
  };
  const all: Promise<void>[] = [];
  for (let j = 0; j < spec.numjobs; j++) for (let s = 0; s < spec.iodepth; s++) all.push(reader(j, s));
  await Promise.all(all);
  return { hist, ios, bytes, elapsed: (end - start) / 1000, writes };
}

/** One worker, one I/O at a time, no promise per I/O (host psync). */
export function driveSync(spec: JobSpec, read: SyncRead, progress?: ProgressFn): Tally {
  if (spec.numjobs !== 1) throw new RangeError('driveSync runs one reader');
  const { deadline, perJob } = limits(spec);
  const hist = new LatencyHistogram();
  const gen = new OffsetGen(spec.rw, spec.bs, spec.size, seedOf(spec, 0));
  let ios = 0;
  let writes = 0;
  let bytes = 0;
  let lastTick = 0;
  const start = performance.now();
  let t1 = start;
  for (let issued = 0; ; issued += spec.bs) {
    const t0 = performance.now();
    if (t0 - start >= deadline || issued >= perJob) break;
    const w = gen.nextIsWrite();
    const n = read(0, gen.next(), w);
    t1 = performance.now();
    if (n !== spec.bs) throw new Error(`short ${w ? 'write' : 'read'}: ${n} of ${spec.bs} bytes`);
    hist.record((t1 - t0) * 1e6);
    ios++;
    if (w) writes++;
    bytes += n;
    if (progress && t1 - lastTick >= PROGRESS_MS) { lastTick = t1; progress(bytes, ios, (t1 - start) / 1000); }
  }
  return { hist, ios, bytes, elapsed: (t1 - start) / 1000, writes };
}

/** The bytes every write of a job writes (one pattern, the same on every path). */
export function writePattern(bs: number): Uint8Array {
  const b = new Uint8Array(bs);
  for (let i = 0; i < bs; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

/** The host's own positioned reads and writes of the same files (the name
 *  is the read-only bench's): readSync/writeSync for one synchronous
 *  worker, fs.read/fs.write (libuv's thread pool) otherwise. */
export async function hostReads(spec: JobSpec, paths: readonly string[], progress?: ProgressFn): Promise<Tally> {
  const fds = paths.map((p) => fs.openSync(p, writesOf(spec.rw) === 'none' ? 'r' : 'r+'));
  const src = writePattern(spec.bs);
  try {
    if (spec.numjobs === 1 && spec.iodepth === 1) {
      const buf = Buffer.allocUnsafe(spec.bs);
      const fd = fds[0]!;
      return driveSync(spec, (_j, off, w) => (w ? fs.writeSync(fd, src, 0, src.length, off) : fs.readSync(fd, buf, 0, buf.length, off)), progress);
    }
    const bufs = Array.from({ length: spec.numjobs * spec.iodepth }, () => Buffer.allocUnsafe(spec.bs));
    const read: AsyncRead = (j, slot, off, w) => new Promise((resolve, reject) => {
      const cb = (err: NodeJS.ErrnoException | null, n: number) => (err ? reject(err) : resolve(n));
      if (w) fs.write(fds[j]!, src, 0, spec.bs, off, cb);
      else fs.read(fds[j]!, bufs[j * spec.iodepth + slot]!, 0, spec.bs, off, cb);
    });
    return await driveAsync(spec, read, progress);
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

export function resultOf(spec: JobSpec, path: PathKind, t: Tally, dax?: DaxJobStats): JobResult {
  const us = (ns: number) => Math.round(ns) / 1000;
  const elapsed = t.elapsed > 0 ? t.elapsed : 1e-9;
  return {
    name: spec.name, path, rw: spec.rw, bs: spec.bs, size: spec.size, iodepth: spec.iodepth, numjobs: spec.numjobs,
    ioengine: spec.ioengine, elapsed: t.elapsed, ios: t.ios, bytes: t.bytes,
    mibps: t.bytes / 1048576 / elapsed,
    iops: t.ios / elapsed,
    lat: {
      meanUs: us(t.hist.mean()), minUs: us(t.hist.count ? t.hist.min : 0), p50Us: us(t.hist.percentile(50)),
      p99Us: us(t.hist.percentile(99)), p999Us: us(t.hist.percentile(99.9)), maxUs: us(t.hist.max),
    },
    clatNs: {
      min: t.hist.count ? t.hist.min : 0, max: t.hist.max, mean: t.hist.mean(), stddev: t.hist.stddev(), N: t.hist.count,
      percentile: Object.fromEntries(FIO_PERCENTILES.map((p) => [p.toFixed(6), t.hist.percentile(p)])),
    },
    ...(dax ? { dax } : {}),
    ...(t.writes > 0 ? { writes: t.writes } : {}),
  };
}
