// Constants of the FUSE kernel interface, from Linux
// include/uapi/linux/fuse.h. Opcodes, flag bits and struct sizes are exactly
// the header's; where the header keeps a 64-bit quantity the value is a
// bigint.

/** Protocol version the codec speaks (7.38: fuse_in_header.total_extlen). */
export const FUSE_KERNEL_VERSION = 7;
export const FUSE_KERNEL_MINOR_VERSION = 38;
/** Oldest minor with flags2, FUSE_HAS_INODE_DAX and FUSE_ATTR_DAX. */
export const FUSE_MIN_MINOR_VERSION = 36;

export const FUSE_ROOT_ID = 1n;

// enum fuse_opcode (the ones the codec carries)
export const FUSE_LOOKUP = 1;
export const FUSE_FORGET = 2; // no reply
export const FUSE_GETATTR = 3;
export const FUSE_SETATTR = 4;
export const FUSE_READLINK = 5;
export const FUSE_SYMLINK = 6;
export const FUSE_MKNOD = 8;
export const FUSE_MKDIR = 9;
export const FUSE_UNLINK = 10;
export const FUSE_RMDIR = 11;
export const FUSE_RENAME = 12;
export const FUSE_LINK = 13;
export const FUSE_OPEN = 14;
export const FUSE_READ = 15;
export const FUSE_WRITE = 16;
export const FUSE_STATFS = 17;
export const FUSE_RELEASE = 18;
export const FUSE_FSYNC = 20;
export const FUSE_SETXATTR = 21;
export const FUSE_GETXATTR = 22;
export const FUSE_LISTXATTR = 23;
export const FUSE_REMOVEXATTR = 24;
export const FUSE_FLUSH = 25;
export const FUSE_INIT = 26;
export const FUSE_OPENDIR = 27;
export const FUSE_READDIR = 28;
export const FUSE_RELEASEDIR = 29;
export const FUSE_FSYNCDIR = 30;
export const FUSE_GETLK = 31;
export const FUSE_SETLK = 32;
export const FUSE_SETLKW = 33;
export const FUSE_ACCESS = 34;
export const FUSE_CREATE = 35;
export const FUSE_INTERRUPT = 36;
export const FUSE_DESTROY = 38;
export const FUSE_BATCH_FORGET = 42; // no reply
export const FUSE_FALLOCATE = 43;
export const FUSE_READDIRPLUS = 44;
export const FUSE_RENAME2 = 45;
export const FUSE_LSEEK = 46;
export const FUSE_COPY_FILE_RANGE = 47;
export const FUSE_SETUPMAPPING = 48;
export const FUSE_REMOVEMAPPING = 49;
export const FUSE_SYNCFS = 50;

const opcodeNames: Record<number, string> = {
  1: 'LOOKUP', 2: 'FORGET', 3: 'GETATTR', 4: 'SETATTR', 5: 'READLINK', 6: 'SYMLINK',
  8: 'MKNOD', 9: 'MKDIR', 10: 'UNLINK', 11: 'RMDIR', 12: 'RENAME', 13: 'LINK',
  14: 'OPEN', 15: 'READ', 16: 'WRITE', 17: 'STATFS', 18: 'RELEASE', 20: 'FSYNC',
  21: 'SETXATTR', 22: 'GETXATTR', 23: 'LISTXATTR', 24: 'REMOVEXATTR', 25: 'FLUSH',
  26: 'INIT', 27: 'OPENDIR', 28: 'READDIR', 29: 'RELEASEDIR', 30: 'FSYNCDIR',
  31: 'GETLK', 32: 'SETLK', 33: 'SETLKW', 34: 'ACCESS', 35: 'CREATE', 36: 'INTERRUPT',
  37: 'BMAP', 38: 'DESTROY', 39: 'IOCTL', 40: 'POLL', 41: 'NOTIFY_REPLY',
  42: 'BATCH_FORGET', 43: 'FALLOCATE', 44: 'READDIRPLUS', 45: 'RENAME2', 46: 'LSEEK',
  47: 'COPY_FILE_RANGE', 48: 'SETUPMAPPING', 49: 'REMOVEMAPPING', 50: 'SYNCFS',
  51: 'TMPFILE', 52: 'STATX',
};

/** "FUSE_LOOKUP" for 1; "FUSE_OP_<n>" for an opcode the table does not know. */
export function opcodeName(opcode: number): string {
  const n = opcodeNames[opcode];
  return n === undefined ? `FUSE_OP_${opcode}` : `FUSE_${n}`;
}

// INIT flags. The wire splits them into fuse_init_{in,out}.flags (bits 0..31)
// and .flags2 (bits 32..63, sent only with FUSE_INIT_EXT); the codec joins
// them into one 64-bit value, as the kernel does.
export const FUSE_ASYNC_READ = 1n << 0n;
export const FUSE_POSIX_LOCKS = 1n << 1n;
export const FUSE_FILE_OPS = 1n << 2n;
export const FUSE_ATOMIC_O_TRUNC = 1n << 3n;
export const FUSE_EXPORT_SUPPORT = 1n << 4n;
export const FUSE_BIG_WRITES = 1n << 5n;
export const FUSE_DONT_MASK = 1n << 6n;
export const FUSE_SPLICE_WRITE = 1n << 7n;
export const FUSE_SPLICE_MOVE = 1n << 8n;
export const FUSE_SPLICE_READ = 1n << 9n;
export const FUSE_FLOCK_LOCKS = 1n << 10n;
export const FUSE_HAS_IOCTL_DIR = 1n << 11n;
export const FUSE_AUTO_INVAL_DATA = 1n << 12n;
export const FUSE_DO_READDIRPLUS = 1n << 13n;
export const FUSE_READDIRPLUS_AUTO = 1n << 14n;
export const FUSE_ASYNC_DIO = 1n << 15n;
export const FUSE_WRITEBACK_CACHE = 1n << 16n;
export const FUSE_NO_OPEN_SUPPORT = 1n << 17n;
export const FUSE_PARALLEL_DIROPS = 1n << 18n;
export const FUSE_HANDLE_KILLPRIV = 1n << 19n;
export const FUSE_POSIX_ACL = 1n << 20n;
export const FUSE_ABORT_ERROR = 1n << 21n;
export const FUSE_MAX_PAGES = 1n << 22n;
export const FUSE_CACHE_SYMLINKS = 1n << 23n;
export const FUSE_NO_OPENDIR_SUPPORT = 1n << 24n;
export const FUSE_EXPLICIT_INVAL_DATA = 1n << 25n;
export const FUSE_MAP_ALIGNMENT = 1n << 26n;
export const FUSE_SUBMOUNTS = 1n << 27n;
export const FUSE_HANDLE_KILLPRIV_V2 = 1n << 28n;
export const FUSE_SETXATTR_EXT = 1n << 29n;
export const FUSE_INIT_EXT = 1n << 30n;
export const FUSE_INIT_RESERVED = 1n << 31n;
export const FUSE_SECURITY_CTX = 1n << 32n;
export const FUSE_HAS_INODE_DAX = 1n << 33n;
export const FUSE_CREATE_SUPP_GROUP = 1n << 34n;
export const FUSE_HAS_EXPIRE_ONLY = 1n << 35n;
export const FUSE_DIRECT_IO_ALLOW_MMAP = 1n << 36n;

// fuse_attr.flags
export const FUSE_ATTR_SUBMOUNT = 1 << 0;
export const FUSE_ATTR_DAX = 1 << 1;

// fuse_setattr_in.valid
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;
export const FATTR_ATIME = 1 << 4;
export const FATTR_MTIME = 1 << 5;
export const FATTR_FH = 1 << 6;
export const FATTR_ATIME_NOW = 1 << 7;
export const FATTR_MTIME_NOW = 1 << 8;
export const FATTR_LOCKOWNER = 1 << 9;
export const FATTR_CTIME = 1 << 10;
export const FATTR_KILL_SUIDGID = 1 << 11;

// fuse_open_out.open_flags
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;
export const FOPEN_CACHE_DIR = 1 << 3;
export const FOPEN_STREAM = 1 << 4;
export const FOPEN_NOFLUSH = 1 << 5;
export const FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;

// fuse_open_in.open_flags / fuse_create_in.open_flags
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;

export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
export const FUSE_GETATTR_FH = 1 << 0;
export const FUSE_WRITE_CACHE = 1 << 0;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
export const FUSE_READ_LOCKOWNER = 1 << 1;
export const FUSE_FSYNC_FDATASYNC = 1 << 0;
/** fuse_lk_in.lk_flags: the lock is a flock(2) lock, not a POSIX record lock. */
export const FUSE_LK_FLOCK = 1 << 0;
/** fuse_setxattr_in.setxattr_flags (with FUSE_SETXATTR_EXT). */
export const FUSE_SETXATTR_ACL_KILL_SGID = 1 << 0;
/** fuse_setxattr_in without FUSE_SETXATTR_EXT: size and flags only. The
 *  client here never asks for the extension and the server never grants it. */
export const FUSE_COMPAT_SETXATTR_IN_SIZE = 8;

// fuse_setupmapping_in.flags (u64)
export const FUSE_SETUPMAPPING_FLAG_WRITE = 1n << 0n;
export const FUSE_SETUPMAPPING_FLAG_READ = 1n << 1n;

// dirent types: fuse_dirent.type is the DT_* of <dirent.h>, as the VFS has them
export { DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK } from '../../core/vfs/stat';

// Limits
/** Longest entry name (Linux FUSE_NAME_MAX). */
export const FUSE_NAME_MAX = 1024;
/** Longest extended attribute name (Linux XATTR_NAME_MAX). */
export const FUSE_XATTR_NAME_MAX = 255;
/** Largest extended attribute value and listing (XATTR_SIZE_MAX, XATTR_LIST_MAX). */
export const FUSE_XATTR_SIZE_MAX = 65536;
/** Longest symlink target with its NUL (PATH_MAX). */
export const FUSE_PATH_MAX = 4096;
export const FUSE_MIN_READ_BUFFER = 8192;
/** PAGE_SIZE / sizeof(struct fuse_removemapping_one), with 4 KiB pages. */
export const FUSE_REMOVEMAPPING_MAX_ENTRY = 4096 / 16;
/** Largest errno a reply may carry (Linux MAX_ERRNO). */
export const FUSE_MAX_ERRNO = 4095;

/** FUSE_DIRENT_ALIGN / FUSE_REC_ALIGN: records are padded to 8 bytes. */
export function fuseDirentAlign(x: number): number {
  return (x + 7) & ~7;
}
