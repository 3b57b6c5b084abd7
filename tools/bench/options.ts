// Command line of the bench, in fio's vocabulary: `--key value` or
// `--key=value`; options before the first --name are global, each --name
// starts a job that inherits them (as fio's job sections inherit [global]).

import * as posix from 'node:path/posix';
import { UsageError } from '../common/usage';
import { parseSize } from '../common/size';

export type Rw = 'read' | 'randread' | 'write' | 'randwrite' | 'rw' | 'randrw';
export type IoEngine = 'psync' | 'libaio';
/** Which guest paths a job measures (the host is always measured too). */
export type DaxMode = 'always' | 'never' | 'both';

export interface JobSpec {
  name: string;
  rw: Rw;
  bs: number;
  /** File size per job, bytes. */
  size: number;
  /** Seconds; the job loops over its file until then (fio's time_based). */
  runtime: number | undefined;
  /** Bytes per job; ends the job when reached (with runtime: whichever first). */
  ioSize: number | undefined;
  iodepth: number;
  numjobs: number;
  ioengine: IoEngine;
  dax: DaxMode;
  randseed: number;
  /** Set on a matrix's base job: which matrix (main.ts hands the base to the rows). */
  matrix?: 'seed002' | 'window';
  /** More mount options of the guest paths (the window matrix: dax-placement, dax-adaptive). */
  mount?: Record<string, string>;
  /** fio's filename: one file every reader of the job shares, in the share's root; default NAME.J.0 each. */
  filename?: string;
}

/** How the report is written: a table, fio's JSON layout, or the bench's own JSON. */
export type OutputFormat = 'normal' | 'json' | 'bench-json';

export interface BenchArgs {
  mode: 'jobs' | 'matrix' | 'micro-dax' | 'help' | 'version';
  jobs: JobSpec[];
  matrix?: 'seed002' | 'window';
  connect?: string;
  tokenFile?: string;
  /** Host directory holding the files: the share's root (required with --connect). */
  directory?: string;
  cacheSize?: string;
  chunkSize?: string;
  /** Any JSON on stdout (no progress then). */
  json: boolean;
  output: OutputFormat;
  plot?: string;
  quiet: boolean;
  host: boolean;
  /** The spawned device model's backend (virtiofs-vmm --backend); default passthrough. */
  backend?: 'passthrough' | 'vhost-user';
  /** false: the guest declines the request queues' doorbells (vhost-user). */
  doorbells: boolean;
  /** micro-dax: lookups per size. */
  microOps?: number;
}

export { UsageError };

export const DEFAULT_RUNTIME = 2;
export const DEFAULT_SIZE = 32 * 1024 * 1024;

const RW: Record<string, Rw> = {
  read: 'read', seqread: 'read', randread: 'randread', write: 'write', seqwrite: 'write', randwrite: 'randwrite',
  rw: 'rw', readwrite: 'rw', randrw: 'randrw',
};
/** The engines modelled: one positioned read or write at a time per reader (the sync
 *  family: read/lseek, pread, preadv are one positioned call here), or
 *  iodepth of them in flight (libaio). */
const ENGINES: Record<string, IoEngine> = {
  psync: 'psync', sync: 'psync', pvsync: 'psync', pvsync2: 'psync', libaio: 'libaio',
};
/** Engines fio has and this bench does not model, with the reason. */
const NOT_MODELLED: Record<string, string> = {
  io_uring: 'its batched submission and polled completion are not modelled; --ioengine libaio keeps iodepth reads in flight the same way',
  posixaio: "glibc's POSIX AIO (reads on helper threads) is not modelled; use libaio for reads in flight, or psync",
  mmap: 'the guest maps nothing into a process: reads copy out of the DAX window, which is what --ioengine psync with DAX measures',
  splice: 'splice is not modelled; use psync', null: 'the null engine does no I/O; bench dax-manager measures the window manager alone',
};
const FLAGS = new Set(['json', 'help', 'quiet', 'time_based', 'group_reporting', 'no-host', 'version', 'no-doorbells']);

export function parseRuntime(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`--runtime: not a duration: "${text}" (examples: 2, 0.5, 500ms)`);
  const scale = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }[(m[2] ?? 's').toLowerCase() as 'us']!;
  const v = Number(m[1]) * scale;
  if (!(v > 0) || v > 86400) throw new UsageError(`--runtime: ${text} is out of range`);
  return v;
}

function size(key: string, text: string, min = 1): number {
  let v: number;
  try { v = parseSize(text); } catch (e) { throw new UsageError(`--${key}: ${(e as Error).message}`); }
  if (v < min) throw new UsageError(`--${key}: ${text} is too small`);
  return v;
}

function int(key: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`--${key}: not a whole number: "${text}"`);
  const v = Number(text);
  if (v < min || v > max) throw new UsageError(`--${key}: ${v} is outside [${min}, ${max}]`);
  return v;
}

type Section = Map<string, string>;

/** Splits argv into [key, value] pairs, keeping order. */
function tokens(argv: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (i === 0 && (a === 'dax-manager' || a === 'dax')) { out.push(['micro', 'dax']); continue; }
    if (a === '-h') { out.push(['help', '1']); continue; }
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const key = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (!key) throw new UsageError(`unexpected argument "${a}"`);
    if (eq >= 0) { out.push([key, a.slice(eq + 1)]); continue; }
    if (FLAGS.has(key.replace(/_/g, '-')) || FLAGS.has(key.replace(/-/g, '_'))) { out.push([key, '1']); continue; }
    if (i + 1 >= argv.length) throw new UsageError(`--${key} needs a value`);
    out.push([key, argv[++i]!]);
  }
  return out;
}

/** Options are spelt with '_' as fio does (io_size); '-' is accepted too. */
const GLOBAL_ONLY = new Set(['connect', 'token_file', 'directory', 'cache_size', 'chunk_size', 'json', 'output_format',
  'plot', 'quiet', 'no_host', 'no_doorbells', 'backend', 'matrix', 'micro', 'help', 'ops', 'version']);
const JOB_KEYS = new Set(['name', 'rw', 'readwrite', 'bs', 'blocksize', 'size', 'filesize', 'runtime', 'io_size', 'io_limit',
  'iodepth', 'numjobs', 'ioengine', 'dax', 'randseed', 'time_based', 'group_reporting', 'direct', 'filename']);

export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { mode: 'jobs', jobs: [], json: false, output: 'normal', quiet: false, host: true, doorbells: true };
  const global: Section = new Map();
  const sections: Section[] = [];
  for (const [rawKey, value] of tokens(argv)) {
    const key = rawKey.replace(/-/g, '_');
    if (GLOBAL_ONLY.has(key)) {
      switch (key) {
        case 'connect': args.connect = value; break;
        case 'token_file': args.tokenFile = value; break;
        case 'directory': args.directory = value; break;
        case 'cache_size': size(key, value, 0); args.cacheSize = value; break;
        case 'chunk_size': size(key, value, 4096); args.chunkSize = value; break;
        case 'json': args.json = true; args.output = 'bench-json'; break;
        case 'output_format':
          if (value !== 'json' && value !== 'normal' && value !== 'bench-json') {
            throw new UsageError(`--output-format: normal, json (fio's layout) or bench-json (this bench's own), not "${value}"`);
          }
          args.output = value; args.json = value !== 'normal'; break;
        case 'plot': args.plot = value; break;
        case 'quiet': args.quiet = true; break;
        case 'no_host': args.host = false; break;
        case 'no_doorbells': args.doorbells = false; break;
        case 'backend':
          if (value !== 'passthrough' && value !== 'vhost-user') throw new UsageError(`--backend: passthrough or vhost-user, not "${value}"`);
          args.backend = value; break;
        case 'matrix':
          if (value !== 'seed002' && value !== 'window') throw new UsageError(`--matrix: unknown matrix "${value}" (known: seed002, window)`);
          args.mode = 'matrix'; args.matrix = value; break;
        case 'micro':
          if (value !== 'dax' && value !== 'dax-manager') throw new UsageError(`--micro: unknown "${value}" (known: dax)`);
          args.mode = 'micro-dax'; break;
        case 'ops': args.microOps = int(key, value, 1, 1e8); break;
        case 'help': args.mode = 'help'; break;
        case 'version': if (args.mode !== 'help') args.mode = 'version'; break;
      }
      continue;
    }
    if (!JOB_KEYS.has(key)) throw new UsageError(`unknown option --${rawKey}`);
    if (key === 'name') { sections.push(new Map([['name', value]])); continue; }
    (sections.length ? sections[sections.length - 1]! : global).set(key, value);
  }
  if (args.mode === 'help' || args.mode === 'version' || args.mode === 'micro-dax') return args;
  if (args.plot && args.mode !== 'matrix') throw new UsageError('--plot draws the matrix: use it with --matrix seed002');
  if (args.connect && !args.directory) {
    throw new UsageError('--connect needs --directory: the host path of the share, where the job files are made and read by the host job');
  }
  if (args.mode === 'matrix') {
    if (sections.length) throw new UsageError('--matrix takes no --name jobs (its rows are fixed); global options apply to every row');
    args.jobs = [{ ...jobFrom(global, new Map([['name', 'matrix']])), matrix: args.matrix }];
    return args;
  }
  if (!sections.length) sections.push(new Map([['name', 'job']]));
  args.jobs = sections.map((s) => jobFrom(global, s));
  for (const j of args.jobs) if (j.filename?.startsWith('/')) j.filename = inShare(j.filename, args.directory);
  return args;
}

/** An absolute --filename as a path in the share: it must lie under --directory. */
function inShare(filename: string, directory: string | undefined): string {
  if (!directory) throw new UsageError(`--filename ${filename}: an absolute path needs --directory DIR, the share's root that holds it`);
  const rel = posix.relative(posix.resolve(directory), posix.normalize(filename));
  if (!rel || rel.startsWith('..')) throw new UsageError(`--filename ${filename}: not inside --directory ${directory}`);
  return rel;
}

function jobFrom(global: Section, section: Section): JobSpec {
  const get = (...keys: string[]): string | undefined => {
    for (const k of keys) if (section.has(k)) return section.get(k);
    for (const k of keys) if (global.has(k)) return global.get(k);
    return undefined;
  };
  const name = section.get('name')!;
  if (!/^[A-Za-z0-9_.+-]{1,64}$/.test(name)) throw new UsageError(`--name: "${name}" (letters, digits, _ . + -; at most 64)`);
  const rwText = get('rw', 'readwrite') ?? 'read';
  const rw = RW[rwText];
  if (!rw) throw new UsageError(`--rw: "${rwText}" is unknown (read, randread, write, randwrite, rw, randrw)`);
  const bs = size('bs', get('bs', 'blocksize') ?? '4k');
  const fileSize = size('size', get('size', 'filesize') ?? String(DEFAULT_SIZE));
  if (bs > fileSize) throw new UsageError(`--bs ${bs} is larger than --size ${fileSize}`);
  if (bs > 64 * 1024 * 1024) throw new UsageError('--bs: at most 64M');
  const rt = get('runtime');
  const io = get('io_size', 'io_limit');
  const ioSize = io === undefined ? undefined : size('io_size', io);
  const runtime = rt !== undefined ? parseRuntime(rt) : ioSize === undefined ? DEFAULT_RUNTIME : undefined;
  let iodepth = int('iodepth', get('iodepth') ?? '1', 1, 1024);
  const engText = get('ioengine');
  let ioengine: IoEngine;
  if (engText === undefined) ioengine = iodepth > 1 ? 'libaio' : 'psync';
  else {
    const e = ENGINES[engText];
    if (!e) {
      const why = NOT_MODELLED[engText];
      throw new UsageError(`--ioengine ${engText}: ${why ?? 'unknown engine'} (modelled: psync, sync, pvsync, pvsync2, libaio)`);
    }
    ioengine = e;
  }
  const direct = get('direct') ?? '1';
  if (direct === '0') {
    throw new UsageError('--direct=0: the guest has no page cache to read through; every read goes to DAX or FUSE_READ, which is --direct=1 (the default here)');
  }
  if (direct !== '1') throw new UsageError(`--direct: 1 (0 is not modelled), not "${direct}"`);
  const filename = get('filename');
  if (filename !== undefined && (filename === '' || filename.includes(':') || filename.split('/').includes('..'))) {
    throw new UsageError(`--filename ${filename}: one file in the share (no ':' list, no '..')`);
  }
  if (ioengine === 'psync') iodepth = 1; // fio: synchronous engines have one I/O in flight
  const numjobs = int('numjobs', get('numjobs') ?? '1', 1, 64);
  const daxText = get('dax') ?? 'both';
  if (daxText !== 'always' && daxText !== 'never' && daxText !== 'both') throw new UsageError(`--dax: "${daxText}" (always, never, both)`);
  const randseed = int('randseed', get('randseed') ?? '4096', 0, 0xffffffff);
  return { name, rw, bs, size: fileSize, runtime, ioSize, iodepth, numjobs, ioengine, dax: daxText, randseed, ...(filename !== undefined ? { filename } : {}) };
}

export const USAGE = `usage: virtiofs bench [options] [--name NAME job-options]...
       virtiofs bench --matrix seed002|window [--plot FILE.svg] [options]
       virtiofs bench dax-manager        (or --micro dax)

Job options (fio's names; before the first --name they apply to every job):
  --rw MODE                 read, randread, write, randwrite, rw, randrw (half reads, half writes)
  --bs SIZE                 block size (default 4k)
  --size SIZE               file size per job (default 32M)
  --runtime SECONDS         time per job, looping over the file (default ${DEFAULT_RUNTIME} s)
  --io_size SIZE            bytes per job (ends the job first if no --runtime)
  --iodepth N               preads in flight per job (libaio; psync has 1)
  --ioengine psync|libaio   default libaio when --iodepth > 1, else psync
  --numjobs N               N readers, each on its own file
  --dax always|never|both   guest paths to measure (default both: DAX, and FUSE_READ/FUSE_WRITE); the host is always measured
  --randseed N              seed of the random offsets (same for every path)
  --filename F              the file to read, in the share's root (every reader of the job shares it;
                            made with random bytes if missing, never rewritten); default NAME.J.0 each
  --direct 1                no guest-side cache (the only mode: the guest has no page cache)

Device model:
  (default)                 start virtiofs-vmm on a temporary file set
  --connect ADDR            use a running one (tcp:HOST:PORT, unix:PATH)
  --token-file F            its token (default: the file it wrote for ADDR)
  --directory DIR           host directory of the files (the share's root; needed with --connect)
  --cache-size SIZE         DAX window of the spawned device model (default: the files' size, a power of two; 0 with --dax never)
  --chunk-size SIZE         DAX chunk size of the guest mount (default 2M)
  --backend KIND            the spawned device model's backend: passthrough (default) or vhost-user
  --no-doorbells            the guest declines the request queues' kick and call FIFOs (vhost-user):
                            every kick and interrupt through the device model

Output:
  --output-format=json      fio's JSON layout on stdout (jobs[].jobname NAME.dax/.fuse/.host, read.bw, iops, clat_ns...)
  --output-format=bench-json, --json
                            this bench's own JSON: every path, ratios to the host, window statistics
  --plot FILE.svg           grouped bars of the matrix, the Linux virtiofs DAX series' figures beside them
  --quiet                   no progress on stderr (a line in place on a terminal, else a line every few seconds)
  --no-host                 skip the host reads (no ratios to the host)
  --version, -h/--help      the version, this text
`;
