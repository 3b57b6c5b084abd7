// Entries and attributes: LOOKUP, FORGET, GETATTR, READLINK, STATFS.

import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { Errno, ErrnoError } from '../../../core';
import * as K from '../../../fs/fuse';
import { AttrOut, EntryOut, ForgetOne, GetattrIn, Kstatfs, NameIn, ReadlinkOut } from '../../../fs/fuse';
import type { FuseContext } from '../fuse';
import { joinRel, lookupNameErrno } from './confine';
import { isDir, isLnk, statToAttr } from './host-attrs';
import { Inode } from './inodes';
import { PassthroughState } from './state';

export async function lookup(s: PassthroughState, ctx: FuseContext, body: NameIn): Promise<EntryOut> {
  const parent = s.inode(ctx.nodeid);
  if (!isDir(parent.mode)) throw new ErrnoError(Errno.ENOTDIR, 'LOOKUP in a non-directory');
  const bad = lookupNameErrno(body.name);
  if (bad !== 0) throw new ErrnoError(bad, 'LOOKUP name refused');
  const name = Buffer.from(body.name); // a copy: the request buffer is not ours to keep
  const dir = await s.dirOf(parent);
  try {
    const st = await s.host.lstat(parent.dev, dir.child(name));
    const dax = await s.daxFor(st, dir, name);
    const i = s.inodes.lookedUp(parent, name, joinRel(parent.path, name), st);
    return s.entryOut(i.nodeid, statToAttr(st, dax ? K.FUSE_ATTR_DAX : 0));
  } finally {
    dir.release();
  }
}

export function forget(s: PassthroughState, forgets: readonly ForgetOne[]): void {
  for (const f of forgets) s.forget(f.nodeid, f.nlookup);
}

export async function getattr(s: PassthroughState, ctx: FuseContext, body: GetattrIn): Promise<AttrOut> {
  const i = s.inode(ctx.nodeid);
  let st: BigIntStats;
  let dax = false;
  const h = (body.getattr_flags & K.FUSE_GETATTR_FH) !== 0 ? s.handles.get(body.fh) : undefined;
  if (h !== undefined && h.kind === 'file' && h.inode === i) {
    st = await s.host.fstat(i.dev, h.fd);
    dax = s.policy.enabledNow(st) ?? await daxByPath(s, i, st);
  } else if (i === s.inodes.root) {
    st = await s.host.fstat(i.dev, s.confine.rootFd);
  } else if (isDir(i.mode)) {
    const dir = await s.dirOf(i);
    st = dir.stat; // from the check or the open just done
    dir.release();
  } else {
    const dir = await s.parentOf(i);
    try {
      st = await s.lstatChecked(dir, i);
      dax = await s.daxFor(st, dir, i.name);
    } catch (e) {
      // Unlinked (or renamed by the host) while open: its open file still names it.
      const open = s.handles.anyFileOf(i);
      if (open === undefined) throw e;
      st = await s.host.fstat(i.dev, open.fd);
    } finally {
      dir.release();
    }
  }
  // FUSE_ATTR_DAX in GETATTR too: Linux's fuse_dax_dontcache() compares
  // it on every attribute update and would drop a DAX inode otherwise.
  return { attr_valid: s.timeout, attr_valid_nsec: 0, attr: statToAttr(st, dax ? K.FUSE_ATTR_DAX : 0) };
}

async function daxByPath(s: PassthroughState, i: Inode, st: BigIntStats): Promise<boolean> {
  const dir = await s.parentOf(i);
  try { return await s.daxFor(st, dir, i.name); } finally { dir.release(); }
}

export async function readlink(s: PassthroughState, ctx: FuseContext): Promise<ReadlinkOut> {
  const i = s.inode(ctx.nodeid);
  if (!isLnk(i.mode)) throw new ErrnoError(Errno.EINVAL, 'READLINK of a non-symlink');
  const dir = await s.parentOf(i);
  try {
    await s.lstatChecked(dir, i);
    return { link: await s.host.readlink(i.dev, dir.child(i.name)) };
  } finally {
    dir.release();
  }
}

/** The root's filesystem. */
export async function statfs(s: PassthroughState): Promise<Kstatfs> {
  const st = await fs.promises.statfs(`/proc/self/fd/${s.confine.rootFd}`, { bigint: true });
  const bsize = Number(st.bsize & 0xffffffffn);
  return {
    blocks: st.blocks, bfree: st.bfree, bavail: st.bavail, files: st.files, ffree: st.ffree,
    bsize, namelen: 255, frsize: bsize,
  };
}
