// Where a bench runs: a device model it starts itself on a temporary file set
// (spawnVmm, loopback TCP), or one already running (--connect) whose share
// root is --directory on this host. Job files are named as fio names them
// (NAME.JOB.0) and reused when they already have the right size.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSize } from '../common/size';
import { spawnVmm, type VmmChild } from '../guest/spawn-vmm';
import { UsageError, type BenchArgs } from './options';

export interface Target {
  readonly connect: string;
  readonly token?: string;
  readonly tokenFile?: string;
  /** Host directory that is the share's root. */
  readonly directory: string;
  /** The device model's pid when we started it (for profiles, reports). */
  readonly vmmPid?: number;
  /** false: guests decline the doorbells (--no-doorbells). */
  readonly doorbells?: boolean;
  close(): Promise<void>;
}

export interface FileSet {
  /** fio's file name stem: files are STEM.J.0. */
  stem: string;
  count: number;
  size: number;
  /** fio's filename: one file (in the share's root) every reader shares. */
  filename?: string;
}

export function fileNames(set: FileSet): string[] {
  return Array.from({ length: set.count }, (_, j) => set.filename ?? `${set.stem}.${j}.0`);
}

/** Creates (or keeps, when the size matches) the files of every set in dir.
 *  A --filename file that exists is never rewritten: it must be large enough. */
export function ensureFiles(dir: string, sets: readonly FileSet[]): void {
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (const set of sets) {
    for (const name of new Set(fileNames(set))) {
      const p = path.join(dir, name);
      if (set.filename !== undefined) {
        const st = fs.statSync(p, { throwIfNoEntry: false });
        if (st && !st.isFile()) throw new UsageError(`--filename ${set.filename}: not a regular file`);
        if (st && st.size < set.size) throw new UsageError(`--filename ${set.filename}: ${st.size} bytes, fewer than --size ${set.size}`);
        if (st) continue;
        fs.mkdirSync(path.dirname(p), { recursive: true });
      }
      try { if (fs.statSync(p).size === set.size) continue; } catch { /* made below */ }
      const fd = fs.openSync(p, 'w');
      try {
        for (let done = 0; done < set.size; ) {
          const n = Math.min(chunk.length, set.size - done);
          crypto.randomFillSync(chunk, 0, n);
          done += fs.writeSync(fd, chunk, 0, n, done);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
  }
}

function scratchDir(): string {
  // Files in RAM as in the Linux virtiofs DAX series (ramfs on the host), when /dev/shm is there.
  let base = os.tmpdir();
  try { fs.accessSync('/dev/shm', fs.constants.W_OK); base = '/dev/shm'; } catch { /* tmpdir */ }
  return fs.mkdtempSync(path.join(base, 'virtiofs-bench-'));
}

/** The window holds every file, so that no job evicts (as in the Linux DAX
 *  series' runs): a power of two (QEMU's rule), 1G at least; none when no
 *  job reads through DAX; for the window matrix a quarter of the file
 *  (whole chunks). --cache-size overrides. */
export function windowFor(sets: readonly FileSet[], requested: string | undefined, dax: boolean, chunkSize = '2M',
  matrix?: BenchArgs['matrix']): string {
  if (requested !== undefined) return requested;
  if (!dax) return '0';
  const chunk = parseSize(chunkSize);
  if (matrix === 'window') {
    const size = Math.max(...sets.map((s) => s.size));
    return String(Math.max(chunk, Math.floor(size / 4 / chunk) * chunk));
  }
  let total = 0;
  for (const s of sets) total += new Set(fileNames(s)).size * Math.ceil(s.size / chunk) * chunk;
  return String(2 ** Math.ceil(Math.log2(Math.max(parseSize('1G'), total + chunk))));
}

export async function openTarget(args: BenchArgs, sets: readonly FileSet[], dax = true): Promise<Target> {
  if (args.connect) {
    const directory = path.resolve(args.directory!);
    ensureFiles(directory, sets);
    return { connect: args.connect, tokenFile: args.tokenFile, directory, doorbells: args.doorbells, async close() {} };
  }
  const directory = args.directory ? path.resolve(args.directory) : scratchDir();
  const owned = !args.directory;
  let vmm: VmmChild | undefined;
  try {
    ensureFiles(directory, sets);
    vmm = await spawnVmm(['--shared-dir', directory, '--cache-size', windowFor(sets, args.cacheSize, dax, args.chunkSize, args.matrix),
      ...(args.backend ? ['--backend', args.backend] : [])]);
  } catch (e) {
    if (owned) fs.rmSync(directory, { recursive: true, force: true });
    throw e;
  }
  const child = vmm;
  return {
    connect: child.address, token: child.token, directory, vmmPid: child.child.pid, doorbells: args.doorbells,
    async close() {
      try { await child.stop(); } finally { if (owned) fs.rmSync(directory, { recursive: true, force: true }); }
    },
  };
}
