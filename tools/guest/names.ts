// Names for what the DAX window holds. The manager knows nodeids; a person
// knows paths. A nodeid is matched to the inode number its mount reports
// (st_ino is not the nodeid), and the path is the file's own, every symlink
// resolved, not the name it happened to be opened through.

import * as posix from 'node:path/posix';
import { Errno, ErrnoError } from '../../core';
import { S_IFLNK, S_IFMT, type Vfs } from '../../core/vfs';

/** Linux's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

/** The path of p with every symlink resolved (realpath(3)), in the share. */
export async function realpathIn(vfs: Vfs, p: string): Promise<string> {
  let hops = 0;
  let done = '/';
  const todo = posix.resolve('/', p).split('/').filter(Boolean);
  while (todo.length) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') { done = posix.dirname(done); continue; }
    const next = posix.join(done, name);
    const st = await vfs.lstat(next);
    if ((st.mode & S_IFMT) !== S_IFLNK) { done = next; continue; }
    if (++hops > MAX_SYMLINKS) throw new ErrnoError(Errno.ELOOP);
    const target = await vfs.readlink(next);
    if (target.startsWith('/')) done = '/';
    todo.unshift(...target.split('/').filter(Boolean));
  }
  return done;
}

type WithInodes = { inodes?: ReadonlyMap<bigint, { attr?: { ino?: bigint } }> };

/** The inode number of nodeid in any virtiofs mount of these Vfs. */
export function inoOfNodeid(vfses: readonly Vfs[], nodeid: bigint): bigint | undefined {
  for (const vfs of vfses) {
    for (const m of vfs.mounts()) {
      const ino = (m.fs as WithInodes).inodes?.get(nodeid)?.attr?.ino;
      if (ino !== undefined) return ino;
    }
  }
  return undefined;
}

/** The nodeids whose inode number is ino, in the mounts of vfs. */
export function nodeidsOf(vfs: Vfs, ino: bigint): bigint[] {
  const out: bigint[] = [];
  for (const m of vfs.mounts()) {
    const inodes = (m.fs as WithInodes).inodes;
    if (!inodes) continue;
    for (const [nodeid, ip] of inodes) if (ip.attr?.ino === ino) out.push(nodeid);
  }
  return out;
}

/** nodeid -> path from a listing of regular files (a walk's), by inode number. */
export function namerOf(vfses: readonly Vfs[], files: readonly { path: string; ino: bigint }[]): (nodeid: bigint) => string | undefined {
  const byIno = new Map<bigint, string>();
  for (const f of files) if (!byIno.has(f.ino)) byIno.set(f.ino, f.path);
  return (nodeid) => {
    const ino = inoOfNodeid(vfses, nodeid);
    return ino === undefined ? undefined : byIno.get(ino);
  };
}
