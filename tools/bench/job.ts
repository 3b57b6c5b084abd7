// One job on one path: numjobs readers, each on its own file, each keeping
// iodepth positioned reads in flight (fio's libaio) or one (psync), with the
// same offsets on every path (same randseed), until runtime or io_size.

import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './histogram';
import type { JobSpec } from './options';

export type PathKind = 'dax' | 'fuse' | 'host';

export const PATH_LABEL: Record<PathKind, string> = { dax: 'DAX', fuse: 'FUSE_READ', host: 'host' };

export interface DaxJobStats {
  hits: number;
  misses: number;
  evictions: number;
  setupMappings: number;
  fallbacks: number;
  bytesDax: number;
  bytesFuseRead: number;
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
  /** mibps / the host job's mibps (same spec), when the host was measured. */
  vsHost?: number;
}

/** One positioned read of bs bytes at offset of job j's file; resolves to the byte count. */
export type AsyncRead = (job: number, slot: number, offset: number) => Promise<number>;
export type SyncRead = (job: number, offset: number) => number;

export type ProgressFn = (bytes: number, ios: number, elapsed: number) => void;

const PROGRESS_MS = 200;

/** Offsets of one reader's file: sequential wrapping at the end, or uniform random blocks. */
export class OffsetGen {
  private cursor = 0;
  private state: number;
  private readonly blocks: number;

  constructor(private readonly rw: JobSpec['rw'], private readonly bs: number, size: number, seed: number) {
    this.blocks = Math.floor(size / bs);
    if (this.blocks < 1) throw new RangeError(`file of ${size} bytes holds no block of ${bs}`);
    this.state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  }

  next(): number {
    if (this.rw === 'read') {
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

interface Tally { hist: LatencyHistogram; ios: number; bytes: number; elapsed: number }

function limits(spec: JobSpec): { deadline: number; perJob: number } {
  return {
    deadline: spec.runtime === undefined ? Infinity : spec.runtime * 1000,
    perJob: spec.ioSize === undefined ? Infinity : spec.ioSize,
  };
}

/** Every reader's reads through an async function (guest paths; host with >1 in flight). */
export async function driveAsync(spec: JobSpec, read: AsyncRead, progress?: ProgressFn): Promise<Tally> {
  const { deadline, perJob } = limits(spec);
  const hist = new LatencyHistogram();
  const gens = Array.from({ length: spec.numjobs }, (_, j) => new OffsetGen(spec.rw, spec.bs, spec.size, seedOf(spec, j)));
  const issued = new Array<number>(spec.numjobs).fill(0);
  let ios = 0;
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
      const n = await read(j, slot, gen.next());
      const t1 = performance.now();
      if (n !== spec.bs) throw new Error(`short read: ${n} of ${spec.bs} bytes`);
      hist.record((t1 - t0) * 1e6);
      ios++;
      bytes += n;
      if (t1 > end) end = t1;
      if (progress && t1 - lastTick >= PROGRESS_MS) { lastTick = t1; progress(bytes, ios, (t1 - start) / 1000); }
    }
  };
  const all: Promise<void>[] = [];
  for (let j = 0; j < spec.numjobs; j++) for (let s = 0; s < spec.iodepth; s++) all.push(reader(j, s));
  await Promise.all(all);
  return { hist, ios, bytes, elapsed: (end - start) / 1000 };
}

/** One reader, one read at a time, no promise per read (host psync). */
export function driveSync(spec: JobSpec, read: SyncRead, progress?: ProgressFn): Tally {
  if (spec.numjobs !== 1) throw new RangeError('driveSync runs one reader');
  const { deadline, perJob } = limits(spec);
  const hist = new LatencyHistogram();
  const gen = new OffsetGen(spec.rw, spec.bs, spec.size, seedOf(spec, 0));
  let ios = 0;
  let bytes = 0;
  let lastTick = 0;
  const start = performance.now();
  let t1 = start;
  for (let issued = 0; ; issued += spec.bs) {
    const t0 = performance.now();
    if (t0 - start >= deadline || issued >= perJob) break;
    const n = read(0, gen.next());
    t1 = performance.now();
    if (n !== spec.bs) throw new Error(`short read: ${n} of ${spec.bs} bytes`);
    hist.record((t1 - t0) * 1e6);
    ios++;
    bytes += n;
    if (progress && t1 - lastTick >= PROGRESS_MS) { lastTick = t1; progress(bytes, ios, (t1 - start) / 1000); }
  }
  return { hist, ios, bytes, elapsed: (t1 - start) / 1000 };
}

/** The host's own positioned reads of the same files: readSync for one
 *  synchronous reader, fs.read (libuv's thread pool) otherwise. */
export async function hostReads(spec: JobSpec, paths: readonly string[], progress?: ProgressFn): Promise<Tally> {
  const fds = paths.map((p) => fs.openSync(p, 'r'));
  try {
    if (spec.numjobs === 1 && spec.iodepth === 1) {
      const buf = Buffer.allocUnsafe(spec.bs);
      const fd = fds[0]!;
      return driveSync(spec, (_j, off) => fs.readSync(fd, buf, 0, buf.length, off), progress);
    }
    const bufs = Array.from({ length: spec.numjobs * spec.iodepth }, () => Buffer.allocUnsafe(spec.bs));
    const read: AsyncRead = (j, slot, off) => new Promise((resolve, reject) => {
      fs.read(fds[j]!, bufs[j * spec.iodepth + slot]!, 0, spec.bs, off, (err, n) => (err ? reject(err) : resolve(n)));
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
  };
}
