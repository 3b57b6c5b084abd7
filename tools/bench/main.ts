// virtiofs bench: fio-style read jobs through the guest's VFS, with DAX and
// with FUSE_READ, each also run as the host's own positioned reads of the
// same files so every figure has a ratio to the host. `--matrix seed002`
// runs the read rows of the Linux virtiofs DAX series' table (Goyal et al.,
// 2020; the option keeps its old name); `dax-manager` micro-benchmarks the
// window manager. Run by `virtiofs bench ARGS` or `npm run bench -- ARGS`.

import * as fs from 'node:fs';
import { guestJob } from './guest';
import { hostReads, pathLabel, resultOf, type JobResult, type PathKind, type ProgressFn } from './job';
import { matrixLine, seed002Rows, type MatrixLine } from './matrix';
import { microDax, microTable } from './micro-dax';
import { ProgressPrinter } from '../common/progress';
import { packageVersion, versionLine } from '../common/version';
import { fioJson } from './fio-json';
import { parseArgs, UsageError, USAGE, type BenchArgs, type JobSpec } from './options';
import { attachHostRatios, header, jobsTable, machine, matrixTable } from './report';
import { matrixSvg } from './svg';
import { fileNames, openTarget, type FileSet, type Target } from './target';

export interface BenchIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export interface BenchReport {
  machine: ReturnType<typeof machine>;
  command: string;
  jobs: JobResult[];
  matrix?: MatrixLine[];
}

interface Planned { spec: JobSpec; files: FileSet }

/** Where the bench tells how far it is (the programs' one progress printer). */
interface ProgressSink { update(text: string): void; done(text: string): void; clear(): void }

function progressSink(stream: BenchIo['stderr'], enabled: boolean): ProgressSink {
  if (!enabled) return { update() {}, done() {}, clear() {} };
  const p = new ProgressPrinter(stream);
  return { update: (t) => p.update(t), done: (t) => p.line(t), clear: () => p.clear() };
}

function pathsOf(spec: JobSpec, host: boolean): PathKind[] {
  const p: PathKind[] = [];
  if (spec.dax !== 'never') p.push('dax');
  if (spec.dax !== 'always') p.push('fuse');
  if (host) p.push('host');
  return p;
}

async function runOne(target: Target, args: BenchArgs, job: Planned, path: PathKind, sink: ProgressSink, step: string): Promise<JobResult> {
  const { spec } = job;
  const names = fileNames(job.files);
  const progress: ProgressFn = (bytes, ios, elapsed) =>
    sink.update(`${step} ${spec.name} ${pathLabel(path, spec.rw)}: ${elapsed.toFixed(1)} s, ${(bytes / 1048576 / Math.max(elapsed, 1e-9)).toFixed(1)} MiB/s, ${ios} ios`);
  progress(0, 0, 0);
  const r = path === 'host'
    ? resultOf(spec, 'host', await hostReads(spec, names.map((n) => `${target.directory}/${n}`), progress))
    : await guestJob(target, spec, path, names, args.chunkSize, progress);
  sink.done(`${step} ${spec.name} ${pathLabel(path, spec.rw)}: ${r.mibps.toFixed(1)} MiB/s, ${Math.round(r.iops)} IOPS, p99 ${r.lat.p99Us} us`);
  return r;
}

async function runJobs(args: BenchArgs, planned: Planned[], sink: ProgressSink): Promise<JobResult[]> {
  const stems = new Map<string, FileSet>();
  for (const p of planned) {
    const key = p.files.filename !== undefined ? `file:${p.files.filename}` : p.files.stem;
    const s = stems.get(key);
    if (!s || s.count < p.files.count || s.size < p.files.size) stems.set(key, { ...p.files, count: Math.max(p.files.count, s?.count ?? 0), size: Math.max(p.files.size, s?.size ?? 0) });
  }
  sink.update('preparing files and the device model...');
  const target = await openTarget(args, [...stems.values()], planned.some((p) => p.spec.dax !== 'never'));
  const results: JobResult[] = [];
  try {
    const total = planned.reduce((n, p) => n + pathsOf(p.spec, args.host).length, 0);
    let k = 0;
    for (const p of planned) {
      for (const path of pathsOf(p.spec, args.host)) results.push(await runOne(target, args, p, path, sink, `[${++k}/${total}]`));
    }
  } finally {
    sink.clear();
    await target.close();
  }
  attachHostRatios(results);
  return results;
}

export async function run(argv: string[], io: BenchIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`virtiofs bench: ${e.message} (virtiofs bench --help lists the options)\n`);
    return 2;
  }
  if (args.mode === 'help') { io.stdout.write(USAGE); return 0; }
  if (args.mode === 'version') { io.stdout.write(`${versionLine('virtiofs bench')}\n`); return 0; }
  const sink = progressSink(io.stderr, !args.quiet && !args.json);
  const m = machine();
  const command = `virtiofs bench ${argv.join(' ')}`.trim();
  try {
    if (args.mode === 'micro-dax') {
      const results = await microDax(args.microOps, undefined, (t) => sink.update(t));
      sink.clear();
      if (args.json) io.stdout.write(`${JSON.stringify({ machine: m, command, micro: results }, null, 2)}\n`);
      else io.stdout.write(`${header(m, command)}\n\nDAX window manager alone (null device), best of 5:\n${microTable(results)}\n`);
      return 0;
    }
    const report: BenchReport = { machine: m, command, jobs: [] };
    if (args.mode === 'matrix') {
      const rows = seed002Rows({ ...args.jobs[0]!, bs: args.jobs[0]!.bs });
      // Four files for the DAX series' jobs; the window matrix runs one job (one file) per row.
      const planned = rows.map((r) => ({ spec: r.spec, files: { stem: 'seed002', count: args.matrix === 'window' ? 1 : 4, size: r.spec.size } }));
      report.jobs = await runJobs(args, planned, sink);
      report.matrix = rows.map((r) => matrixLine(r, report.jobs.filter((j) => j.name === r.name)));
    } else {
      const planned = args.jobs.map((spec) => ({ spec, files: { stem: spec.name, count: spec.numjobs, size: spec.size, filename: spec.filename } }));
      report.jobs = await runJobs(args, planned, sink);
    }
    if (args.plot) {
      if (!report.matrix) throw new UsageError('--plot draws the matrix: use it with --matrix seed002');
      const sub = `${m.nproc} CPUs, ${m.cpu}, node ${m.node}; ${command}`;
      fs.writeFileSync(args.plot, matrixSvg(report.matrix, sub.length > 110 ? `${sub.slice(0, 107)}...` : sub));
    }
    if (args.output === 'json') io.stdout.write(`${JSON.stringify(fioJson(args, report.jobs, packageVersion()), null, 2)}\n`);
    else if (args.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      const parts = [header(m, command), ''];
      if (report.matrix) parts.push(matrixTable(report.matrix), '');
      parts.push(jobsTable(report.jobs));
      if (args.plot) parts.push('', `plot: ${args.plot}`);
      io.stdout.write(`${parts.join('\n')}\n`);
    }
    return 0;
  } catch (e) {
    sink.clear();
    io.stderr.write(`virtiofs bench: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
