// What the bench prints: a table for people, JSON for machines.

import * as os from 'node:os';
import * as fs from 'node:fs';
import { pathLabel, type JobResult } from './job';
import type { MatrixLine } from './matrix';

export interface Machine {
  nproc: number;
  cpu: string;
  node: string;
  platform: string;
  kernel: string;
}

export function machine(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!.trim();
  } catch { /* not Linux */ }
  return { nproc: os.availableParallelism?.() ?? os.cpus().length, cpu, node: process.version, platform: os.platform(), kernel: os.release() };
}

export function fmtNum(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function fmtRatio(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return `${v >= 10 ? v.toFixed(1) : v >= 0.01 ? v.toFixed(2) : v.toPrecision(2)}x`;
}

/** Columns right-aligned except the first two. */
export function table(head: readonly string[], rows: readonly (readonly string[])[], leftCols = 2): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i < leftCols ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function jobsTable(results: readonly JobResult[]): string {
  const head = ['job', 'path', 'MiB/s', 'IOPS', 'mean us', 'p50 us', 'p99 us', 'p99.9 us', 'x host', 'hits', 'misses', 'evict', 'setupmap'];
  const rows = results.map((r) => [
    `${r.name}`, pathLabel(r.path, r.rw), fmtNum(r.mibps), Math.round(r.iops).toLocaleString('en-US'),
    fmtNum(r.lat.meanUs), fmtNum(r.lat.p50Us), fmtNum(r.lat.p99Us), fmtNum(r.lat.p999Us), fmtRatio(r.vsHost),
    ...(r.dax ? [r.dax.hits, r.dax.misses, r.dax.evictions, r.dax.setupMappings].map(String) : ['', '', '', '']),
  ]);
  return table(head, rows);
}

export function matrixTable(lines: readonly MatrixLine[]): string {
  const head = ['row (bs 4k)', 'FUSE MiB/s', 'DAX MiB/s', 'host MiB/s', 'DAX/FUSE', 'DAX/host', 'seed002 none', 'seed002 dax', 'seed002 ratio'];
  const rows = lines.map((l) => [
    l.name, fmtNum(l.fuse?.mibps), fmtNum(l.dax?.mibps), fmtNum(l.host?.mibps), fmtRatio(l.daxVsFuse), fmtRatio(l.daxVsHost),
    String(l.seed.none), String(l.seed.dax), fmtRatio(l.seed.ratio),
  ]);
  return table(head, rows, 1);
}

export function header(m: Machine, command: string): string {
  return `virtiofs bench: ${m.nproc} CPUs (${m.cpu}), node ${m.node}, ${m.platform} ${m.kernel}\ncommand: ${command}`;
}

/** Each guest result's ratio to the host run of the same spec. */
export function attachHostRatios(results: JobResult[]): void {
  for (const r of results) {
    if (r.path === 'host') continue;
    const h = results.find((x) => x.path === 'host' && x.name === r.name);
    if (h && h.mibps > 0) r.vsHost = r.mibps / h.mibps;
  }
}
