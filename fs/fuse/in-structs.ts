// The fixed argument structs of FUSE requests (fuse.h's *_in), each
// described once. A request body is one of these, or one followed by
// names (names.ts) or bulk data; requests.ts puts them together.

import { StructValue, nested, opaque, struct, u32, u64 } from './layout';
import { fuseFileLock } from './structs';

export const fuseForgetIn = struct('fuse_forget_in', 8, { nlookup: u64(0) });
export type ForgetIn = StructValue<typeof fuseForgetIn>;

export const fuseForgetOne = struct('fuse_forget_one', 16, { nodeid: u64(0), nlookup: u64(8) });
export type ForgetOne = StructValue<typeof fuseForgetOne>;

export const fuseBatchForgetIn = struct('fuse_batch_forget_in', 8, { count: u32(0) });
export type CountHead = StructValue<typeof fuseBatchForgetIn>;

export const fuseGetattrIn = struct('fuse_getattr_in', 16, { getattr_flags: u32(0), fh: u64(8) });
export type GetattrIn = StructValue<typeof fuseGetattrIn>;

export const fuseSetattrIn = struct('fuse_setattr_in', 88, {
  /** FATTR_* */
  valid: u32(0),
  fh: u64(8), size: u64(16), lock_owner: u64(24), atime: u64(32), mtime: u64(40), ctime: u64(48),
  atimensec: u32(56), mtimensec: u32(60), ctimensec: u32(64), mode: u32(68), uid: u32(76), gid: u32(80),
});
export type SetattrIn = StructValue<typeof fuseSetattrIn>;

export const fuseMknodIn = struct('fuse_mknod_in', 16, { mode: u32(0), rdev: u32(4), umask: u32(8) });
export type MknodArgs = StructValue<typeof fuseMknodIn>;

export const fuseMkdirIn = struct('fuse_mkdir_in', 8, { mode: u32(0), umask: u32(4) });
export type MkdirArgs = StructValue<typeof fuseMkdirIn>;

export const fuseRenameIn = struct('fuse_rename_in', 8, { newdir: u64(0) });
export type RenameArgs = StructValue<typeof fuseRenameIn>;

export const fuseRename2In = struct('fuse_rename2_in', 16, { newdir: u64(0), flags: u32(8) });
export type Rename2Args = StructValue<typeof fuseRename2In>;

export const fuseLinkIn = struct('fuse_link_in', 8, { oldnodeid: u64(0) });
export type LinkArgs = StructValue<typeof fuseLinkIn>;

/** OPEN and OPENDIR. */
export const fuseOpenIn = struct('fuse_open_in', 8, { flags: u32(0), open_flags: u32(4) });
export type OpenIn = StructValue<typeof fuseOpenIn>;

export const fuseCreateIn = struct('fuse_create_in', 16, {
  flags: u32(0), mode: u32(4), umask: u32(8), open_flags: u32(12),
});
export type CreateArgs = StructValue<typeof fuseCreateIn>;

/** RELEASE and RELEASEDIR. */
export const fuseReleaseIn = struct('fuse_release_in', 24, {
  fh: u64(0), flags: u32(8), release_flags: u32(12), lock_owner: u64(16),
});
export type ReleaseIn = StructValue<typeof fuseReleaseIn>;

export const fuseFlushIn = struct('fuse_flush_in', 24, { fh: u64(0), lock_owner: u64(16) });
export type FlushIn = StructValue<typeof fuseFlushIn>;

/** READ, READDIR and READDIRPLUS. */
export const fuseReadIn = struct('fuse_read_in', 40, {
  fh: u64(0), offset: u64(8), size: u32(16), read_flags: u32(20), lock_owner: u64(24), flags: u32(32),
});
export type ReadIn = StructValue<typeof fuseReadIn>;

/** fuse_write_in as on the wire: `size` is the length of the data after it. */
export const fuseWriteIn = struct('fuse_write_in', 40, {
  fh: u64(0), offset: u64(8), size: u32(16), write_flags: u32(20), lock_owner: u64(24), flags: u32(32),
});
export type WriteArgs = StructValue<typeof fuseWriteIn>;

/** FSYNC and FSYNCDIR. */
export const fuseFsyncIn = struct('fuse_fsync_in', 16, { fh: u64(0), fsync_flags: u32(8) });
export type FsyncIn = StructValue<typeof fuseFsyncIn>;

/** fuse_setxattr_in with FUSE_SETXATTR_EXT (16 bytes; 8 without: size, flags). */
export const fuseSetxattrIn = struct('fuse_setxattr_in', 16, { size: u32(0), flags: u32(4), setxattr_flags: u32(8) });
export type SetxattrArgs = StructValue<typeof fuseSetxattrIn>;

/** GETXATTR (then the name) and LISTXATTR: the most bytes the reply may hold. */
export const fuseGetxattrIn = struct('fuse_getxattr_in', 8, { size: u32(0) });
export type GetxattrArgs = StructValue<typeof fuseGetxattrIn>;

/** GETLK, SETLK and SETLKW. */
export const fuseLkIn = struct('fuse_lk_in', 48, {
  fh: u64(0), owner: u64(8), lk: nested(fuseFileLock, 16), lk_flags: u32(40),
});
export type LkIn = StructValue<typeof fuseLkIn>;

export const fuseAccessIn = struct('fuse_access_in', 8, { mask: u32(0) });
export type AccessIn = StructValue<typeof fuseAccessIn>;

export const fuseInterruptIn = struct('fuse_interrupt_in', 8, { unique: u64(0) });
export type InterruptIn = StructValue<typeof fuseInterruptIn>;

export const fuseLseekIn = struct('fuse_lseek_in', 24, { fh: u64(0), offset: u64(8), whence: u32(16) });
export type LseekIn = StructValue<typeof fuseLseekIn>;

export const fuseFallocateIn = struct('fuse_fallocate_in', 32, {
  fh: u64(0), offset: u64(8), length: u64(16), mode: u32(24),
});
export type FallocateIn = StructValue<typeof fuseFallocateIn>;

export const fuseCopyFileRangeIn = struct('fuse_copy_file_range_in', 56, {
  fh_in: u64(0), off_in: u64(8), nodeid_out: u64(16), fh_out: u64(24), off_out: u64(32), len: u64(40), flags: u64(48),
});
export type CopyFileRangeIn = StructValue<typeof fuseCopyFileRangeIn>;

export const fuseSetupmappingIn = struct('fuse_setupmapping_in', 40, {
  fh: u64(0), foffset: u64(8), len: u64(16),
  /** FUSE_SETUPMAPPING_FLAG_WRITE | FUSE_SETUPMAPPING_FLAG_READ */
  flags: u64(24),
  moffset: u64(32),
});
export type SetupmappingIn = StructValue<typeof fuseSetupmappingIn>;

/** fuse_removemapping_in is a bare u32 count: the records start at offset 4. */
export const fuseRemovemappingIn = struct('fuse_removemapping_in', 4, { count: u32(0) });

export const fuseRemovemappingOne = struct('fuse_removemapping_one', 16, { moffset: u64(0), len: u64(8) });
export type RemovemappingOne = StructValue<typeof fuseRemovemappingOne>;

/** fuse_syncfs_in is one u64 of padding. */
export const fuseSyncfsIn = opaque('fuse_syncfs_in', 8);
