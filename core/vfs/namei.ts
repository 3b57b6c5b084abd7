// The path walk: absolute paths only, component by component from the
// namespace root. The walk keeps the directories it went through on a stack
// of referenced vnodes, so ".." is physical (pop; stays at "/") and ".." at
// a mount root lands in the parent of the covered directory, without asking
// the filesystem. Mount points are crossed as they are reached; symlinks are
// followed for every intermediate component and, when asked, the last one.
// A trailing slash becomes a final "." so "file/" gives ENOTDIR and
// "link/" follows the link, as on Linux.

import { Errno, ErrnoError } from '../errno';
import { MAXSYMLINKS, NAME_MAX, PATH_MAX } from './fcntl';
import { S_IFDIR, S_IFLNK } from './stat';
import { vget, vref, vrele, Vnode } from './vnode';

/** UTF-8 byte length without an encoder (portable, no allocation). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length
             && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

/** Type and length checks every path (and symlink target) passes. */
export function checkPath(path: string): void {
  if (typeof path !== 'string') throw new ErrnoError(Errno.EFAULT, 'path is not a string');
  if (path.length === 0) throw new ErrnoError(Errno.ENOENT, 'empty path');
  // Cheap bound first: a UTF-16 unit is at least one UTF-8 byte.
  if (path.length >= PATH_MAX || utf8Length(path) >= PATH_MAX) {
    throw new ErrnoError(Errno.ENAMETOOLONG, 'path too long');
  }
  if (path.indexOf('\0') >= 0) throw new ErrnoError(Errno.EINVAL, 'NUL in path');
}

export function checkAbsolute(path: string): void {
  checkPath(path);
  if (path.charCodeAt(0) !== 0x2f) throw new ErrnoError(Errno.EINVAL, `not an absolute path: ${path}`);
}

export function checkName(name: string): void {
  if (utf8Length(name) > NAME_MAX) throw new ErrnoError(Errno.ENAMETOOLONG, 'component too long');
}

/** Components; a trailing slash adds ".". */
export function splitPath(path: string): string[] {
  const comps = path.split('/').filter((c) => c.length > 0);
  if (comps.length > 0 && path.charCodeAt(path.length - 1) === 0x2f) comps.push('.');
  return comps;
}

/** Looks `name` up in `dir` and crosses any mount on the result. */
export async function lookupChild(dir: Vnode, name: string): Promise<Vnode> {
  const entry = await dir.mount.fs.vnops.lookup(dir, name);
  let vp = vget(dir.mount, entry);
  while (vp.mountedHere) {
    const root = vref(vp.mountedHere.root);
    vrele(vp);
    vp = root;
  }
  return vp;
}

function releaseAll(stack: Vnode[]): void {
  while (stack.length > 0) vrele(stack.pop()!);
}

/** Walks `comps` from the top of `stack`, pushing what it resolves. */
async function walk(stack: Vnode[], comps: string[], followLast: boolean): Promise<void> {
  let links = 0;
  let i = 0;
  while (i < comps.length) {
    const name = comps[i];
    const last = i === comps.length - 1;
    const top = stack[stack.length - 1];
    if (top.type !== S_IFDIR) throw new ErrnoError(Errno.ENOTDIR);
    if (name === '.') { i++; continue; }
    if (name === '..') {
      if (stack.length > 1) vrele(stack.pop()!);
      i++;
      continue;
    }
    checkName(name);
    const vp = await lookupChild(top, name);
    if (vp.type === S_IFLNK && (!last || followLast)) {
      let target: string;
      try {
        if (++links > MAXSYMLINKS) throw new ErrnoError(Errno.ELOOP);
        target = await vp.mount.fs.vnops.readlink(vp);
      } finally {
        vrele(vp);
      }
      checkPath(target);
      if (target.charCodeAt(0) === 0x2f) {
        while (stack.length > 1) vrele(stack.pop()!);
      }
      comps = splitPath(target).concat(comps.slice(i + 1));
      i = 0;
      continue;
    }
    stack.push(vp);
    i++;
  }
}

/** The referenced vnode `path` names. */
export async function namei(root: Vnode, path: string, followLast: boolean): Promise<Vnode> {
  checkAbsolute(path);
  const stack = [vref(root)];
  try {
    await walk(stack, splitPath(path), followLast);
  } catch (e) {
    releaseAll(stack);
    throw e;
  }
  const vp = stack.pop()!;
  releaseAll(stack);
  return vp;
}

export interface ParentResult {
  /** Referenced directory that holds (or will hold) `name`. */
  dir: Vnode;
  name: string;
  /** The path ended in "/" (the target must be a directory). */
  trailingSlash: boolean;
}

/**
 * The directory and last component of `path`, for calls that create or
 * remove names. `rootErrno` answers a path with no last component ("/").
 */
export async function nameiParent(root: Vnode, path: string, rootErrno: number): Promise<ParentResult> {
  checkAbsolute(path);
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 0x2f) end--;
  const trailingSlash = end < path.length;
  const comps = splitPath(path.slice(0, end));
  const name = comps.pop();
  if (name === undefined) throw new ErrnoError(rootErrno);
  if (name === '.' || name === '..') throw new ErrnoError(Errno.EINVAL, `"${name}" as last component`);
  checkName(name);
  const dir = await namei(root, comps.length ? '/' + comps.join('/') : '/', true);
  if (dir.type !== S_IFDIR) {
    vrele(dir);
    throw new ErrnoError(Errno.ENOTDIR);
  }
  return { dir, name, trailingSlash };
}
