// `npm start`: the project's main job with no setup. Serve a directory (a
// generated sample tree by default) with virtiofs-vmm on a free loopback
// port and a small window, mount it over TCP, read every file through DAX
// and again through FUSE_READ, check each byte against the host, print a
// summary, and on a terminal open the shell. The device model and the
// temporary tree go away on every way out: success, error, Ctrl-C.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Vfs } from '../../core/vfs';
import { VirtiofsFileSystemType } from '../../fs/virtiofs';
import type { DaxStatsSnapshot } from '../../fs/virtiofs/dax';
import { UsageError } from './args';
import type { ShellContext } from './commands';
import { humanSize } from './format';
import { mountShare, type GuestMount } from './mount';
import { Progress } from './progress';
import { buildSampleTree } from './sample-tree';
import { interactive } from './shell';
import { spawnVmm, type VmmChild } from './spawn-vmm';
import { checkSymlinks, readPass, walkShare, type Mismatch, type PassResult } from './verify';

export interface StartOptions {
  dir?: string;
  cacheSize: string;
  chunkSize?: string;
  aggressive: boolean;
  /** Open the shell afterwards; default: when stdin is a terminal. */
  shell?: boolean;
}

export interface StartIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export const START_USAGE = 'usage: virtiofs start [--cache-size SIZE] [--no-shell] [DIR]';

export function parseStartArgs(args: readonly string[], base: { chunkSize?: string; aggressive: boolean }): StartOptions {
  const o: StartOptions = { cacheSize: '8M', chunkSize: base.chunkSize, aggressive: base.aggressive };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--cache-size') {
      const v = args[++i];
      if (v === undefined || !/^\d+[kmgKMG]?$/.test(v)) throw new UsageError(`--cache-size: a size (16M, 0 for no window), not "${v ?? ''}"`);
      o.cacheSize = v;
    } else if (a === '--no-shell') {
      o.shell = false;
    } else if (a.startsWith('-')) {
      throw new UsageError(`start: unknown option ${a}\n${START_USAGE}`);
    } else if (o.dir === undefined) {
      o.dir = a;
    } else {
      throw new UsageError(START_USAGE);
    }
  }
  return o;
}

const mibps = (bytes: number, ms: number): string => (ms > 0 ? ((bytes / (1 << 20)) / (ms / 1000)).toFixed(1) : '-');

/** The summary's lines (exported for the unit tests). */
export function formatSummary(s: {
  files: number; symlinks: number; dirs: number; bytes: number; mismatches: Mismatch[];
  dax: PassResult; fuse: PassResult; stats: DaxStatsSnapshot | undefined;
}): string {
  const lines = [
    'summary:',
    `  files        ${s.files} regular, ${s.symlinks} symlinks, ${s.dirs} directories`,
    `  bytes        ${s.bytes} (${humanSize(s.bytes)}) per pass`,
    `  mismatches   ${s.mismatches.length}`,
  ];
  const st = s.stats;
  if (st) {
    const fb = Object.entries(st.fallbacks).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    lines.push(
      `  DAX          hits ${st.hits}, misses ${st.misses}, chunks mapped ${st.chunksMapped}, evicted ${st.chunksEvicted}`,
      `  requests     SETUPMAPPING ${st.setupMappingSent}, REMOVEMAPPING ${st.removeMappingSent}`,
      `  fallbacks    ${fb}`,
      `  by path      DAX ${humanSize(st.bytesDax)}, FUSE_READ ${humanSize(st.bytesFuseRead)}`,
    );
  } else {
    lines.push('  DAX          no window: both passes used FUSE_READ');
  }
  lines.push(`  throughput   DAX pass ${mibps(s.dax.bytes, s.dax.ms)} MiB/s, FUSE_READ pass ${mibps(s.fuse.bytes, s.fuse.ms)} MiB/s`);
  for (const m of s.mismatches.slice(0, 20)) lines.push(`  MISMATCH ${m.path}: ${m.why}`);
  if (s.mismatches.length > 20) lines.push(`  ... and ${s.mismatches.length - 20} more`);
  lines.push(s.mismatches.length === 0 ? 'result: OK, every byte matches the host' : 'result: FAILED, bytes differ from the host');
  return lines.join('\n') + '\n';
}

/** Runs the job; resolves with the exit status. */
export async function runStart(opts: StartOptions, io: StartIo = process): Promise<number> {
  const say = (m: string): void => { io.stdout.write(`${m}\n`); };
  let tmp: string | undefined;
  let vmm: VmmChild | undefined;
  let mount: GuestMount | undefined;
  let fuseVfs: Vfs | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaned ??= (async () => {
    const bounded = <T>(p: Promise<T>): Promise<unknown> => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    if (fuseVfs) await bounded(fuseVfs.umount('/', 1));
    if (mount) await bounded(mount.close());
    if (vmm) await bounded(vmm.stop());
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  })());
  const onSignal = (sig: NodeJS.Signals): void => {
    io.stderr.write(`\nvirtiofs start: ${sig}, stopping the device model\n`);
    void cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let dir: string;
    if (opts.dir) {
      dir = path.resolve(opts.dir);
      if (!fs.statSync(dir).isDirectory()) throw new UsageError(`start: ${opts.dir} is not a directory`);
    } else {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'virtiofs-sample-'));
      dir = tmp;
      buildSampleTree(dir);
      say(`virtiofs start: built a sample tree in ${dir}`);
    }
    vmm = await spawnVmm(['--shared-dir', dir, '--listen', 'tcp:127.0.0.1:0', '--cache-size', opts.cacheSize, '--memory', '64M']);
    say(`virtiofs start: virtiofs-vmm (pid ${vmm.child.pid}) serving ${dir} on ${vmm.address} (window ${opts.cacheSize})`);
    const windowed = !/^0+[kmgKMG]?$/.test(opts.cacheSize);
    mount = await mountShare({
      connect: vmm.address, token: vmm.token, dax: windowed ? 'always' : undefined, chunkSize: opts.chunkSize, aggressive: opts.aggressive,
    });
    const m = mount;
    // A second mount of the same device, read through FUSE_READ: same
    // connection and DAX manager, as two Linux mounts of one tag.
    const tag = m.remote.driver.tag;
    const type = new VirtiofsFileSystemType();
    type.addDevice(m.device, tag);
    fuseVfs = new Vfs({ firstFd: 3 });
    await fuseVfs.mount(type, tag, '/', { dax: 'never' });
    const manager = await m.dax();
    say(`virtiofs start: mounted "${tag}" over TCP: ${manager
      ? `DAX window ${humanSize(manager.windowChunks * manager.chunkSize)} in ${manager.windowChunks} chunks of ${humanSize(manager.chunkSize)}`
      : 'no DAX window'}`);

    const listing = await walkShare(m.vfs);
    const total = listing.files.reduce((a, f) => a + f.size, 0);
    say(`virtiofs start: ${listing.files.length} files (${humanSize(total)}), ${listing.symlinks.length} symlinks, ${listing.dirs.length} directories`);
    const pass = async (vfs: Vfs, label: string): Promise<PassResult> => {
      const p = new Progress(io.stdout, label, listing.files.length, total);
      const r = await readPass(vfs, dir, listing.files, { onProgress: (f, b) => p.update(f, b) });
      p.finish(`${label}: ${r.files} files, ${humanSize(r.bytes)} in ${(r.ms / 1000).toFixed(2)} s, ${r.mismatches.length} mismatches`);
      return r;
    };
    const dax = await pass(m.vfs, manager ? 'DAX (dax=always)' : 'pass 1 (no window)');
    const fuse = await pass(fuseVfs, 'FUSE_READ (dax=never)');
    const links = await checkSymlinks(m.vfs, dir, listing.symlinks);
    const mismatches = [...dax.mismatches, ...fuse.mismatches, ...links];
    io.stdout.write(formatSummary({
      files: listing.files.length, symlinks: listing.symlinks.length, dirs: listing.dirs.length, bytes: total, mismatches,
      dax, fuse, stats: manager?.stats.snapshot(),
    }));
    const status = mismatches.length === 0 ? 0 : 1;
    if (opts.shell ?? io.stdin.isTTY === true) {
      const ctx: ShellContext = {
        vfs: m.vfs, tag, windowSize: m.remote.driver.getDax()?.len ?? 0, dax: () => m.dax(), json: false, cwd: '/',
        out: { write: (c) => { io.stdout.write(c); } }, names: new Map(),
      };
      await interactive(ctx, io.stdin, io.stdout);
    }
    return status;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}
