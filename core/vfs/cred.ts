// Who calls, and the permission checks Linux makes for a filesystem mounted
// with default_permissions (fs/namei.c generic_permission, may_delete's
// sticky check, fs/attr.c setattr_prepare): owner, group and other bits,
// supplementary groups, root's capabilities (CAP_DAC_OVERRIDE,
// CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_CHOWN, CAP_FSETID). The VFS makes them
// with the attributes its filesystem reports, before anything is sent.

import { Errno, ErrnoError } from '../errno';
import { S_IFDIR, S_IFMT, S_ISGID, S_ISVTX, Stat } from './stat';

/** A caller's identity, as a process has it. */
export interface Cred {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups. */
  readonly groups: readonly number[];
  /** Masks the mode of what the caller creates. */
  readonly umask: number;
  readonly pid: number;
}

export const ROOT: Cred = Object.freeze({ uid: 0, gid: 0, groups: Object.freeze([]) as readonly number[], umask: 0o022, pid: 1 });

/** A complete Cred from a partial one (missing fields from `base`); EINVAL for bad values. */
export function makeCred(c: Partial<Cred>, base: Cred = ROOT): Cred {
  const id = (v: unknown, what: string): number => {
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xfffffffe) throw new ErrnoError(Errno.EINVAL, `bad ${what} ${String(v)}`);
    return v as number;
  };
  const groups = c.groups ?? base.groups;
  if (!Array.isArray(groups)) throw new ErrnoError(Errno.EINVAL, 'groups: a list of gids');
  const umask = c.umask ?? base.umask;
  if (!Number.isInteger(umask) || umask < 0 || umask > 0o777) throw new ErrnoError(Errno.EINVAL, `bad umask ${String(umask)}`);
  return Object.freeze({
    uid: id(c.uid ?? base.uid, 'uid'),
    gid: id(c.gid ?? base.gid, 'gid'),
    groups: Object.freeze(groups.map((g) => id(g, 'gid'))),
    umask,
    pid: id(c.pid ?? base.pid, 'pid'),
  });
}

export const MAY_EXEC = 1;
export const MAY_WRITE = 2;
export const MAY_READ = 4;

export function isRoot(c: Cred): boolean {
  return c.uid === 0;
}

export function inGroup(c: Cred, gid: number): boolean {
  return c.gid === gid || c.groups.includes(gid);
}

/** generic_permission: EACCES unless `c` may do `mask` (MAY_*) to a file with `st`. */
export function checkAccess(c: Cred, st: Pick<Stat, 'mode' | 'uid' | 'gid'>, mask: number): void {
  if (mask === 0) return;
  const mode = st.mode;
  if (isRoot(c)) {
    // CAP_DAC_OVERRIDE: anything but executing a file no one may execute.
    if (!(mask & MAY_EXEC) || (mode & S_IFMT) === S_IFDIR || (mode & 0o111) !== 0) return;
    throw new ErrnoError(Errno.EACCES);
  }
  const bits = c.uid === st.uid ? (mode >> 6) & 7 : inGroup(c, st.gid) ? (mode >> 3) & 7 : mode & 7;
  if ((bits & mask) !== mask) throw new ErrnoError(Errno.EACCES);
}

/** may_delete's sticky rule: in a sticky directory only the file's owner,
 *  the directory's owner or root may remove or rename the file (EPERM). */
export function checkSticky(c: Cred, dir: Pick<Stat, 'mode' | 'uid'>, file: Pick<Stat, 'uid'>): void {
  if (!(dir.mode & S_ISVTX) || isRoot(c) || c.uid === file.uid || c.uid === dir.uid) return;
  throw new ErrnoError(Errno.EPERM, 'sticky directory');
}

/** The owner or root (CAP_FOWNER), else EPERM: chmod, explicit utimes. */
export function checkOwner(c: Cred, st: Pick<Stat, 'uid'>): void {
  if (!isRoot(c) && c.uid !== st.uid) throw new ErrnoError(Errno.EPERM, 'not the owner');
}

/** chmod: the mode to set. A caller outside the file's group (and not
 *  root) cannot set S_ISGID, on a directory either (Linux's
 *  setattr_prepare): the bit is dropped. */
export function chmodMode(c: Cred, st: Pick<Stat, 'mode' | 'uid' | 'gid'>, mode: number): number {
  checkOwner(c, st);
  let m = mode & 0o7777;
  if (!isRoot(c) && !inGroup(c, st.gid)) m &= ~S_ISGID;
  return m;
}

/** chown (setattr_prepare's chown_ok / chgrp_ok): root may change anything;
 *  the owner may only change the group, to one of its own. EPERM otherwise.
 *  -1 (or undefined) leaves an id as it is. */
export function checkChown(c: Cred, st: Pick<Stat, 'uid' | 'gid'>, uid: number | undefined, gid: number | undefined): void {
  if (isRoot(c)) return;
  if (uid !== undefined && uid !== st.uid) throw new ErrnoError(Errno.EPERM, 'only root changes a file\'s owner');
  if (gid !== undefined && gid !== st.gid && (c.uid !== st.uid || !inGroup(c, gid))) {
    throw new ErrnoError(Errno.EPERM, 'the owner may only change the group to one of its own');
  }
}

/** utimensat: setting both times to now needs ownership or write access;
 *  any explicit time needs ownership (EPERM), as Linux. */
export function checkUtimes(c: Cred, st: Pick<Stat, 'mode' | 'uid' | 'gid'>, explicit: boolean): void {
  if (isRoot(c) || c.uid === st.uid) return;
  if (explicit) throw new ErrnoError(Errno.EPERM, 'only the owner sets explicit times');
  checkAccess(c, st, MAY_WRITE);
}
