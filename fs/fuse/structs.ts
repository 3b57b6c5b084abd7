// The fuse.h structs both sides share and the reply structs, each described
// once as a table (layout.ts derives reader, writer and size). Field names
// are fuse.h's; u64 fields are bigint, smaller ones number. The request
// argument structs are in in-structs.ts.

import { StructValue, i32, nested, struct, u16, u32, u64, u64split } from './layout';

export const fuseInHeader = struct('fuse_in_header', 40, {
  /** Bytes of the whole request: header, args, data and extensions. */
  len: u32(0),
  opcode: u32(4), unique: u64(8), nodeid: u64(16), uid: u32(24), gid: u32(28), pid: u32(32),
  /** Length of the extensions at the end of the request, in 8-byte units. */
  total_extlen: u16(36),
});
export type InHeader = StructValue<typeof fuseInHeader>;

export const fuseOutHeader = struct('fuse_out_header', 16, {
  len: u32(0),
  /** 0, or a negated errno in [-4095, -1]. */
  error: i32(4),
  unique: u64(8),
});
export type OutHeader = StructValue<typeof fuseOutHeader>;

export const fuseAttr = struct('fuse_attr', 88, {
  ino: u64(0), size: u64(8), blocks: u64(16), atime: u64(24), mtime: u64(32), ctime: u64(40),
  atimensec: u32(48), mtimensec: u32(52), ctimensec: u32(56), mode: u32(60), nlink: u32(64), uid: u32(68),
  gid: u32(72), rdev: u32(76), blksize: u32(80),
  /** FUSE_ATTR_SUBMOUNT, FUSE_ATTR_DAX */
  flags: u32(84),
});
export type Attr = StructValue<typeof fuseAttr>;

export const fuseEntryOut = struct('fuse_entry_out', 128, {
  nodeid: u64(0), generation: u64(8), entry_valid: u64(16), attr_valid: u64(24),
  entry_valid_nsec: u32(32), attr_valid_nsec: u32(36), attr: nested(fuseAttr, 40),
});
export type EntryOut = StructValue<typeof fuseEntryOut>;

export const fuseAttrOut = struct('fuse_attr_out', 104, {
  attr_valid: u64(0), attr_valid_nsec: u32(8), attr: nested(fuseAttr, 16),
});
export type AttrOut = StructValue<typeof fuseAttrOut>;

export const fuseOpenOut = struct('fuse_open_out', 16, {
  fh: u64(0),
  /** FOPEN_* */
  open_flags: u32(8),
  /** Passthrough backing file id (7.40); padding, so 0, before that. */
  backing_id: i32(12, 'padding'),
});
export type OpenOut = StructValue<typeof fuseOpenOut>;

/** fuse_kstatfs, the whole of fuse_statfs_out. */
export const fuseKstatfs = struct('fuse_kstatfs', 80, {
  blocks: u64(0), bfree: u64(8), bavail: u64(16), files: u64(24), ffree: u64(32),
  bsize: u32(40), namelen: u32(44), frsize: u32(48),
});
export type Kstatfs = StructValue<typeof fuseKstatfs>;

/** fuse_init_in. `flags` is flags | flags2 << 32 (flags2 at offset 16). */
export const fuseInitIn = struct('fuse_init_in', 64, {
  major: u32(0), minor: u32(4), max_readahead: u32(8), flags: u64split(12, 16, 'flags2'),
});
export type InitIn = StructValue<typeof fuseInitIn>;

/** fuse_init_out. `flags` is flags | flags2 << 32 (flags2 at offset 32);
 *  map_alignment (offset 30) is log2 of the alignment of foffset/moffset. */
export const fuseInitOut = struct('fuse_init_out', 64, {
  major: u32(0), minor: u32(4), max_readahead: u32(8), flags: u64split(12, 32, 'flags2'),
  max_background: u16(16), congestion_threshold: u16(18), max_write: u32(20), time_gran: u32(24),
  max_pages: u16(28), map_alignment: u16(30),
  /** 7.40 (passthrough); 0 otherwise. */
  max_stack_depth: u32(36, 'unused[0]'),
});
export type InitOut = StructValue<typeof fuseInitOut>;

export const fuseWriteOut = struct('fuse_write_out', 8, { size: u32(0) });
export type WriteOut = StructValue<typeof fuseWriteOut>;

export const fuseLseekOut = struct('fuse_lseek_out', 8, { offset: u64(0) });
export type LseekOut = StructValue<typeof fuseLseekOut>;

/** GETXATTR and LISTXATTR with size 0: the size the value needs. */
export const fuseGetxattrOut = struct('fuse_getxattr_out', 8, { size: u32(0) });
export type GetxattrOut = StructValue<typeof fuseGetxattrOut>;

/** A POSIX record lock (fuse_file_lock): [start, end] inclusive, type F_RDLCK/F_WRLCK/F_UNLCK. */
export const fuseFileLock = struct('fuse_file_lock', 24, { start: u64(0), end: u64(8), type: u32(16), pid: u32(20) });
export type FileLock = StructValue<typeof fuseFileLock>;

export const fuseLkOut = struct('fuse_lk_out', 24, { lk: nested(fuseFileLock, 0) });
export type LkOut = StructValue<typeof fuseLkOut>;

/** The fixed head of a READDIR record; the name follows at FUSE_NAME_OFFSET. */
export const fuseDirent = struct('fuse_dirent', 24, {
  ino: u64(0),
  /** Offset of the next entry: what the next READDIR passes as offset. */
  off: u64(8),
  namelen: u32(16),
  /** DT_* */
  type: u32(20),
});
export type DirentHead = StructValue<typeof fuseDirent>;

/** Struct sizes (sizeof in fuse.h), from the tables. */
export const FUSE_IN_HEADER_SIZE = fuseInHeader.size;
export const FUSE_OUT_HEADER_SIZE = fuseOutHeader.size;
export const FUSE_ATTR_SIZE = fuseAttr.size;
export const FUSE_KSTATFS_SIZE = fuseKstatfs.size;
export const FUSE_ENTRY_OUT_SIZE = fuseEntryOut.size;
export const FUSE_ATTR_OUT_SIZE = fuseAttrOut.size;
export const FUSE_OPEN_OUT_SIZE = fuseOpenOut.size;
export const FUSE_WRITE_OUT_SIZE = fuseWriteOut.size;
export const FUSE_STATFS_OUT_SIZE = FUSE_KSTATFS_SIZE;
export const FUSE_LSEEK_OUT_SIZE = fuseLseekOut.size;
export const FUSE_INIT_IN_SIZE = fuseInitIn.size;
export const FUSE_INIT_OUT_SIZE = fuseInitOut.size;
/** fuse_init_in before 7.36 (no flags2): older kernels send this size. */
export const FUSE_COMPAT_INIT_IN_SIZE = 16;
export const FUSE_COMPAT_INIT_OUT_SIZE = 8;
export const FUSE_COMPAT_22_INIT_OUT_SIZE = 24;
/** offsetof(struct fuse_dirent, name) */
export const FUSE_NAME_OFFSET = fuseDirent.size;
/** offsetof(struct fuse_direntplus, dirent.name) */
export const FUSE_NAME_OFFSET_DIRENTPLUS = FUSE_ENTRY_OUT_SIZE + FUSE_NAME_OFFSET;
