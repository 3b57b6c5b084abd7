// The path walk: absolute paths only, component by component from the
// namespace root, as bytes (a name need not be UTF-8). The walk keeps the
// directories it went through on a stack of referenced vnodes, so ".." is
// physical (pop; stays at "/") and ".." at a mount root lands in the parent
// of the covered directory, without asking the filesystem. Mount points are
// crossed as they are reached; symlinks are followed for every intermediate
// component and, when asked, the last one. Searching a directory needs its
// exec permission (EACCES). A trailing slash becomes a final "." so
// "file/" gives ENOTDIR and "link/" follows the link, as on Linux.

import { Errno, ErrnoError } from '../errno';
import { MAY_EXEC, checkAccess, isRoot } from './cred';
import { MAXSYMLINKS, NAME_MAX, PATH_MAX } from './fcntl';
import type { OpContext } from './fs';
import { S_IFDIR, S_IFLNK } from './stat';
import { vget, vref, vrele, Vnode } from './vnode';

/** A path as callers give it: a string (UTF-8 on the wire) or its bytes. */
export type PathLike = string | Uint8Array;

const SLASH = 0x2f;
const DOT = 0x2e;
const utf8 = new TextEncoder();
const text = new TextDecoder('utf-8', { fatal: false });

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

/** The bytes of a path after the checks every path (and symlink target)
 *  passes: a string or bytes, not empty (ENOENT), shorter than PATH_MAX
 *  (ENAMETOOLONG), no NUL (EINVAL). */
export function pathBytes(path: PathLike): Uint8Array {
  let b: Uint8Array;
  if (typeof path === 'string') {
    // Cheap bound first: a UTF-16 unit is at least one UTF-8 byte.
    if (path.length >= PATH_MAX || utf8Length(path) >= PATH_MAX) throw new ErrnoError(Errno.ENAMETOOLONG, 'path too long');
    b = utf8.encode(path);
  } else if (path instanceof Uint8Array) {
    b = path;
  } else {
    throw new ErrnoError(Errno.EFAULT, 'path is not a string or bytes');
  }
  if (b.length === 0) throw new ErrnoError(Errno.ENOENT, 'empty path');
  if (b.length >= PATH_MAX) throw new ErrnoError(Errno.ENAMETOOLONG, 'path too long');
  if (b.indexOf(0) >= 0) throw new ErrnoError(Errno.EINVAL, 'NUL in path');
  return b;
}

/** pathBytes, and the path must start with '/'. */
export function absoluteBytes(path: PathLike): Uint8Array {
  const b = pathBytes(path);
  if (b[0] !== SLASH) throw new ErrnoError(Errno.EINVAL, `not an absolute path: ${text.decode(b)}`);
  return b;
}

/** A name's bytes as a string; bytes that are not UTF-8 become U+FFFD. */
export function nameString(b: Uint8Array): string {
  return text.decode(b);
}

export function isDot(n: Uint8Array): boolean { return n.length === 1 && n[0] === DOT; }
export function isDotDot(n: Uint8Array): boolean { return n.length === 2 && n[0] === DOT && n[1] === DOT; }

const DOT_NAME = Uint8Array.of(DOT);

/** Components; a trailing slash adds ".". */
export function splitPath(path: Uint8Array): Uint8Array[] {
  const comps: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === SLASH) {
      if (i > start) comps.push(path.subarray(start, i));
      start = i + 1;
    }
  }
  if (comps.length > 0 && path[path.length - 1] === SLASH) comps.push(DOT_NAME);
  return comps;
}

/** EACCES unless the caller may search directory `dir` (root always may). */
export async function maySearch(dir: Vnode, ctx: OpContext): Promise<void> {
  if (isRoot(ctx.cred)) return;
  checkAccess(ctx.cred, await dir.mount.fs.vnops.getattr(dir, ctx), MAY_EXEC);
}

/** Looks `name` up in `dir` and crosses any mount on the result. */
export async function lookupChild(dir: Vnode, name: Uint8Array, ctx: OpContext): Promise<Vnode> {
  if (name.length > NAME_MAX) throw new ErrnoError(Errno.ENAMETOOLONG, 'component too long');
  const entry = await dir.mount.fs.vnops.lookup(dir, name, ctx);
  let vp = vget(dir.mount, entry);
  while (vp.mountedHere) {
    const root = vref(vp.mountedHere.root);
    vrele(vp);
    vp = root;
  }
  return vp;
}

export function releaseAll(stack: Vnode[]): void {
  while (stack.length > 0) vrele(stack.pop()!);
}

/** Walks `comps` from the top of `stack`, pushing what it resolves. */
async function walk(stack: Vnode[], comps: Uint8Array[], followLast: boolean, ctx: OpContext): Promise<void> {
  let links = 0;
  let i = 0;
  while (i < comps.length) {
    const name = comps[i]!;
    const last = i === comps.length - 1;
    const top = stack[stack.length - 1]!;
    if (top.type !== S_IFDIR) throw new ErrnoError(Errno.ENOTDIR);
    if (isDot(name)) { i++; continue; }
    await maySearch(top, ctx);
    if (isDotDot(name)) {
      if (stack.length > 1) vrele(stack.pop()!);
      i++;
      continue;
    }
    const vp = await lookupChild(top, name, ctx);
    if (vp.type === S_IFLNK && (!last || followLast)) {
      let target: Uint8Array;
      try {
        if (++links > MAXSYMLINKS) throw new ErrnoError(Errno.ELOOP);
        target = pathBytes(await vp.mount.fs.vnops.readlink(vp, ctx));
      } finally {
        vrele(vp);
      }
      if (target[0] === SLASH) {
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
export async function namei(root: Vnode, path: PathLike, followLast: boolean, ctx: OpContext): Promise<Vnode> {
  const stack = await nameiStack(root, splitPath(absoluteBytes(path)), followLast, ctx);
  const vp = stack.pop()!;
  releaseAll(stack);
  return vp;
}

/** The walk's whole stack: the vnode last, its ancestors below (referenced). */
async function nameiStack(root: Vnode, comps: Uint8Array[], followLast: boolean, ctx: OpContext): Promise<Vnode[]> {
  const stack = [vref(root)];
  try {
    await walk(stack, comps, followLast, ctx);
  } catch (e) {
    releaseAll(stack);
    throw e;
  }
  return stack;
}

/** What the last component of a path is. */
export type LastKind = 'norm' | 'dot' | 'dotdot';

export interface ParentResult {
  /** Referenced directory that holds (or will hold) `name`. */
  dir: Vnode;
  /** Its ancestors, root first (referenced): rename's loop check reads them. */
  ancestors: Vnode[];
  name: Uint8Array;
  kind: LastKind;
  /** The path ended in "/" (the target must be a directory). */
  trailingSlash: boolean;
}

/**
 * The directory and last component of `path`, for calls that create or
 * remove names. `rootErrno` answers a path with no last component ("/").
 * A last component "." or ".." comes back as such (each call has its errno).
 */
export async function nameiParent(root: Vnode, path: PathLike, rootErrno: number, ctx: OpContext): Promise<ParentResult> {
  const { comps, name, trailingSlash } = splitLast(absoluteBytes(path));
  if (name === undefined) throw new ErrnoError(rootErrno);
  const stack = await nameiStack(root, comps, true, ctx);
  return parentIn(stack, name, trailingSlash, ctx);
}

/**
 * The parent and last component of symlink `target`, found in `p`'s
 * directory (O_CREAT through a trailing symlink creates the target, as
 * Linux's open does). `p` stays referenced; the result is referenced too.
 */
export async function parentOfLink(p: ParentResult, target: Uint8Array, ctx: OpContext): Promise<ParentResult> {
  const t = pathBytes(target);
  const { comps, name, trailingSlash } = splitLast(t);
  const stack = [...p.ancestors, p.dir].map(vref);
  if (t[0] === SLASH) while (stack.length > 1) vrele(stack.pop()!);
  if (name === undefined) { releaseAll(stack); throw new ErrnoError(Errno.EISDIR); }
  try {
    await walk(stack, comps, true, ctx);
  } catch (e) {
    releaseAll(stack);
    throw e;
  }
  return parentIn(stack, name, trailingSlash, ctx);
}

/** A path's components without its trailing slashes, the last one apart. */
function splitLast(b: Uint8Array): { comps: Uint8Array[]; name: Uint8Array | undefined; trailingSlash: boolean } {
  let end = b.length;
  while (end > 1 && b[end - 1] === SLASH) end--;
  const comps = splitPath(b.subarray(0, end));
  return { comps, name: comps.pop(), trailingSlash: end < b.length };
}

/** The top of a walked stack as the parent of `name`; on an error every
 *  reference in the stack is dropped. */
async function parentIn(stack: Vnode[], name: Uint8Array, trailingSlash: boolean, ctx: OpContext): Promise<ParentResult> {
  const dir = stack.pop()!;
  try {
    if (dir.type !== S_IFDIR) throw new ErrnoError(Errno.ENOTDIR);
    // link_path_walk checks search permission on the directory before it
    // hands back the last component: EACCES before ENOENT, EEXIST, EINVAL,
    // and before the filesystem's lookup finds the name too long.
    await maySearch(dir, ctx);
    if (name.length > NAME_MAX) throw new ErrnoError(Errno.ENAMETOOLONG, 'component too long');
  } catch (e) {
    vrele(dir);
    releaseAll(stack);
    throw e;
  }
  const kind: LastKind = isDot(name) ? 'dot' : isDotDot(name) ? 'dotdot' : 'norm';
  return { dir, ancestors: stack, name, kind, trailingSlash };
}

/** Drops what nameiParent referenced. */
export function releaseParent(p: ParentResult): void {
  vrele(p.dir);
  releaseAll(p.ancestors);
}
