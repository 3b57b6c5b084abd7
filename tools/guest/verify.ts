// Reading a whole share through a mounted Vfs and checking every byte
// against the host directory it serves: the walk, one read pass, and the
// symlink check. `npm start` runs a pass with dax=always and one with
// dax=never; the end-to-end tests use the same functions.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as posix from 'node:path/posix';
import { ErrnoError } from '../../core';
import { O_RDONLY, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type Vfs } from '../../core/vfs';

export interface ShareListing {
  /** Regular files with their inode numbers (to name what the window holds). */
  files: { path: string; size: number; ino: bigint }[];
  symlinks: string[];
  dirs: string[];
}

/** Every regular file, symlink and directory below root (symlinks not followed). */
export async function walkShare(vfs: Vfs, root = '/'): Promise<ShareListing> {
  const out: ShareListing = { files: [], symlinks: [], dirs: [] };
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    out.dirs.push(dir);
    const entries = (await vfs.readdirAll(dir)).filter((e) => e.name !== '.' && e.name !== '..');
    entries.sort((a, b) => (a.name < b.name ? 1 : -1));
    for (const e of entries) {
      const p = posix.join(dir, e.name);
      const st = await vfs.lstat(p);
      const type = st.mode & S_IFMT;
      if (type === S_IFDIR) stack.push(p);
      else if (type === S_IFREG) out.files.push({ path: p, size: st.size, ino: st.ino });
      else if (type === S_IFLNK) out.symlinks.push(p);
    }
  }
  return out;
}

export interface Mismatch {
  path: string;
  /** First differing offset, or -1 when the file could not be read. */
  offset: number;
  why: string;
}

export interface PassResult {
  files: number;
  bytes: number;
  /** Wall time of the pass, host reads and compares included. */
  ms: number;
  /** Time in the guest's calls alone (open, read, close): what DAX and
   *  FUSE_READ differ in. With parallel > 1, summed over the readers. */
  guestMs: number;
  mismatches: Mismatch[];
  /** Set when the pass was stopped (PassOptions.signal) before its end. */
  stopped?: boolean;
  /** The part of the pass over the files PairOptions.select chose. */
  selected?: { files: number; bytes: number; guestMs: number };
}

export interface PassOptions {
  /** Bytes per read call (default 1 MiB). */
  readSize?: number;
  /** Files read at once (default 1). */
  parallel?: number;
  onProgress?: (filesDone: number, bytesDone: number) => void;
  /** Checked before each file: an interrupted run reads no further. */
  signal?: { readonly aborted: boolean };
}

/** Where checkFile adds the time spent in guest calls. */
export interface GuestTimer { guestMs: number }

async function timed<T>(t: GuestTimer | undefined, p: () => Promise<T>): Promise<T> {
  if (!t) return p();
  const t0 = performance.now();
  try { return await p(); } finally { t.guestMs += performance.now() - t0; }
}

function firstDiff(a: Uint8Array, b: Uint8Array, n: number): number {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Reads one file through vfs and compares it with the host file; null when equal. */
export async function checkFile(vfs: Vfs, sharePath: string, hostPath: string, readSize = 1 << 20, timer?: GuestTimer): Promise<Mismatch | null> {
  let hfd: number | undefined;
  let fd: number | undefined;
  try {
    hfd = fs.openSync(hostPath, 'r');
    const hostSize = fs.fstatSync(hfd).size;
    fd = await timed(timer, () => vfs.open(sharePath, O_RDONLY));
    const host = Buffer.allocUnsafe(readSize);
    let off = 0;
    for (;;) {
      const got = await timed(timer, () => vfs.read(fd!, readSize));
      const n = fs.readSync(hfd, host, 0, readSize, off);
      if (got.length !== n) {
        const d = firstDiff(got, host, Math.min(got.length, n));
        return { path: sharePath, offset: d >= 0 ? off + d : off + Math.min(got.length, n), why: `read ${got.length} bytes at ${off}, host has ${n}` };
      }
      const d = firstDiff(got, host, n);
      if (d >= 0) return { path: sharePath, offset: off + d, why: `byte ${off + d} is ${got[d]}, host has ${host[d]}` };
      if (n === 0) break;
      off += n;
    }
    if (off !== hostSize) return { path: sharePath, offset: off, why: `read ${off} bytes, host file has ${hostSize}` };
    return null;
  } catch (e) {
    return { path: sharePath, offset: -1, why: e instanceof ErrnoError ? e.code : (e as Error).message };
  } finally {
    if (fd !== undefined) await timed(timer, () => vfs.close(fd!)).catch(() => undefined);
    if (hfd !== undefined) fs.closeSync(hfd);
  }
}

/** Reads every file of the listing and compares it with hostDir. */
export async function readPass(vfs: Vfs, hostDir: string, files: ShareListing['files'], opts: PassOptions = {}): Promise<PassResult> {
  const t0 = performance.now();
  const res: PassResult = { files: 0, bytes: 0, ms: 0, guestMs: 0, mismatches: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      if (opts.signal?.aborted) { res.stopped = true; return; }
      const f = files[next++]!;
      const m = await checkFile(vfs, f.path, path.join(hostDir, f.path), opts.readSize, res);
      if (m) res.mismatches.push(m);
      res.files++;
      res.bytes += f.size;
      opts.onProgress?.(res.files, res.bytes);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel ?? 1) }, worker));
  res.ms = performance.now() - t0;
  return res;
}

/** Each symlink's target read through the share equals the host's. */
export async function checkSymlinks(vfs: Vfs, hostDir: string, links: readonly string[]): Promise<Mismatch[]> {
  const bad: Mismatch[] = [];
  for (const l of links) {
    try {
      const got = await vfs.readlink(l);
      const want = fs.readlinkSync(path.join(hostDir, l));
      if (got !== want) bad.push({ path: l, offset: 0, why: `link target "${got}", host has "${want}"` });
    } catch (e) {
      bad.push({ path: l, offset: -1, why: e instanceof ErrnoError ? e.code : (e as Error).message });
    }
  }
  return bad;
}

export interface PairOptions extends PassOptions {
  /** Files whose times are also summed apart (PassResult.selected). */
  select?: (f: ShareListing['files'][number]) => boolean;
}

/**
 * Two passes over the same files, a's and b's, taken file by file: each file
 * through a, then through b. What the machine's other work costs falls on
 * both alike, so their ratio holds on a loaded machine, where two passes one
 * after the other would each catch a different share of it.
 */
export async function readPaired(a: Vfs, b: Vfs, hostDir: string, files: ShareListing['files'], opts: PairOptions = {}): Promise<{ a: PassResult; b: PassResult }> {
  const t0 = performance.now();
  const empty = (): PassResult => ({ files: 0, bytes: 0, ms: 0, guestMs: 0, mismatches: [], ...(opts.select ? { selected: { files: 0, bytes: 0, guestMs: 0 } } : {}) });
  const ra = empty();
  const rb = empty();
  for (const f of files) {
    if (opts.signal?.aborted) { ra.stopped = rb.stopped = true; break; }
    const host = path.join(hostDir, f.path);
    for (const [vfs, r] of [[a, ra], [b, rb]] as const) {
      const t: GuestTimer = { guestMs: 0 };
      const m = await checkFile(vfs, f.path, host, opts.readSize, t);
      if (m) r.mismatches.push(m);
      r.files++;
      r.bytes += f.size;
      r.guestMs += t.guestMs;
      if (r.selected && opts.select?.(f)) { r.selected.files++; r.selected.bytes += f.size; r.selected.guestMs += t.guestMs; }
    }
    opts.onProgress?.(ra.files, ra.bytes);
  }
  ra.ms = rb.ms = performance.now() - t0;
  return { a: ra, b: rb };
}
