// Extended attributes: getxattr (with the size-probe protocol: ask the size,
// then the value, again if it grew), setxattr with XATTR_CREATE/REPLACE,
// listxattr, removexattr, with Linux's xattr_permission: trusted.* is
// root's, user.* only on regular files and directories (and in a sticky
// directory only its owner writes), then read or write permission.

import { Errno, ErrnoError } from '../errno';
import { MAY_READ, MAY_WRITE, checkAccess, isRoot } from './cred';
import { XATTR_CREATE, XATTR_NAME_MAX, XATTR_REPLACE, XATTR_SIZE_MAX } from './fcntl';
import type { OpContext } from './fs';
import { nameString } from './namei';
import { S_IFDIR, S_IFMT, S_IFREG, S_ISVTX } from './stat';
import { checkWritableMount, err, getattr, vnopOf, writeVnop } from './state';
import type { Vnode } from './vnode';

const utf8 = new TextEncoder();
/** Tries of the probe protocol before giving up on a value that keeps growing. */
const PROBE_TRIES = 4;

export type XattrName = string | Uint8Array;

function nameBytes(name: XattrName): Uint8Array {
  const b = typeof name === 'string' ? utf8.encode(name) : name;
  if (!(b instanceof Uint8Array)) throw err(Errno.EFAULT);
  // Linux: strncpy_from_user of XATTR_NAME_MAX + 1, then ERANGE.
  if (b.length === 0 || b.length > XATTR_NAME_MAX) throw err(Errno.ERANGE, 'xattr name length');
  if (b.indexOf(0) >= 0) throw err(Errno.EINVAL, 'NUL in xattr name');
  return b;
}

function startsWith(b: Uint8Array, prefix: string): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix.charCodeAt(i)) return false;
  return true;
}

async function xattrPermission(vp: Vnode, name: Uint8Array, mask: number, ctx: OpContext): Promise<void> {
  if (startsWith(name, 'security.') || startsWith(name, 'system.')) return;
  const write = (mask & MAY_WRITE) !== 0;
  if (startsWith(name, 'trusted.')) {
    if (!isRoot(ctx.cred)) throw err(write ? Errno.EPERM : Errno.ENODATA);
    return;
  }
  const st = await getattr(vp, ctx);
  if (startsWith(name, 'user.')) {
    const t = st.mode & S_IFMT;
    if (t !== S_IFREG && t !== S_IFDIR) throw err(write ? Errno.EPERM : Errno.ENODATA);
    if (t === S_IFDIR && (st.mode & S_ISVTX) && write && !isRoot(ctx.cred) && ctx.cred.uid !== st.uid) throw err(Errno.EPERM);
  }
  checkAccess(ctx.cred, st, mask);
}

/** Runs the size-probe protocol over a vnop of (size) -> value | size. */
async function probe(get: (size: number) => Promise<Uint8Array | number>): Promise<Uint8Array> {
  for (let i = 0; i < PROBE_TRIES; i++) {
    const size = await get(0);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw err(Errno.EIO, 'xattr: bad size reply');
    if (size > XATTR_SIZE_MAX) throw err(Errno.E2BIG);
    if (size === 0) return new Uint8Array(0);
    try {
      const v = await get(size);
      if (!(v instanceof Uint8Array) || v.length > size) throw err(Errno.EIO, 'xattr: bad value reply');
      return v;
    } catch (e) {
      // It grew between the two calls: ask again.
      if (!(e instanceof ErrnoError) || e.errno !== Errno.ERANGE) throw e;
    }
  }
  throw err(Errno.ERANGE, 'xattr value kept changing size');
}

function vnop<K extends 'getxattr' | 'listxattr'>(vp: Vnode, k: K) {
  const f = vnopOf(vp.mount, k);
  // A filesystem without xattrs: ENOTSUP, as Linux answers then.
  if (f === undefined) throw err(Errno.EOPNOTSUPP);
  return f;
}

export async function getxattr(vp: Vnode, ctx: OpContext, name: XattrName): Promise<Uint8Array> {
  const n = nameBytes(name);
  await xattrPermission(vp, n, MAY_READ, ctx);
  const get = vnop(vp, 'getxattr');
  return probe((size) => get(vp, n, size, ctx));
}

export async function setxattr(vp: Vnode, ctx: OpContext, name: XattrName, value: Uint8Array, flags: number): Promise<void> {
  const n = nameBytes(name);
  if (!(value instanceof Uint8Array)) throw err(Errno.EFAULT);
  if (!Number.isInteger(flags) || (flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0) throw err(Errno.EINVAL, 'bad flags');
  if (value.length > XATTR_SIZE_MAX) throw err(Errno.E2BIG);
  checkWritableMount(vp.mount);
  await xattrPermission(vp, n, MAY_WRITE, ctx);
  const set = writeVnop(vp.mount, 'setxattr');
  await set(vp, n, value, flags, ctx);
}

/** The names, as bytes (each without its NUL). */
export async function listxattr(vp: Vnode, ctx: OpContext): Promise<Uint8Array[]> {
  const list = vnop(vp, 'listxattr');
  const all = await probe((size) => list(vp, size, ctx));
  if (all.length > 0 && all[all.length - 1] !== 0) throw err(Errno.EIO, 'listxattr: names not NUL-terminated');
  const names: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < all.length; i++) {
    if (all[i] !== 0) continue;
    if (i > start) names.push(all.subarray(start, i));
    start = i + 1;
  }
  return names;
}

export function listxattrStrings(vp: Vnode, ctx: OpContext): Promise<string[]> {
  return listxattr(vp, ctx).then((l) => l.map(nameString));
}

export async function removexattr(vp: Vnode, ctx: OpContext, name: XattrName): Promise<void> {
  const n = nameBytes(name);
  checkWritableMount(vp.mount);
  await xattrPermission(vp, n, MAY_WRITE, ctx);
  const remove = writeVnop(vp.mount, 'removexattr');
  await remove(vp, n, ctx);
}
