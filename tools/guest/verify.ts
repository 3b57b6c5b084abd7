// Reading a whole share through a mounted Vfs and checking every byte
// against the host directory it serves: the walk, one read pass, and the
// symlink check. `npm start` runs a pass with dax=always and one with
// dax=never; the end-to-end tests use the same functions.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as posix from 'node:path/posix';
import { ErrnoError } from '../../core/errno';
import { O_RDONLY, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type Vfs } from '../../core/vfs';

export interface ShareListing {
  files: { path: string; size: number }[];
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
      else if (type === S_IFREG) out.files.push({ path: p, size: st.size });
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
  ms: number;
  mismatches: Mismatch[];
}

export interface PassOptions {
  /** Bytes per read call (default 1 MiB). */
  readSize?: number;
  /** Files read at once (default 1). */
  parallel?: number;
  onProgress?: (filesDone: number, bytesDone: number) => void;
}

function firstDiff(a: Uint8Array, b: Uint8Array, n: number): number {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Reads one file through vfs and compares it with the host file; null when equal. */
export async function checkFile(vfs: Vfs, sharePath: string, hostPath: string, readSize = 1 << 20): Promise<Mismatch | null> {
  let hfd: number | undefined;
  let fd: number | undefined;
  try {
    hfd = fs.openSync(hostPath, 'r');
    const hostSize = fs.fstatSync(hfd).size;
    fd = await vfs.open(sharePath, O_RDONLY);
    const host = Buffer.allocUnsafe(readSize);
    let off = 0;
    for (;;) {
      const got = await vfs.read(fd, readSize);
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
    if (fd !== undefined) await vfs.close(fd).catch(() => undefined);
    if (hfd !== undefined) fs.closeSync(hfd);
  }
}

/** Reads every file of the listing and compares it with hostDir. */
export async function readPass(vfs: Vfs, hostDir: string, files: ShareListing['files'], opts: PassOptions = {}): Promise<PassResult> {
  const t0 = performance.now();
  const res: PassResult = { files: 0, bytes: 0, ms: 0, mismatches: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const f = files[next++]!;
      const m = await checkFile(vfs, f.path, path.join(hostDir, f.path), opts.readSize);
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
