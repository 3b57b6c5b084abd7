// The matrices the bench runs with --matrix:
//
// - seed002: the read and write rows of the fio table in the Linux virtiofs
//   DAX series (Goyal et al., 2020): seqread/randread/seqwrite/randwrite x
//   psync/libaio (iodepth 16) x one job/4 jobs ("-multi"), 4 KiB blocks;
//   each row measured with DAX, with FUSE_READ/FUSE_WRITE (cache=none) and
//   on the host (pread/pwrite of the same files). The option keeps its name.
// - window: a file 4x the window (target.ts sizes the window), random 4 KiB
//   reads and writes, for both placements (OSv's stack, Linux's range pool),
//   with and without the adaptive rule; each row also FUSE and the host, so
//   "DAX never slower than FUSE_READ" is a ratio within the row.

import type { JobResult } from './job';
import { DEFAULT_SIZE, type JobSpec } from './options';

export interface MatrixRow {
  name: string;
  spec: JobSpec;
  /** The DAX series' figures (MiB/s): virtiofs-cache-none and virtiofs-cache-none-dax;
   *  NaN where the series has none (the window matrix). */
  seed: { none: number; dax: number };
}

const SEED002: Record<string, { none: number; dax: number }> = {
  'seqread-psync': { none: 35, dax: 643 },
  'seqread-psync-multi': { none: 219, dax: 2132 },
  'seqread-libaio': { none: 293, dax: 425 },
  'seqread-libaio-multi': { none: 207, dax: 1543 },
  'randread-psync': { none: 36, dax: 572 },
  'randread-psync-multi': { none: 211, dax: 1764 },
  'randread-libaio': { none: 300, dax: 413 },
  'randread-libaio-multi': { none: 327, dax: 1326 },
  'seqwrite-psync': { none: 34, dax: 494 },
  'seqwrite-psync-multi': { none: 223, dax: 1680 },
  'seqwrite-libaio': { none: 282, dax: 348 },
  'seqwrite-libaio-multi': { none: 320, dax: 1255 },
  'randwrite-psync': { none: 32, dax: 458 },
  'randwrite-psync-multi': { none: 213, dax: 1343 },
  'randwrite-libaio': { none: 292, dax: 341 },
  'randwrite-libaio-multi': { none: 322, dax: 1094 },
};

const NAMES: Record<'read' | 'randread' | 'write' | 'randwrite', string> = {
  read: 'seqread', randread: 'randread', write: 'seqwrite', randwrite: 'randwrite',
};

/** The rows of base.matrix (seed002 unless the base says window), from the
 *  global options (size, runtime, randseed...); bs defaults to 4k as in the
 *  series. main.ts calls it for every matrix. */
export function seed002Rows(base: JobSpec): MatrixRow[] {
  if (base.matrix === 'window') return windowRows(base);
  const rows: MatrixRow[] = [];
  for (const rw of ['read', 'randread', 'write', 'randwrite'] as const) {
    for (const ioengine of ['psync', 'libaio'] as const) {
      for (const numjobs of [1, 4]) {
        const name = `${NAMES[rw]}-${ioengine}${numjobs > 1 ? '-multi' : ''}`;
        rows.push({
          name,
          spec: { ...base, name, rw, ioengine, iodepth: ioengine === 'libaio' ? 16 : 1, numjobs, dax: 'both' },
          seed: SEED002[name]!,
        });
      }
    }
  }
  return rows;
}

/** The window matrix's file size: --size, or 1 GiB when none was given (a
 *  256 MiB window, the case the adaptive rule was written for). */
export function windowFileSize(base: JobSpec): number {
  return base.size === DEFAULT_SIZE ? 1 << 30 : base.size;
}

/** randread/randwrite x lifo/lru x adaptive rule on/off, psync, one job. */
export function windowRows(base: JobSpec): MatrixRow[] {
  const rows: MatrixRow[] = [];
  const size = windowFileSize(base);
  for (const rw of ['randread', 'randwrite'] as const) {
    for (const placement of ['lifo', 'lru'] as const) {
      for (const adaptive of [true, false]) {
        const name = `${rw}-${placement}-${adaptive ? 'adaptive' : 'always-map'}`;
        rows.push({
          name,
          spec: {
            ...base, name, rw, size, ioengine: 'psync', iodepth: 1, numjobs: 1, dax: 'both',
            mount: { 'dax-placement': placement, 'dax-adaptive': adaptive ? 'on' : 'off' },
          },
          seed: { none: NaN, dax: NaN },
        });
      }
    }
  }
  return rows;
}

export interface MatrixLine {
  name: string;
  dax?: JobResult;
  fuse?: JobResult;
  host?: JobResult;
  daxVsFuse?: number;
  daxVsHost?: number;
  seed: { none: number; dax: number; ratio: number };
}

export function matrixLine(row: MatrixRow, results: readonly JobResult[]): MatrixLine {
  const of = (p: JobResult['path']) => results.find((r) => r.path === p);
  const dax = of('dax');
  const fuse = of('fuse');
  const host = of('host');
  const ratio = (a?: JobResult, b?: JobResult) => (a && b && b.mibps > 0 ? a.mibps / b.mibps : undefined);
  return {
    name: row.name, dax, fuse, host,
    daxVsFuse: ratio(dax, fuse), daxVsHost: ratio(dax, host),
    seed: { ...row.seed, ratio: row.seed.dax / row.seed.none },
  };
}
