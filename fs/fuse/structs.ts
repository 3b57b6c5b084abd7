// Fixed structs shared by several messages: fuse_attr, fuse_entry_out,
// fuse_attr_out, fuse_open_out, fuse_kstatfs, fuse_init_in, fuse_init_out.
// Field names are fuse.h's; u64 fields are bigint, smaller ones number.
// Readers assume the caller checked the struct lies within the buffer.

import { LeReader, LeWriter } from './wire';

export interface Attr {
  ino: bigint;
  size: bigint;
  blocks: bigint;
  atime: bigint;
  mtime: bigint;
  ctime: bigint;
  atimensec: number;
  mtimensec: number;
  ctimensec: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
  /** FUSE_ATTR_SUBMOUNT, FUSE_ATTR_DAX */
  flags: number;
}

export function writeAttr(w: LeWriter, off: number, a: Attr): void {
  w.u64(off, a.ino);
  w.u64(off + 8, a.size);
  w.u64(off + 16, a.blocks);
  w.u64(off + 24, a.atime);
  w.u64(off + 32, a.mtime);
  w.u64(off + 40, a.ctime);
  w.u32(off + 48, a.atimensec);
  w.u32(off + 52, a.mtimensec);
  w.u32(off + 56, a.ctimensec);
  w.u32(off + 60, a.mode);
  w.u32(off + 64, a.nlink);
  w.u32(off + 68, a.uid);
  w.u32(off + 72, a.gid);
  w.u32(off + 76, a.rdev);
  w.u32(off + 80, a.blksize);
  w.u32(off + 84, a.flags);
}

export function readAttr(r: LeReader, off: number): Attr {
  return {
    ino: r.u64(off),
    size: r.u64(off + 8),
    blocks: r.u64(off + 16),
    atime: r.u64(off + 24),
    mtime: r.u64(off + 32),
    ctime: r.u64(off + 40),
    atimensec: r.u32(off + 48),
    mtimensec: r.u32(off + 52),
    ctimensec: r.u32(off + 56),
    mode: r.u32(off + 60),
    nlink: r.u32(off + 64),
    uid: r.u32(off + 68),
    gid: r.u32(off + 72),
    rdev: r.u32(off + 76),
    blksize: r.u32(off + 80),
    flags: r.u32(off + 84),
  };
}

export interface EntryOut {
  nodeid: bigint;
  generation: bigint;
  entry_valid: bigint;
  attr_valid: bigint;
  entry_valid_nsec: number;
  attr_valid_nsec: number;
  attr: Attr;
}

export function writeEntryOut(w: LeWriter, off: number, e: EntryOut): void {
  w.u64(off, e.nodeid);
  w.u64(off + 8, e.generation);
  w.u64(off + 16, e.entry_valid);
  w.u64(off + 24, e.attr_valid);
  w.u32(off + 32, e.entry_valid_nsec);
  w.u32(off + 36, e.attr_valid_nsec);
  writeAttr(w, off + 40, e.attr);
}

export function readEntryOut(r: LeReader, off: number): EntryOut {
  return {
    nodeid: r.u64(off),
    generation: r.u64(off + 8),
    entry_valid: r.u64(off + 16),
    attr_valid: r.u64(off + 24),
    entry_valid_nsec: r.u32(off + 32),
    attr_valid_nsec: r.u32(off + 36),
    attr: readAttr(r, off + 40),
  };
}

export interface AttrOut {
  attr_valid: bigint;
  attr_valid_nsec: number;
  attr: Attr;
}

export function writeAttrOut(w: LeWriter, off: number, a: AttrOut): void {
  w.u64(off, a.attr_valid);
  w.u32(off + 8, a.attr_valid_nsec);
  writeAttr(w, off + 16, a.attr);
}

export function readAttrOut(r: LeReader, off: number): AttrOut {
  return { attr_valid: r.u64(off), attr_valid_nsec: r.u32(off + 8), attr: readAttr(r, off + 16) };
}

export interface OpenOut {
  fh: bigint;
  /** FOPEN_* */
  open_flags: number;
  /** Passthrough backing file id (7.40); padding, so 0, before that. */
  backing_id: number;
}

export function writeOpenOut(w: LeWriter, off: number, o: OpenOut): void {
  w.u64(off, o.fh);
  w.u32(off + 8, o.open_flags);
  w.i32(off + 12, o.backing_id);
}

export function readOpenOut(r: LeReader, off: number): OpenOut {
  return { fh: r.u64(off), open_flags: r.u32(off + 8), backing_id: r.i32(off + 12) };
}

/** fuse_kstatfs, the whole of fuse_statfs_out. */
export interface Kstatfs {
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
  bsize: number;
  namelen: number;
  frsize: number;
}

export function writeKstatfs(w: LeWriter, off: number, s: Kstatfs): void {
  w.u64(off, s.blocks);
  w.u64(off + 8, s.bfree);
  w.u64(off + 16, s.bavail);
  w.u64(off + 24, s.files);
  w.u64(off + 32, s.ffree);
  w.u32(off + 40, s.bsize);
  w.u32(off + 44, s.namelen);
  w.u32(off + 48, s.frsize);
}

export function readKstatfs(r: LeReader, off: number): Kstatfs {
  return {
    blocks: r.u64(off),
    bfree: r.u64(off + 8),
    bavail: r.u64(off + 16),
    files: r.u64(off + 24),
    ffree: r.u64(off + 32),
    bsize: r.u32(off + 40),
    namelen: r.u32(off + 44),
    frsize: r.u32(off + 48),
  };
}

const LOW32 = 0xffffffffn;

/** fuse_init_in. `flags` is flags | flags2 << 32 (flags2 at offset 16). */
export interface InitIn {
  major: number;
  minor: number;
  max_readahead: number;
  flags: bigint;
}

export function writeInitIn(w: LeWriter, off: number, i: InitIn): void {
  w.u32(off, i.major);
  w.u32(off + 4, i.minor);
  w.u32(off + 8, i.max_readahead);
  w.u32(off + 12, Number(i.flags & LOW32));
  w.u32(off + 16, Number((i.flags >> 32n) & LOW32));
}

/** `size` is 64, or 16 from a kernel older than 7.36 (no flags2). */
export function readInitIn(r: LeReader, off: number, size: number): InitIn {
  const flags2 = size >= 20 ? BigInt(r.u32(off + 16)) : 0n;
  return {
    major: r.u32(off),
    minor: r.u32(off + 4),
    max_readahead: r.u32(off + 8),
    flags: BigInt(r.u32(off + 12)) | (flags2 << 32n),
  };
}

/** fuse_init_out. `flags` is flags | flags2 << 32 (flags2 at offset 32);
 *  map_alignment (offset 30) is log2 of the alignment of foffset/moffset. */
export interface InitOut {
  major: number;
  minor: number;
  max_readahead: number;
  flags: bigint;
  max_background: number;
  congestion_threshold: number;
  max_write: number;
  time_gran: number;
  max_pages: number;
  map_alignment: number;
  /** 7.40 (passthrough); 0 otherwise. */
  max_stack_depth: number;
}

export function writeInitOut(w: LeWriter, off: number, i: InitOut): void {
  w.u32(off, i.major);
  w.u32(off + 4, i.minor);
  w.u32(off + 8, i.max_readahead);
  w.u32(off + 12, Number(i.flags & LOW32));
  w.u16(off + 16, i.max_background);
  w.u16(off + 18, i.congestion_threshold);
  w.u32(off + 20, i.max_write);
  w.u32(off + 24, i.time_gran);
  w.u16(off + 28, i.max_pages);
  w.u16(off + 30, i.map_alignment);
  w.u32(off + 32, Number((i.flags >> 32n) & LOW32));
  w.u32(off + 36, i.max_stack_depth);
}

/** `size` is 64, or a compat size (8 or 24); absent fields read as 0. */
export function readInitOut(r: LeReader, off: number, size: number): InitOut {
  const at16 = (o: number): number => (o + 2 <= size ? r.u16(off + o) : 0);
  const at32 = (o: number): number => (o + 4 <= size ? r.u32(off + o) : 0);
  return {
    major: at32(0),
    minor: at32(4),
    max_readahead: at32(8),
    flags: BigInt(at32(12)) | (BigInt(at32(32)) << 32n),
    max_background: at16(16),
    congestion_threshold: at16(18),
    max_write: at32(20),
    time_gran: at32(24),
    max_pages: at16(28),
    map_alignment: at16(30),
    max_stack_depth: at32(36),
  };
}
