// Open flags, seek whences and limits with Linux (x86-64, generic) values,
// so numbers read from a guest program mean what they mean on Linux.

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

// access(2)
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

// renameat2(2)
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;

// setxattr(2)
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
/** Longest xattr name, largest value and listing (Linux). */
export const XATTR_NAME_MAX = 255;
export const XATTR_SIZE_MAX = 65536;

// fcntl(2) record locks and flock(2)
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** umount2 flag: unmount even with files open (they fail with EIO after). */
export const MNT_FORCE = 1;

/** Longest component, in UTF-8 bytes. */
export const NAME_MAX = 255;
/** Paths (and symlink targets) must be shorter than this, in UTF-8 bytes (the NUL counts on Linux). */
export const PATH_MAX = 4096;
/** Symlinks one lookup may follow; the 41st gives ELOOP (Linux's MAXSYMLINKS). */
export const MAXSYMLINKS = 40;

/** True when the flags ask for anything a read-only filesystem refuses. */
export function wantsWrite(flags: number): boolean {
  return (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;
}
