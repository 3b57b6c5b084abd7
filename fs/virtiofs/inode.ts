// A node as one mount knows it (OSv's virtiofs_inode): the nodeid, the
// lookups this mount owes the server, the last attributes, and whether DAX
// is on for it (decided when the node is instantiated; a changed
// FUSE_ATTR_DAX takes effect once the node is dropped and looked up again,
// as in per-file DAX for virtio-fs, Jeffle Xu, 2021: an attribute refresh
// that carries another hint marks the inode not to be kept once unused,
// Linux's fuse_dax_dontcache). The inode cache
// (inode-cache.ts) makes and keeps them; this file writes the literal and
// the attribute refresh once, for every reply that carries attributes.

import { Errno, ErrnoError } from '../../core/errno';
import { S_IFMT, Stat, validFileType } from '../../core/vfs';
import { Attr, AttrOut, FUSE_ATTR_DAX } from '../fuse';

export interface VirtiofsInode {
  readonly nodeid: bigint;
  /** S_IFMT bits; fixed for the node's life. */
  readonly type: number;
  /** LOOKUPs (and READDIRPLUS entries) this mount has not forgotten yet. */
  nlookup: number;
  attr: Attr;
  /** File size in bytes from attr (clamps reads). */
  size: number;
  /** Date.now() until which attr may be used without GETATTR. */
  attrExpires: number;
  /** FUSE_ATTR_DAX when the node was instantiated (dax=inode). */
  readonly daxFlag: boolean;
  /** A later reply carried another FUSE_ATTR_DAX: with dax=inode the inode
   *  is dropped at its last close, not kept (Linux's d_mark_dontcache). */
  daxHintChanged: boolean;
  /** A directory whose names were looked up since its last listing batch:
   *  the next one is worth READDIRPLUS (Linux's FUSE_I_ADVISE_RDPLUS). */
  advisePlus?: boolean;
  /** Made from a READDIRPLUS entry and not used since: its first use from
   *  the entry cache advises its directory too (FUSE_I_INIT_RDPLUS). */
  fromPlus?: boolean;
}

const I64 = (v: bigint): number => Number(BigInt.asIntN(64, v));

/** EIO for attributes no file can have (Linux's fuse_invalid_attr). */
export function checkAttr(a: Attr): void {
  if (!validFileType(a.mode)) throw new ErrnoError(Errno.EIO, `virtiofs: attr mode 0o${a.mode.toString(8)} has no file type`);
  if (a.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new ErrnoError(Errno.EIO, `virtiofs: attr size ${a.size} out of range`);
}

/** The inode of nodeid from the attributes of a reply (an entry or GETATTR);
 *  EIO for attributes no file can have. */
export function newInode(nodeid: bigint, out: AttrOut, nlookup: number): VirtiofsInode {
  checkAttr(out.attr);
  return {
    nodeid, type: typeOf(out.attr.mode), nlookup, attr: out.attr, size: Number(out.attr.size),
    attrExpires: expiry(out.attr_valid, out.attr_valid_nsec), daxFlag: (out.attr.flags & FUSE_ATTR_DAX) !== 0,
    daxHintChanged: false,
  };
}

/** Takes the attributes of a reply for ip (an entry of a held node,
 *  GETATTR); EIO for attributes no file can have or a changed file type. */
export function setAttr(ip: VirtiofsInode, out: AttrOut): void {
  checkAttr(out.attr);
  if (typeOf(out.attr.mode) !== ip.type) throw new ErrnoError(Errno.EIO, `virtiofs: nodeid ${ip.nodeid} changed type`);
  ip.attr = out.attr;
  ip.size = Number(out.attr.size);
  ip.attrExpires = expiry(out.attr_valid, out.attr_valid_nsec);
  if (((out.attr.flags & FUSE_ATTR_DAX) !== 0) !== ip.daxFlag) ip.daxHintChanged = true;
}

export function attrToStat(a: Attr): Stat {
  return {
    ino: a.ino,
    mode: a.mode,
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    rdev: a.rdev,
    size: Number(a.size),
    blocks: Number(a.blocks > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : a.blocks),
    blksize: a.blksize,
    atime: { sec: I64(a.atime), nsec: a.atimensec },
    mtime: { sec: I64(a.mtime), nsec: a.mtimensec },
    ctime: { sec: I64(a.ctime), nsec: a.ctimensec },
  };
}

/** When attributes valid for (sec, nsec) expire, from now. */
export function expiry(sec: bigint, nsec: number): number {
  const ms = Number(sec) * 1000 + Math.floor(nsec / 1e6);
  return ms > 0 ? Date.now() + ms : 0;
}

export function typeOf(mode: number): number {
  return mode & S_IFMT;
}
