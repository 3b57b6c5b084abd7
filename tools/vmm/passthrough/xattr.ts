// Extended attributes: GETXATTR (size 0 answers the size), LISTXATTR,
// SETXATTR, REMOVEXATTR, on the inode's own path without following a
// final symlink (the l*xattr calls of the host-calls addon): a file by its
// verified parent's fd and its name, a directory by its own verified fd.
// Without the addon: ENOSYS (the client answers EOPNOTSUPP from then on).

import { Errno, ErrnoError } from '../../../core';
import { GetxattrArgs, GetxattrIn, SetxattrIn, XattrNameIn, XattrOut } from '../../../fs/fuse';
import { hostcalls, type HostCallsAddon } from '../../native/hostcalls.node';
import type { FuseContext } from '../fuse';
import { isDir } from './host-attrs';
import { PassthroughState } from './state';

const DOT = Buffer.from('.');

function addon(): HostCallsAddon {
  if (!hostcalls) throw new ErrnoError(Errno.ENOSYS, 'xattrs need tools/native (not built)');
  return hostcalls;
}

/** Runs fn on the inode's path (a reference held for the call). */
async function onPath<T>(s: PassthroughState, nodeid: bigint, fn: (path: Buffer) => T): Promise<T> {
  const i = s.inode(nodeid);
  if (isDir(i.mode)) {
    const d = await s.dirOf(i);
    try { return fn(Buffer.concat([d.self, DOT])); } finally { d.release(); }
  }
  const dir = await s.parentOf(i);
  try {
    await s.lstatChecked(dir, i);
    return fn(dir.child(i.name));
  } finally {
    dir.release();
  }
}

function answer(r: Buffer | number, size: number): XattrOut {
  if (size === 0) return { size: r as number };
  return { value: r as Buffer };
}

export function getxattr(s: PassthroughState, ctx: FuseContext, body: GetxattrIn): Promise<XattrOut> {
  const a = addon();
  return onPath(s, ctx.nodeid, (p) => answer(a.lgetxattr(p, Buffer.from(body.name), body.size), body.size));
}

export function listxattr(s: PassthroughState, ctx: FuseContext, body: GetxattrArgs): Promise<XattrOut> {
  const a = addon();
  return onPath(s, ctx.nodeid, (p) => answer(a.llistxattr(p, body.size), body.size));
}

export async function setxattr(s: PassthroughState, ctx: FuseContext, body: SetxattrIn): Promise<null> {
  const a = addon();
  await onPath(s, ctx.nodeid, (p) => a.lsetxattr(p, Buffer.from(body.name), Buffer.from(body.value), body.flags));
  return null;
}

export async function removexattr(s: PassthroughState, ctx: FuseContext, body: XattrNameIn): Promise<null> {
  const a = addon();
  await onPath(s, ctx.nodeid, (p) => a.lremovexattr(p, Buffer.from(body.name)));
  return null;
}
