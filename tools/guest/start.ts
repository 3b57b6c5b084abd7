// `npm start`: the project's main job with no setup. Serve a directory (a
// generated sample tree by default) with virtiofs-vmm on a free loopback
// port, mount it over TCP, and show what DAX is for and what it costs:
//
//   pass 1, 2   the window holds the working set, and the device model's
//               `filesize` policy (virtiofsd's) puts only files above 32 KiB
//               through it (a dax=inode mount); each pass reads every file
//               through it and through FUSE_READ (a dax=never mount of the
//               same device), file by file, so the machine's load falls on
//               both alike. Pass 2 is served from the mappings pass 1 left.
//   eviction    dax=always on every file: each needs a chunk of its own, more
//               chunks than the window has, so the stack evicts.
//
// Every byte is checked against the host. On a terminal the shell follows.
// The device model and the temporary tree go away on every way out; Ctrl-C
// stops the passes, says so in one line and exits 130.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isPowerOfTwo } from '../../core';
import { Vfs } from '../../core/vfs';
import { VirtiofsFileSystemType } from '../../fs/virtiofs';
import type { DaxManager } from '../../fs/virtiofs/dax';
import { filesStatus, ProgressPrinter } from '../common/progress';
import { parseSize } from '../common/size';
import { versionLine } from '../common/version';
import { checkChunkSize, UsageError } from './args';
import type { ShellContext } from './commands';
import { humanSize } from './format';
import { lostMessage, mountShare, type GuestMount } from './mount';
import { namerOf } from './names';
import { buildSampleTree } from './sample-tree';
import { interactive } from './shell';
import { spawnVmm, type VmmChild } from './spawn-vmm';
import { daxDelta, formatSummary, roundLine, type EvictionStep, type Round } from './start-summary';
import { checkSymlinks, readPaired, walkShare, type ShareListing } from './verify';

export { formatSummary } from './start-summary';

export interface StartOptions {
  dir?: string;
  /** The window; default: sized to hold the files the filesize policy maps. */
  cacheSize?: string;
  chunkSize?: string;
  aggressive: boolean;
  /** Open the shell afterwards; default: when stdin is a terminal. */
  shell?: boolean;
  help?: boolean;
  version?: boolean;
}

export interface StartIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export const START_USAGE = `usage: virtiofs start [--cache-size SIZE] [--no-shell] [--version] [-h] [DIR]

Serves DIR (default: a generated sample tree) with virtiofs-vmm, mounts it
over TCP and reads every file twice through DAX and through FUSE_READ, then
every file through the window with dax=always (eviction); checks every byte.
  --cache-size SIZE   the DAX window (a power of two; 0: none; default: sized to the files)
  --no-shell          no shell afterwards (the default without a terminal)`;

/** virtiofsd's FUSE_INODE_DAX_THRESH, the device model's `filesize` policy: larger files get FUSE_ATTR_DAX. */
export const DAX_FILESIZE_THRESHOLD = 32 * 1024;
const MAX_DEFAULT_WINDOW = 1 << 30;

export function parseStartArgs(args: readonly string[], base: { chunkSize?: string; aggressive: boolean }): StartOptions {
  const o: StartOptions = { chunkSize: base.chunkSize, aggressive: base.aggressive };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--cache-size') {
      const v = args[++i];
      let n = NaN;
      try { n = parseSize(v ?? ''); } catch { /* below */ }
      if (!(n >= 0)) throw new UsageError(`--cache-size: a size (32M, 0 for no window), not "${v ?? ''}"`);
      if (n !== 0 && !isPowerOfTwo(n)) throw new UsageError(`--cache-size ${v}: a power of two (16M, 32M...), or 0 for no window`);
      o.cacheSize = v;
    } else if (a === '--chunk-size') {
      o.chunkSize = checkChunkSize(args[++i] ?? '');
    } else if (a === '--no-shell') {
      o.shell = false;
    } else if (a === '-h' || a === '--help') {
      o.help = true;
    } else if (a === '--version' || a === '-V') {
      o.version = true;
    } else if (a.startsWith('-')) {
      throw new UsageError(`start: unknown option ${a} (virtiofs start --help)`);
    } else if (o.dir === undefined) {
      o.dir = a;
    } else {
      throw new UsageError(`start: one directory at most (virtiofs start --help)`);
    }
  }
  return o;
}

/** Chunks the files need with one chunk run per file (what dax=always maps). */
function chunksOf(files: readonly { size: number }[], chunkSize: number): number {
  return files.reduce((n, f) => n + Math.max(1, Math.ceil(f.size / chunkSize)), 0);
}

/** A window (a power of two, 16M at least) for the files of dir above the threshold. */
export function windowFor(dir: string, chunkSize: number): number {
  const big: { size: number }[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) { const size = fs.statSync(p).size; if (size > DAX_FILESIZE_THRESHOLD) big.push({ size }); }
    }
  };
  walk(dir);
  const need = Math.max(16 << 20, chunksOf(big, chunkSize) * chunkSize);
  return Math.min(MAX_DEFAULT_WINDOW, 2 ** Math.ceil(Math.log2(need)));
}

/** Runs the job; resolves with the exit status. */
export async function runStart(opts: StartOptions, io: StartIo = process): Promise<number> {
  if (opts.help) { io.stdout.write(`${START_USAGE}\n`); return 0; }
  if (opts.version) { io.stdout.write(`${versionLine('virtiofs start')}\n`); return 0; }
  const progress = new ProgressPrinter(io.stdout);
  let interrupted: NodeJS.Signals | undefined;
  let lost: Error | undefined;
  const stop = { get aborted() { return interrupted !== undefined || lost !== undefined; } };
  const say = (m: string): void => { if (!stop.aborted) progress.line(m); };
  // The layers' background failures: nothing after an interruption or the loss.
  const log = (m: string): void => { if (!stop.aborted) io.stderr.write(`${m}\n`); };
  let tmp: string | undefined;
  let vmm: VmmChild | undefined;
  let mount: GuestMount | undefined;
  const extra: Vfs[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaned ??= (async () => {
    const bounded = <T>(p: Promise<T>): Promise<unknown> => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const v of extra) await bounded(v.umount('/', 1));
    if (mount) await bounded(mount.close());
    if (vmm) await bounded(vmm.stop());
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  })());
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = sig;
    progress.quiet();
    io.stderr.write(`\nvirtiofs start: interrupted (${sig}); stopping the device model${tmp ? ' and removing the sample tree' : ''}\n`);
    void cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  // stdout closed under it (`npm start | head`): no one reads any more, so it
  // stops as a pipeline's writer does, quietly, with 128 + SIGPIPE.
  const onStdoutError = (): void => {
    if (interrupted) return;
    interrupted = 'SIGPIPE';
    progress.quiet();
    void cleanup().finally(() => process.exit(141));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Never removed: an EPIPE of the summary's write comes after the return.
  io.stdout.on('error', onStdoutError);
  try {
    let dir: string;
    if (opts.dir) {
      dir = path.resolve(opts.dir);
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`start: ${opts.dir} is not a directory`);
    } else {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'virtiofs-sample-'));
      dir = tmp;
      buildSampleTree(dir);
      say(`virtiofs start: built a sample tree in ${dir}`);
    }
    const chunkSize = parseSize(opts.chunkSize ?? '2M');
    const cacheSize = opts.cacheSize ?? String(windowFor(dir, chunkSize));
    const windowed = parseSize(cacheSize) > 0;
    vmm = await spawnVmm(['--shared-dir', dir, '--listen', 'tcp:127.0.0.1:0', '--cache-size', cacheSize,
      '--dax-policy', 'filesize', '--memory', '64M']);
    say(`virtiofs start: virtiofs-vmm (pid ${vmm.child.pid}) serving ${dir} on ${vmm.address} `
      + `(window ${humanSize(parseSize(cacheSize))}, dax-policy filesize)`);
    mount = await mountShare({
      connect: vmm.address, token: vmm.token, dax: windowed ? 'inode' : undefined, chunkSize: opts.chunkSize,
      aggressive: opts.aggressive, log, onLost: (r) => { if (!stop.aborted) { lost = r; progress.quiet(); io.stderr.write(`virtiofs start: ${lostMessage(r)}\n`); } },
    });
    const m = mount;
    const tag = m.remote.driver.tag;
    // More mounts of the same device, as two Linux mounts of one tag: one
    // connection, one DAX manager.
    const another = async (dax: 'never' | 'always'): Promise<Vfs> => {
      const type = new VirtiofsFileSystemType({ log });
      type.addDevice(m.device, tag);
      const v = new Vfs({ firstFd: 3 });
      await v.mount(type, tag, '/', { dax });
      extra.push(v);
      return v;
    };
    const fuseVfs = await another('never');
    const manager = await m.dax();
    say(`virtiofs start: mounted "${tag}" over TCP: ${manager
      ? `DAX window ${humanSize(manager.windowChunks * manager.chunkSize)} in ${manager.windowChunks} chunks of ${humanSize(manager.chunkSize)}`
      : 'no DAX window'}`);

    // Both mounts look every name up before the first pass, so neither pays LOOKUPs the other does not.
    const listing = await walkShare(m.vfs);
    await walkShare(fuseVfs);
    const total = listing.files.reduce((a, f) => a + f.size, 0);
    const big = listing.files.filter((f) => f.size > DAX_FILESIZE_THRESHOLD);
    say(`virtiofs start: ${listing.files.length} files (${humanSize(total)}), ${listing.symlinks.length} symlinks, ${listing.dirs.length} directories; `
      + `${big.length} above ${humanSize(DAX_FILESIZE_THRESHOLD)} (${humanSize(big.reduce((a, f) => a + f.size, 0))}) get DAX`);
    const round = async (daxVfs: Vfs, label: string): Promise<Round> => {
      const before = manager?.stats.snapshot();
      const { a, b } = await readPaired(daxVfs, fuseVfs, dir, listing.files, {
        signal: stop, select: (f) => f.size > DAX_FILESIZE_THRESHOLD,
        onProgress: (f, n) => progress.update(filesStatus(label, f, listing.files.length, n, total)),
      });
      if (a.stopped) throw new Stopped();
      const r: Round = { dax: a, fuse: b, stats: manager && before ? daxDelta(before, manager.stats.snapshot()) : undefined };
      say(roundLine(label, r));
      return r;
    };
    const rounds: Round[] = [];
    rounds.push(await round(m.vfs, 'pass 1 (each file by dax=inode, then by dax=never)'));
    rounds.push(await round(m.vfs, 'pass 2 (DAX from the mappings pass 1 left)'));
    let eviction: EvictionStep | undefined;
    if (manager) {
      const r = await round(await another('always'), 'eviction (dax=always: every file through the window)');
      eviction = { ...r, stats: r.stats!, chunksNeeded: chunksOf(listing.files, manager.chunkSize) };
    }
    const links = await checkSymlinks(m.vfs, dir, listing.symlinks);
    if (stop.aborted) throw new Stopped();
    const mismatches = [...[...rounds, ...(eviction ? [eviction] : [])].flatMap((r) => [...r.dax.mismatches, ...r.fuse.mismatches]), ...links];
    io.stdout.write(formatSummary({
      files: listing.files.length, symlinks: listing.symlinks.length, dirs: listing.dirs.length, bytes: total, mismatches,
      window: manager && { size: manager.windowChunks * manager.chunkSize, chunks: manager.windowChunks, chunkSize: manager.chunkSize },
      rounds, eviction,
      fallbacks: manager?.stats.snapshot().fallbacks,
    }));
    const status = mismatches.length === 0 ? 0 : 1;
    if (interrupted) return new Promise<number>(() => { /* stdout closed as the summary went: its handler exits */ });
    if (opts.shell ?? io.stdin.isTTY === true) await shell(m, tag, listing, [m.vfs, fuseVfs, ...extra], io);
    return status;
  } catch (e) {
    if (interrupted) return new Promise<number>(() => { /* the signal handler exits */ });
    if (lost) return 1;
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) await cleanup();
  }
}

/** A pass stopped before its end (interrupted, or the device model went). */
class Stopped extends Error {}

function shell(m: GuestMount, tag: string, listing: ShareListing, vfses: Vfs[], io: StartIo): Promise<void> {
  const ctx: ShellContext = {
    vfs: m.vfs, tag, windowSize: m.remote.driver.getDax()?.len ?? 0, dax: (): Promise<DaxManager | undefined> => m.dax(),
    json: false, cwd: '/', out: { write: (c) => { io.stdout.write(c); } }, names: new Map(),
    nameOf: namerOf(vfses, listing.files), lost: () => m.lost(),
  };
  return interactive(ctx, io.stdin, io.stdout);
}
