// FUSE requests: fuse_in_header, the opcode's args, then bulk data (WRITE)
// and extensions (total_extlen). The driver encodes them; the device
// model's server decodes them. In virtio-fs this is the request's
// device-readable part.

import { Errno, ErrnoError } from '../../core/errno';
import { Decoded, Reject, guard } from './decoded';
import { InHeader, checkedInHeader, writeInHeader } from './headers';
import * as K from './kernel';
import { ENTRY_NAME, LINK_TARGET, NameRule, checkName, readName, writeName } from './names';
import { InitIn, readInitIn, writeInitIn } from './structs';
import { LeReader, LeWriter } from './wire';

/** Body of LOOKUP, UNLINK, RMDIR. */
export interface NameIn { name: Uint8Array }
export interface ForgetIn { nlookup: bigint }
export interface ForgetOne { nodeid: bigint; nlookup: bigint }
export interface BatchForgetIn { forgets: ForgetOne[] }
export interface GetattrIn { getattr_flags: number; fh: bigint }
export interface SetattrIn {
  /** FATTR_* */
  valid: number;
  fh: bigint;
  size: bigint;
  lock_owner: bigint;
  atime: bigint;
  mtime: bigint;
  ctime: bigint;
  atimensec: number;
  mtimensec: number;
  ctimensec: number;
  mode: number;
  uid: number;
  gid: number;
}
/** SYMLINK: the new entry's name, then the target it points to. */
export interface SymlinkIn { name: Uint8Array; link: Uint8Array }
export interface MknodIn { mode: number; rdev: number; umask: number; name: Uint8Array }
export interface MkdirIn { mode: number; umask: number; name: Uint8Array }
export interface RenameIn { newdir: bigint; oldname: Uint8Array; newname: Uint8Array }
export interface Rename2In { newdir: bigint; flags: number; oldname: Uint8Array; newname: Uint8Array }
export interface LinkIn { oldnodeid: bigint; newname: Uint8Array }
/** OPEN and OPENDIR. */
export interface OpenIn { flags: number; open_flags: number }
/** READ, READDIR and READDIRPLUS. */
export interface ReadIn {
  fh: bigint;
  offset: bigint;
  size: number;
  read_flags: number;
  lock_owner: bigint;
  flags: number;
}
/** fuse_write_in then the data; size is data.length. */
export interface WriteIn {
  fh: bigint;
  offset: bigint;
  write_flags: number;
  lock_owner: bigint;
  flags: number;
  /** Decoded: a view into the request buffer, not a copy. */
  data: Uint8Array;
}
/** RELEASE and RELEASEDIR. */
export interface ReleaseIn { fh: bigint; flags: number; release_flags: number; lock_owner: bigint }
export interface FsyncIn { fh: bigint; fsync_flags: number }
export interface FlushIn { fh: bigint; lock_owner: bigint }
export interface CreateIn { flags: number; mode: number; umask: number; open_flags: number; name: Uint8Array }
export interface InterruptIn { unique: bigint }
export interface LseekIn { fh: bigint; offset: bigint; whence: number }
export interface FallocateIn { fh: bigint; offset: bigint; length: bigint; mode: number }
export interface SetupmappingIn {
  fh: bigint;
  foffset: bigint;
  len: bigint;
  /** FUSE_SETUPMAPPING_FLAG_WRITE | FUSE_SETUPMAPPING_FLAG_READ */
  flags: bigint;
  moffset: bigint;
}
export interface RemovemappingOne { moffset: bigint; len: bigint }
export interface RemovemappingIn { mappings: RemovemappingOne[] }

/** The body each opcode's request carries; null for none. */
export interface RequestBodies {
  [K.FUSE_INIT]: InitIn;
  [K.FUSE_LOOKUP]: NameIn;
  [K.FUSE_FORGET]: ForgetIn;
  [K.FUSE_BATCH_FORGET]: BatchForgetIn;
  [K.FUSE_GETATTR]: GetattrIn;
  [K.FUSE_SETATTR]: SetattrIn;
  [K.FUSE_READLINK]: null;
  [K.FUSE_SYMLINK]: SymlinkIn;
  [K.FUSE_MKNOD]: MknodIn;
  [K.FUSE_MKDIR]: MkdirIn;
  [K.FUSE_UNLINK]: NameIn;
  [K.FUSE_RMDIR]: NameIn;
  [K.FUSE_RENAME]: RenameIn;
  [K.FUSE_RENAME2]: Rename2In;
  [K.FUSE_LINK]: LinkIn;
  [K.FUSE_OPEN]: OpenIn;
  [K.FUSE_READ]: ReadIn;
  [K.FUSE_WRITE]: WriteIn;
  [K.FUSE_STATFS]: null;
  [K.FUSE_RELEASE]: ReleaseIn;
  [K.FUSE_FSYNC]: FsyncIn;
  [K.FUSE_FLUSH]: FlushIn;
  [K.FUSE_OPENDIR]: OpenIn;
  [K.FUSE_READDIR]: ReadIn;
  [K.FUSE_READDIRPLUS]: ReadIn;
  [K.FUSE_RELEASEDIR]: ReleaseIn;
  [K.FUSE_CREATE]: CreateIn;
  [K.FUSE_INTERRUPT]: InterruptIn;
  [K.FUSE_DESTROY]: null;
  [K.FUSE_LSEEK]: LseekIn;
  [K.FUSE_FALLOCATE]: FallocateIn;
  [K.FUSE_SYNCFS]: null;
  [K.FUSE_SETUPMAPPING]: SetupmappingIn;
  [K.FUSE_REMOVEMAPPING]: RemovemappingIn;
}

/** The opcodes the codec carries. */
export type Opcode = keyof RequestBodies;

export interface Request<O extends Opcode = Opcode> {
  opcode: O;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
  body: RequestBodies[O];
  /** Request extensions (security context, supplementary groups), opaque;
   *  a multiple of 8 bytes. Absent when total_extlen is 0. */
  ext?: Uint8Array;
}

/** A request of any opcode, discriminated by `opcode`. */
export type AnyRequest = { [O in Opcode]: Request<O> }[Opcode];

interface BodyCodec<T> {
  /** Bytes of the args, bulk data excluded. */
  size(b: T): number;
  /** Write the args at off (names checked: throws ErrnoError). */
  write(w: LeWriter, off: number, b: T): void;
  /** Bulk data that follows the args (WRITE). */
  tail?(b: T): Uint8Array;
  /** Read a body that must fill [off, end) exactly. */
  read(r: LeReader, off: number, end: number): T;
}

function exact(r: LeReader, off: number, end: number, size: number, what: string): void {
  if (end - off < size) r.fail(`${what}: ${end - off} bytes, needs ${size}`);
  if (end - off > size) r.fail(`${what}: ${end - off - size} trailing bytes`);
}

/** A body that is one fixed struct. */
function fixed<T>(size: number, what: string, write: (w: LeWriter, off: number, b: T) => void,
  read: (r: LeReader, off: number) => T): BodyCodec<T> {
  return {
    size: () => size,
    write,
    read(r, off, end) { exact(r, off, end, size, what); return read(r, off); },
  };
}

/** A fixed struct (maybe empty) followed by NUL-terminated names. */
function named<T>(size: number, what: string, names: ReadonlyArray<[keyof T & string, NameRule]>,
  write: (w: LeWriter, off: number, b: T) => void,
  read: (r: LeReader, off: number) => Omit<T, string>): BodyCodec<T> {
  const get = (b: T, k: keyof T): Uint8Array => b[k] as unknown as Uint8Array;
  return {
    size(b) {
      let n = size;
      for (const [k, rule] of names) { checkName(get(b, k), rule); n += get(b, k).length + 1; }
      return n;
    },
    write(w, off, b) {
      write(w, off, b);
      let at = off + size;
      for (const [k] of names) at = writeName(w, at, get(b, k));
    },
    read(r, off, end) {
      r.need(off, size, what, end);
      const body = read(r, off) as Record<string, unknown>;
      let at = off + size;
      for (const [k, rule] of names) {
        const { name, next } = readName(r, at, end, rule);
        body[k] = name;
        at = next;
      }
      if (at !== end) r.fail(`${what}: ${end - at} bytes after the last name`);
      return body as T;
    },
  };
}

const none: BodyCodec<null> = {
  size: () => 0,
  write: () => undefined,
  read(r, off, end) { exact(r, off, end, 0, 'empty body'); return null; },
};

const nameOnly = named<NameIn>(0, 'name', [['name', ENTRY_NAME]], () => undefined, () => ({}));

const openIn = fixed<OpenIn>(K.FUSE_OPEN_IN_SIZE, 'fuse_open_in',
  (w, o, b) => { w.u32(o, b.flags); w.u32(o + 4, b.open_flags); },
  (r, o) => ({ flags: r.u32(o), open_flags: r.u32(o + 4) }));

const readIn = fixed<ReadIn>(K.FUSE_READ_IN_SIZE, 'fuse_read_in',
  (w, o, b) => {
    w.u64(o, b.fh); w.u64(o + 8, b.offset); w.u32(o + 16, b.size); w.u32(o + 20, b.read_flags);
    w.u64(o + 24, b.lock_owner); w.u32(o + 32, b.flags);
  },
  (r, o) => ({
    fh: r.u64(o), offset: r.u64(o + 8), size: r.u32(o + 16), read_flags: r.u32(o + 20),
    lock_owner: r.u64(o + 24), flags: r.u32(o + 32),
  }));

const releaseIn = fixed<ReleaseIn>(K.FUSE_RELEASE_IN_SIZE, 'fuse_release_in',
  (w, o, b) => { w.u64(o, b.fh); w.u32(o + 8, b.flags); w.u32(o + 12, b.release_flags); w.u64(o + 16, b.lock_owner); },
  (r, o) => ({ fh: r.u64(o), flags: r.u32(o + 8), release_flags: r.u32(o + 12), lock_owner: r.u64(o + 16) }));

/** A count-prefixed array of 16-byte records. */
function counted<T, E>(head: number, what: string, items: (b: T) => E[], make: (list: E[]) => T,
  writeOne: (w: LeWriter, off: number, e: E) => void, readOne: (r: LeReader, off: number) => E): BodyCodec<T> {
  const ONE = 16;
  return {
    size: (b) => head + items(b).length * ONE,
    write(w, off, b) {
      const list = items(b);
      w.u32(off, list.length);
      for (let i = 0; i < list.length; i++) writeOne(w, off + head + i * ONE, list[i]!);
    },
    read(r, off, end) {
      r.need(off, head, what, end);
      const count = r.u32(off);
      const avail = end - off - head;
      if (count * ONE > avail) r.fail(`${what}: count ${count} overruns the ${avail} bytes that follow`);
      if (count * ONE < avail) r.fail(`${what}: ${avail - count * ONE} trailing bytes after ${count} entries`);
      const list: E[] = new Array(count);
      for (let i = 0; i < count; i++) list[i] = readOne(r, off + head + i * ONE);
      return make(list);
    },
  };
}

const codecs: { [O in Opcode]: BodyCodec<RequestBodies[O]> } = {
  [K.FUSE_INIT]: {
    size: () => K.FUSE_INIT_IN_SIZE,
    write: writeInitIn,
    read(r, off, end) {
      const n = end - off;
      // Kernels before 7.36 send the 16-byte struct without flags2.
      if (n !== K.FUSE_INIT_IN_SIZE && n !== K.FUSE_COMPAT_INIT_IN_SIZE) r.fail(`fuse_init_in of ${n} bytes`);
      return readInitIn(r, off, n);
    },
  },
  [K.FUSE_LOOKUP]: nameOnly,
  [K.FUSE_FORGET]: fixed<ForgetIn>(K.FUSE_FORGET_IN_SIZE, 'fuse_forget_in',
    (w, o, b) => w.u64(o, b.nlookup), (r, o) => ({ nlookup: r.u64(o) })),
  [K.FUSE_BATCH_FORGET]: counted<BatchForgetIn, ForgetOne>(K.FUSE_BATCH_FORGET_IN_SIZE, 'fuse_batch_forget_in',
    (b) => b.forgets, (forgets) => ({ forgets }),
    (w, o, e) => { w.u64(o, e.nodeid); w.u64(o + 8, e.nlookup); },
    (r, o) => ({ nodeid: r.u64(o), nlookup: r.u64(o + 8) })),
  [K.FUSE_GETATTR]: fixed<GetattrIn>(K.FUSE_GETATTR_IN_SIZE, 'fuse_getattr_in',
    (w, o, b) => { w.u32(o, b.getattr_flags); w.u64(o + 8, b.fh); },
    (r, o) => ({ getattr_flags: r.u32(o), fh: r.u64(o + 8) })),
  [K.FUSE_SETATTR]: fixed<SetattrIn>(K.FUSE_SETATTR_IN_SIZE, 'fuse_setattr_in',
    (w, o, b) => {
      w.u32(o, b.valid); w.u64(o + 8, b.fh); w.u64(o + 16, b.size); w.u64(o + 24, b.lock_owner);
      w.u64(o + 32, b.atime); w.u64(o + 40, b.mtime); w.u64(o + 48, b.ctime);
      w.u32(o + 56, b.atimensec); w.u32(o + 60, b.mtimensec); w.u32(o + 64, b.ctimensec);
      w.u32(o + 68, b.mode); w.u32(o + 76, b.uid); w.u32(o + 80, b.gid);
    },
    (r, o) => ({
      valid: r.u32(o), fh: r.u64(o + 8), size: r.u64(o + 16), lock_owner: r.u64(o + 24),
      atime: r.u64(o + 32), mtime: r.u64(o + 40), ctime: r.u64(o + 48),
      atimensec: r.u32(o + 56), mtimensec: r.u32(o + 60), ctimensec: r.u32(o + 64),
      mode: r.u32(o + 68), uid: r.u32(o + 76), gid: r.u32(o + 80),
    })),
  [K.FUSE_READLINK]: none,
  [K.FUSE_SYMLINK]: named<SymlinkIn>(0, 'symlink', [['name', ENTRY_NAME], ['link', LINK_TARGET]],
    () => undefined, () => ({})),
  [K.FUSE_MKNOD]: named<MknodIn>(K.FUSE_MKNOD_IN_SIZE, 'fuse_mknod_in', [['name', ENTRY_NAME]],
    (w, o, b) => { w.u32(o, b.mode); w.u32(o + 4, b.rdev); w.u32(o + 8, b.umask); },
    (r, o) => ({ mode: r.u32(o), rdev: r.u32(o + 4), umask: r.u32(o + 8) })),
  [K.FUSE_MKDIR]: named<MkdirIn>(K.FUSE_MKDIR_IN_SIZE, 'fuse_mkdir_in', [['name', ENTRY_NAME]],
    (w, o, b) => { w.u32(o, b.mode); w.u32(o + 4, b.umask); },
    (r, o) => ({ mode: r.u32(o), umask: r.u32(o + 4) })),
  [K.FUSE_UNLINK]: nameOnly,
  [K.FUSE_RMDIR]: nameOnly,
  [K.FUSE_RENAME]: named<RenameIn>(K.FUSE_RENAME_IN_SIZE, 'fuse_rename_in',
    [['oldname', ENTRY_NAME], ['newname', ENTRY_NAME]],
    (w, o, b) => w.u64(o, b.newdir), (r, o) => ({ newdir: r.u64(o) })),
  [K.FUSE_RENAME2]: named<Rename2In>(K.FUSE_RENAME2_IN_SIZE, 'fuse_rename2_in',
    [['oldname', ENTRY_NAME], ['newname', ENTRY_NAME]],
    (w, o, b) => { w.u64(o, b.newdir); w.u32(o + 8, b.flags); },
    (r, o) => ({ newdir: r.u64(o), flags: r.u32(o + 8) })),
  [K.FUSE_LINK]: named<LinkIn>(K.FUSE_LINK_IN_SIZE, 'fuse_link_in', [['newname', ENTRY_NAME]],
    (w, o, b) => w.u64(o, b.oldnodeid), (r, o) => ({ oldnodeid: r.u64(o) })),
  [K.FUSE_OPEN]: openIn,
  [K.FUSE_READ]: readIn,
  [K.FUSE_WRITE]: {
    size: () => K.FUSE_WRITE_IN_SIZE,
    write(w, o, b) {
      w.u64(o, b.fh); w.u64(o + 8, b.offset); w.u32(o + 16, b.data.length); w.u32(o + 20, b.write_flags);
      w.u64(o + 24, b.lock_owner); w.u32(o + 32, b.flags);
    },
    tail: (b) => b.data,
    read(r, o, end) {
      r.need(o, K.FUSE_WRITE_IN_SIZE, 'fuse_write_in', end);
      const size = r.u32(o + 16);
      const avail = end - o - K.FUSE_WRITE_IN_SIZE;
      if (size !== avail) r.fail(`fuse_write_in.size ${size} disagrees with the ${avail} data bytes`);
      return {
        fh: r.u64(o), offset: r.u64(o + 8), write_flags: r.u32(o + 20), lock_owner: r.u64(o + 24),
        flags: r.u32(o + 32), data: r.view(o + K.FUSE_WRITE_IN_SIZE, end),
      };
    },
  },
  [K.FUSE_STATFS]: none,
  [K.FUSE_RELEASE]: releaseIn,
  [K.FUSE_FSYNC]: fixed<FsyncIn>(K.FUSE_FSYNC_IN_SIZE, 'fuse_fsync_in',
    (w, o, b) => { w.u64(o, b.fh); w.u32(o + 8, b.fsync_flags); },
    (r, o) => ({ fh: r.u64(o), fsync_flags: r.u32(o + 8) })),
  [K.FUSE_FLUSH]: fixed<FlushIn>(K.FUSE_FLUSH_IN_SIZE, 'fuse_flush_in',
    (w, o, b) => { w.u64(o, b.fh); w.u64(o + 16, b.lock_owner); },
    (r, o) => ({ fh: r.u64(o), lock_owner: r.u64(o + 16) })),
  [K.FUSE_OPENDIR]: openIn,
  [K.FUSE_READDIR]: readIn,
  [K.FUSE_READDIRPLUS]: readIn,
  [K.FUSE_RELEASEDIR]: releaseIn,
  [K.FUSE_CREATE]: named<CreateIn>(K.FUSE_CREATE_IN_SIZE, 'fuse_create_in', [['name', ENTRY_NAME]],
    (w, o, b) => { w.u32(o, b.flags); w.u32(o + 4, b.mode); w.u32(o + 8, b.umask); w.u32(o + 12, b.open_flags); },
    (r, o) => ({ flags: r.u32(o), mode: r.u32(o + 4), umask: r.u32(o + 8), open_flags: r.u32(o + 12) })),
  [K.FUSE_INTERRUPT]: fixed<InterruptIn>(K.FUSE_INTERRUPT_IN_SIZE, 'fuse_interrupt_in',
    (w, o, b) => w.u64(o, b.unique), (r, o) => ({ unique: r.u64(o) })),
  [K.FUSE_DESTROY]: none,
  [K.FUSE_LSEEK]: fixed<LseekIn>(K.FUSE_LSEEK_IN_SIZE, 'fuse_lseek_in',
    (w, o, b) => { w.u64(o, b.fh); w.u64(o + 8, b.offset); w.u32(o + 16, b.whence); },
    (r, o) => ({ fh: r.u64(o), offset: r.u64(o + 8), whence: r.u32(o + 16) })),
  [K.FUSE_FALLOCATE]: fixed<FallocateIn>(K.FUSE_FALLOCATE_IN_SIZE, 'fuse_fallocate_in',
    (w, o, b) => { w.u64(o, b.fh); w.u64(o + 8, b.offset); w.u64(o + 16, b.length); w.u32(o + 24, b.mode); },
    (r, o) => ({ fh: r.u64(o), offset: r.u64(o + 8), length: r.u64(o + 16), mode: r.u32(o + 24) })),
  // fuse_syncfs_in is one u64 of padding.
  [K.FUSE_SYNCFS]: fixed<null>(K.FUSE_SYNCFS_IN_SIZE, 'fuse_syncfs_in', () => undefined, () => null),
  [K.FUSE_SETUPMAPPING]: fixed<SetupmappingIn>(K.FUSE_SETUPMAPPING_IN_SIZE, 'fuse_setupmapping_in',
    (w, o, b) => { w.u64(o, b.fh); w.u64(o + 8, b.foffset); w.u64(o + 16, b.len); w.u64(o + 24, b.flags); w.u64(o + 32, b.moffset); },
    (r, o) => ({ fh: r.u64(o), foffset: r.u64(o + 8), len: r.u64(o + 16), flags: r.u64(o + 24), moffset: r.u64(o + 32) })),
  // fuse_removemapping_in is a bare u32 count: the entries start at offset 4.
  [K.FUSE_REMOVEMAPPING]: counted<RemovemappingIn, RemovemappingOne>(K.FUSE_REMOVEMAPPING_IN_SIZE, 'fuse_removemapping_in',
    (b) => b.mappings, (mappings) => ({ mappings }),
    (w, o, e) => { w.u64(o, e.moffset); w.u64(o + 8, e.len); },
    (r, o) => ({ moffset: r.u64(o), len: r.u64(o + 8) })),
};

/** Whether the codec knows this opcode. */
export function isOpcode(opcode: number): opcode is Opcode {
  return Object.prototype.hasOwnProperty.call(codecs, opcode);
}

function codecOf<O extends Opcode>(opcode: O): BodyCodec<RequestBodies[O]> {
  return codecs[opcode] as BodyCodec<RequestBodies[O]>;
}

function extOf(req: Request): Uint8Array | undefined {
  const ext = req.ext;
  if (ext === undefined || ext.length === 0) return undefined;
  if (ext.length % 8 !== 0 || ext.length / 8 > 0xffff) {
    throw new ErrnoError(Errno.EINVAL, `request extensions of ${ext.length} bytes`);
  }
  return ext;
}

function encode(req: AnyRequest, withTail: boolean): Uint8Array {
  const codec = codecOf(req.opcode) as BodyCodec<unknown>;
  if (codec === undefined) throw new ErrnoError(Errno.ENOSYS, `no codec for opcode ${req.opcode}`);
  const args = codec.size(req.body);
  const tail = codec.tail?.(req.body);
  const ext = extOf(req);
  const tailLen = tail?.length ?? 0;
  const extLen = ext?.length ?? 0;
  const len = K.FUSE_IN_HEADER_SIZE + args + tailLen + extLen;
  if (len > 0xffffffff) throw new ErrnoError(Errno.E2BIG, `request of ${len} bytes`);
  const head = K.FUSE_IN_HEADER_SIZE + args;
  const w = LeWriter.alloc(withTail ? len : head);
  writeInHeader(w, 0, {
    len, opcode: req.opcode, unique: req.unique, nodeid: req.nodeid,
    uid: req.uid, gid: req.gid, pid: req.pid, total_extlen: extLen / 8,
  });
  codec.write(w, K.FUSE_IN_HEADER_SIZE, req.body);
  if (withTail) {
    if (tail) w.put(head, tail);
    if (ext) w.put(head + tailLen, ext);
  }
  return w.bytes;
}

/** The whole request: header, args, data, extensions. Throws ErrnoError
 *  (EINVAL, ENAMETOOLONG) on a body it cannot put on the wire. */
export function encodeRequest(req: AnyRequest): Uint8Array {
  return encode(req, true);
}

/** Header and args only, with len counting the bulk data (and
 *  extensions) the caller places after it, e.g. WRITE's payload in its own
 *  descriptor so it is never copied. */
export function encodeRequestHead(req: AnyRequest): Uint8Array {
  return encode(req, false);
}

/** Bulk data that follows the args (WRITE's payload), or undefined. */
export function requestTail(req: AnyRequest): Uint8Array | undefined {
  return (codecOf(req.opcode) as BodyCodec<unknown>).tail?.(req.body);
}

/** Decode one whole request. EINVAL for a malformed one, ENOSYS for an
 *  opcode the codec does not carry (with `unique`, so it can be answered).
 *  Names and WRITE data are views into `bytes`. */
export function decodeRequest(bytes: Uint8Array): Decoded<AnyRequest> {
  let unique: bigint | undefined;
  return guard(() => {
    const r = new LeReader(bytes, Errno.EINVAL);
    if (bytes.length >= 16) unique = r.u64(8);
    const h: InHeader = checkedInHeader(r);
    if (!isOpcode(h.opcode)) throw new Reject(Errno.ENOSYS, `unsupported opcode ${K.opcodeName(h.opcode)}`);
    const extLen = h.total_extlen * 8;
    const end = h.len - extLen;
    const body = (codecOf(h.opcode) as BodyCodec<unknown>).read(r, K.FUSE_IN_HEADER_SIZE, end);
    const req = {
      opcode: h.opcode, unique: h.unique, nodeid: h.nodeid, uid: h.uid, gid: h.gid, pid: h.pid, body,
    } as AnyRequest;
    if (extLen > 0) req.ext = r.view(end, h.len);
    return req;
  }, () => unique);
}
