// Directories: OPENDIR (a snapshot of the listing), READDIR and
// READDIRPLUS (entries reached through the held directory fd), RELEASEDIR.

import type { BigIntStats } from 'node:fs';
import { Errno, ErrnoError } from '../../../core';
import * as K from '../../../fs/fuse';
import {
  Attr, Dirent, DirentPlus, OpenIn, OpenOut, ReaddirOut, ReaddirplusOut, ReadIn, ReleaseIn, direntplusSize, direntSize,
} from '../../../fs/fuse';
import type { FuseContext } from '../fuse';
import { isDotOrDotdot, joinRel } from './confine';
import { DirFd } from './dir-cache';
import { DirEntryName, DirFh } from './handles';
import { S_IFDIR, isDir, modeToDtype, statToAttr } from './host-attrs';
import { PassthroughState } from './state';

type Found = { kind: 'dot'; ino: bigint } | { kind: 'gone' } | { kind: 'ok'; st: BigIntStats; dax: boolean };

export async function opendir(s: PassthroughState, ctx: FuseContext, _body: OpenIn): Promise<OpenOut> {
  const i = s.inode(ctx.nodeid);
  if (!isDir(i.mode)) throw new ErrnoError(Errno.ENOTDIR, 'OPENDIR of a non-directory');
  const dir = await s.dirOf(i); // the reference goes to the DirFh
  let entries: DirEntryName[];
  try {
    const listed = await s.host.list(i.dev, dir.fd, dir.self);
    // With inode numbers listed, '.' and '..' get theirs too (the root's
    // '..' is the root: nothing above it is shown).
    let dotdot: bigint | undefined;
    if (listed.length === 0 || listed[0]!.ino !== undefined) {
      if (i === s.inodes.root) dotdot = i.ino;
      else {
        const r = s.host.lstat(i.dev, dir.child(Buffer.from('..')));
        dotdot = (r instanceof Promise ? await r : r).ino;
      }
    }
    entries = [
      { name: Buffer.from('.'), type: K.DT_DIR, ino: dotdot === undefined ? undefined : i.ino },
      { name: Buffer.from('..'), type: K.DT_DIR, ino: dotdot },
      ...listed];
  } catch (e) {
    dir.release();
    throw e;
  }
  const fh = s.handles.add({ kind: 'dir', dir, inode: i, entries });
  return { fh, open_flags: 0, backing_id: 0 };
}

export async function releasedir(s: PassthroughState, body: ReleaseIn): Promise<null> {
  const h = s.fh(body.fh, 'dir');
  s.handles.remove(body.fh);
  await s.closeFh(h);
  return null;
}

export function readdir(s: PassthroughState, body: ReadIn, plus: false): Promise<ReaddirOut>;
export function readdir(s: PassthroughState, body: ReadIn, plus: true): Promise<ReaddirplusOut>;
/** body.size is clamped to the reply buffer by the server. */
export async function readdir(s: PassthroughState, body: ReadIn, plus: boolean): Promise<ReaddirOut | ReaddirplusOut> {
  const h = s.fh(body.fh, 'dir');
  const size = body.size;
  const start = body.offset;
  if (start >= BigInt(h.entries.length)) return { entries: [] };
  // Pick the entries that fit before any host call, so READDIRPLUS counts
  // lookups only for entries that are returned.
  const from = Number(start);
  let to = from;
  let used = 0;
  while (to < h.entries.length) {
    const n = plus ? direntplusSize(h.entries[to]!.name.length) : direntSize(h.entries[to]!.name.length);
    if (used + n > size) break;
    used += n;
    to++;
  }
  if (to === from) throw new ErrnoError(Errno.EINVAL, 'buffer too small for one entry'); // not EOF
  const picked = h.entries.slice(from, to);
  // The listing's d_ino answers READDIR without a host call, as virtiofsd
  // answers from getdents; what the listing lacked is lstat'ed.
  if (!plus && picked.every((e) => e.ino !== undefined)) {
    return { entries: picked.map((e, k) => ({ ino: e.ino!, off: BigInt(from + k + 1), type: e.type, name: e.name })) };
  }
  // A reference for this call: a concurrent RELEASEDIR must not close the
  // fd under the lstats below.
  const dir = h.dir.acquire();
  let found: Found[];
  try {
    found = await statEntries(s, h, dir, picked, plus);
  } finally {
    dir.release();
  }
  if (!plus) {
    const list: Dirent[] = [];
    for (let k = 0; k < picked.length; k++) {
      const f = found[k]!;
      if (f.kind === 'gone') continue;
      const e = picked[k]!;
      const ino = f.kind === 'dot' ? f.ino : f.st.ino;
      list.push({ ino, off: BigInt(from + k + 1), type: e.type, name: e.name });
    }
    return { entries: list };
  }
  const list: DirentPlus[] = [];
  for (let k = 0; k < picked.length; k++) {
    const f = found[k]!;
    if (f.kind === 'gone') continue;
    const e = picked[k]!;
    const off = BigInt(from + k + 1);
    if (f.kind === 'dot') {
      // As virtiofsd: no lookup for '.' and '..'; nodeid 0 makes the
      // kernel skip the entry when it fills its dcache.
      const a: Attr = {
        ino: f.ino, size: 0n, blocks: 0n, atime: 0n, mtime: 0n, ctime: 0n, atimensec: 0, mtimensec: 0,
        ctimensec: 0, mode: S_IFDIR, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0, flags: 0,
      };
      list.push({
        entry_out: { ...s.entryOut(0n, a), entry_valid: 0n, attr_valid: 0n },
        dirent: { ino: f.ino, off, type: K.DT_DIR, name: e.name },
      });
      continue;
    }
    // Counted here; the server forgets it again if the reply cannot carry it.
    const i = s.inodes.lookedUp(h.inode, e.name, joinRel(h.inode.path, e.name), f.st);
    list.push({
      entry_out: s.entryOut(i.nodeid, statToAttr(f.st, f.dax ? K.FUSE_ATTR_DAX : 0)),
      dirent: { ino: f.st.ino, off, type: modeToDtype(Number(f.st.mode)), name: e.name },
    });
  }
  return { entries: list };
}

/** One lstat per picked entry through the held directory fd (nothing is
 *  reopened): in a loop while the filesystem is fast, all at once in the
 *  thread pool when it is not. A vanished entry is 'gone' (skipped). */
async function statEntries(s: PassthroughState, h: DirFh, dir: DirFd, picked: DirEntryName[], plus: boolean): Promise<Found[]> {
  const dev = h.inode.dev;
  const isRoot = h.inode === s.inodes.root;
  const one = async (e: DirEntryName): Promise<Found> => {
    const dotdot = e.name.length === 2 && isDotOrDotdot(e.name);
    // '.' is the directory; the root's '..' stays inside: it is the root.
    if (isDotOrDotdot(e.name) && (!dotdot || isRoot)) return { kind: 'dot', ino: h.inode.ino };
    let st: BigIntStats;
    try {
      const r = s.host.lstat(dev, dir.child(e.name));
      st = r instanceof Promise ? await r : r;
    } catch {
      return { kind: 'gone' };
    }
    if (dotdot) return { kind: 'dot', ino: st.ino };
    if (!plus) return { kind: 'ok', st, dax: false };
    const dax = s.policy.enabledNow(st) ?? await s.policy.enabled(st, () => s.entryPath(dir, e.name)).catch(() => false);
    return { kind: 'ok', st, dax };
  };
  if (!s.host.guard.fast(dev) || (plus && s.policy.policy === 'inode')) return Promise.all(picked.map(one));
  const found: Found[] = new Array(picked.length);
  for (let k = 0; k < picked.length; k++) found[k] = await one(picked[k]!);
  return found;
}
