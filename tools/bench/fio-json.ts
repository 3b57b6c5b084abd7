// The report in fio's JSON layout (fio --output-format=json), so tools that
// read fio's output read the bench's: one entry of jobs[] per job and path
// (jobname NAME.dax, NAME.fuse, NAME.host), read{} for reads and write{}
// for writes (a mixed job's ios split between them, each with the job's
// one latency distribution, which the bench does not keep apart), trim{}
// zero. The keys and units are
// fio's: bw in KiB/s, bw_bytes in B/s, runtime in ms, latencies in ns.
// Fields fio has and the bench does not measure (slat, CPU use, per-second
// bandwidth samples) are 0, or the job's one figure where fio would give
// the mean of its samples.

import type { JobResult } from './job';
import type { BenchArgs } from './options';
import { PATH_LABEL, writesOf } from './job';

const zeroLat = { min: 0, max: 0, mean: 0, stddev: 0, N: 0 };

function idle() {
  return {
    io_bytes: 0, io_kbytes: 0, bw_bytes: 0, bw: 0, iops: 0, runtime: 0, total_ios: 0, short_ios: 0, drop_ios: 0,
    slat_ns: zeroLat, clat_ns: { ...zeroLat, percentile: {} }, lat_ns: zeroLat,
    bw_min: 0, bw_max: 0, bw_agg: 0, bw_mean: 0, bw_dev: 0, bw_samples: 0,
    iops_min: 0, iops_max: 0, iops_mean: 0, iops_stddev: 0, iops_samples: 0,
  };
}

/** The part of the job's ios that were reads (or writes): `ios` of them. */
function ioPart(r: JobResult, ios: number) {
  if (ios === 0) return idle();
  const runtime = Math.round(r.elapsed * 1000);
  const bytes = ios === r.ios ? r.bytes : ios * r.bs;
  const iops = r.elapsed > 0 ? ios / r.elapsed : 0;
  const bwBytes = Math.round(r.elapsed > 0 ? bytes / r.elapsed : 0);
  const bw = Math.floor(bwBytes / 1024);
  const { percentile, ...lat } = r.clatNs;
  return {
    ...idle(),
    io_bytes: bytes, io_kbytes: Math.floor(bytes / 1024), bw_bytes: bwBytes, bw, iops, runtime, total_ios: ios,
    clat_ns: { ...lat, percentile },
    // No submission latency is measured: total latency is the completion latency.
    lat_ns: lat,
    bw_min: bw, bw_max: bw, bw_agg: 100, bw_mean: bw, bw_samples: 1,
    iops_min: Math.round(iops), iops_max: Math.round(iops), iops_mean: iops, iops_samples: 1,
  };
}

function writesIn(r: JobResult): number {
  const kind = writesOf(r.rw);
  return kind === 'none' ? 0 : kind === 'all' ? r.ios : Math.min(r.ios, r.writes ?? 0);
}

/** fio's "job options": the job as fio's options would spell it. */
function jobOptions(r: JobResult, runtime: number | undefined): Record<string, string> {
  const o: Record<string, string> = {
    name: r.name, rw: r.rw, bs: String(r.bs), size: String(r.size), iodepth: String(r.iodepth), numjobs: String(r.numjobs),
    ioengine: r.ioengine, direct: '1', group_reporting: '1',
    // Not fio's: which path of the guest (or the host) the entry measured.
    path: PATH_LABEL[r.path], dax: r.path === 'dax' ? 'always' : r.path === 'fuse' ? 'never' : 'host',
  };
  if (runtime !== undefined) { o.runtime = String(runtime); o.time_based = '1'; }
  return o;
}

export function fioJson(args: BenchArgs, results: readonly JobResult[], version: string, now = new Date()) {
  const global: Record<string, string> = { direct: '1' };
  if (args.directory) global.directory = args.directory;
  if (args.cacheSize) global.cache_size = args.cacheSize;
  if (args.chunkSize) global.chunk_size = args.chunkSize;
  const specs = new Map(args.jobs.map((j) => [j.name, j]));
  return {
    'fio version': `virtiofs-bench-${version}`,
    timestamp: Math.floor(now.getTime() / 1000),
    timestamp_ms: now.getTime(),
    time: now.toString(),
    'global options': global,
    jobs: results.map((r, i) => ({
      jobname: `${r.name}.${r.path}`,
      groupid: i,
      error: 0,
      eta: 0,
      elapsed: Math.ceil(r.elapsed),
      'job options': jobOptions(r, specs.get(r.name)?.runtime ?? args.jobs[0]?.runtime),
      read: ioPart(r, r.ios - writesIn(r)),
      write: ioPart(r, writesIn(r)),
      trim: idle(),
      sync: { total_ios: 0, lat_ns: zeroLat },
      job_runtime: Math.round(r.elapsed * 1000),
      usr_cpu: 0, sys_cpu: 0, ctx: 0, majf: 0, minf: 0,
      iodepth_level: { [r.iodepth >= 64 ? '>=64' : String(2 ** Math.floor(Math.log2(r.iodepth)))]: 100 },
      latency_depth: r.iodepth, latency_target: 0, latency_percentile: 100, latency_window: 0,
    })),
    disk_util: [],
  };
}
