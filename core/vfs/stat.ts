// File attributes as the VFS hands them out: Linux's struct stat, with
// times as {sec, nsec} (FUSE's attr carries them so) and the node
// identity as bigint (FUSE nodeids and inode numbers are u64).

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;

// d_type values; equal to (mode & S_IFMT) >> 12, as FUSE dirents carry them.
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

export interface Timespec { sec: number; nsec: number }

export interface Stat {
  /** st_ino as the filesystem reports it. */
  ino: bigint;
  /** File type (S_IFMT bits) and permission bits. */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  /** Bytes. */
  size: number;
  /** 512-byte blocks allocated. */
  blocks: number;
  blksize: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
}

/** One directory entry; `nextCookie` resumes readdir after this entry. */
export interface DirEntry {
  /** The name for display: bytes that are not UTF-8 become U+FFFD. */
  name: string;
  /** The name as the filesystem has it: open it by these bytes. */
  nameBytes: Uint8Array;
  /** DT_* value. */
  type: number;
  ino: bigint;
  nextCookie: bigint;
}

/** A time to set: a value, or the filesystem's clock now (UTIME_NOW). */
export type TimeSet = Timespec | 'now';

/** Attributes to change (setattr); absent fields stay. */
export interface SetAttr {
  /** Permission bits and S_ISUID/S_ISGID/S_ISVTX (the file type stays). */
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSet;
  mtime?: TimeSet;
}

/** A POSIX record lock, with absolute byte offsets [start, end]. */
export interface FileLock {
  /** F_RDLCK, F_WRLCK, F_UNLCK */
  type: number;
  start: number;
  /** Inclusive; LOCK_TO_EOF for "to the end of the file, however it grows". */
  end: number;
  /** The holder (GETLK's answer); the caller's pid when asking. */
  pid: number;
}

/** FileLock.end of a lock that runs to the end of the file. */
export const LOCK_TO_EOF = Number.MAX_SAFE_INTEGER;

const knownTypes = new Set([S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO]);

/** True when the S_IFMT bits of `mode` name a file type. */
export function validFileType(mode: number): boolean {
  return Number.isInteger(mode) && knownTypes.has(mode & S_IFMT);
}

export function isDir(mode: number): boolean { return (mode & S_IFMT) === S_IFDIR; }
export function isLnk(mode: number): boolean { return (mode & S_IFMT) === S_IFLNK; }
export function isReg(mode: number): boolean { return (mode & S_IFMT) === S_IFREG; }
export function modeToDt(mode: number): number { return (mode & S_IFMT) >>> 12; }
