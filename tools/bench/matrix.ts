// The read rows of the fio table in the Linux virtiofs DAX series (Goyal et
// al., 2020): seqread/randread x psync/libaio (iodepth 16) x one job/4 jobs
// ("-multi"), 4 KiB blocks; each row measured with DAX, with FUSE_READ
// (cache=none) and on the host.

import type { JobResult } from './job';
import type { JobSpec } from './options';

export interface MatrixRow {
  name: string;
  spec: JobSpec;
  /** Seed 002's figures (MiB/s): virtiofs-cache-none and virtiofs-cache-none-dax. */
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
};

/** The rows, from the global options (size, runtime, randseed...); bs defaults to 4k as in the series. */
export function seed002Rows(base: JobSpec): MatrixRow[] {
  const rows: MatrixRow[] = [];
  for (const rw of ['read', 'randread'] as const) {
    for (const ioengine of ['psync', 'libaio'] as const) {
      for (const numjobs of [1, 4]) {
        const name = `${rw === 'read' ? 'seqread' : 'randread'}-${ioengine}${numjobs > 1 ? '-multi' : ''}`;
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
