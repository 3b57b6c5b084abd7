// Host lstat/fstat results to fuse_attr, as virtiofsd's convert_stat does.

import type { BigIntStats } from 'node:fs';
import { Attr, DT_BLK, DT_CHR, DT_DIR, DT_FIFO, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN } from '../../../fs/fuse';

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

const NS = 1_000_000_000n;
const U32 = 0xffffffffn;

export function isReg(mode: number): boolean { return (mode & S_IFMT) === S_IFREG; }
export function isDir(mode: number): boolean { return (mode & S_IFMT) === S_IFDIR; }
export function isLnk(mode: number): boolean { return (mode & S_IFMT) === S_IFLNK; }

export function statToAttr(st: BigIntStats, flags: number): Attr {
  return {
    ino: st.ino,
    size: st.size,
    blocks: st.blocks,
    atime: st.atimeNs / NS,
    mtime: st.mtimeNs / NS,
    ctime: st.ctimeNs / NS,
    atimensec: Number(st.atimeNs % NS),
    mtimensec: Number(st.mtimeNs % NS),
    ctimensec: Number(st.ctimeNs % NS),
    mode: Number(st.mode),
    nlink: Number(st.nlink & U32),
    uid: Number(st.uid & U32),
    gid: Number(st.gid & U32),
    // fuse_attr.rdev is 32 bits: the kernel's new_encode_dev fits in it.
    rdev: Number(st.rdev & U32),
    blksize: Number(st.blksize & U32),
    flags,
  };
}

/** DT_* of a mode, for fuse_dirent.type. */
export function modeToDtype(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case 0o010000: return DT_FIFO;
    case 0o020000: return DT_CHR;
    case 0o060000: return DT_BLK;
    case 0o140000: return DT_SOCK;
    default: return DT_UNKNOWN;
  }
}
