// FUSE requests: fuse_in_header, the opcode's args, then bulk data (WRITE)
// and extensions (total_extlen). The driver encodes them; the device
// model's server decodes them. In virtio-fs this is the request's
// device-readable part.

import { Errno, ErrnoError } from '../../core/errno';
import { Decoded, Reject, guard } from './decoded';
import { checkedInHeader, writeInHeader } from './headers';
import * as I from './in-structs';
import * as K from './kernel';
import { StructLayout } from './layout';
import { LINK_TARGET, NameRule, REQUEST_NAME, XATTR_NAME, checkName, readName, writeName } from './names';
import { FUSE_COMPAT_INIT_IN_SIZE, FUSE_IN_HEADER_SIZE, InHeader, InitIn, fuseInitIn } from './structs';
import { LeReader, LeWriter } from './wire';

export type {
  AccessIn, CopyFileRangeIn, FallocateIn, FlushIn, ForgetIn, ForgetOne, FsyncIn, GetattrIn, GetxattrArgs,
  InterruptIn, LkIn, LseekIn, OpenIn, ReadIn, ReleaseIn, RemovemappingOne, SetattrIn, SetupmappingIn,
} from './in-structs';

/** Body of LOOKUP, UNLINK, RMDIR. */
export interface NameIn { name: Uint8Array }
export interface BatchForgetIn { forgets: I.ForgetOne[] }
/** SYMLINK: the new entry's name, then the target it points to. */
export interface SymlinkIn { name: Uint8Array; link: Uint8Array }
export interface MknodIn extends I.MknodArgs { name: Uint8Array }
export interface MkdirIn extends I.MkdirArgs { name: Uint8Array }
export interface RenameIn extends I.RenameArgs { oldname: Uint8Array; newname: Uint8Array }
export interface Rename2In extends I.Rename2Args { oldname: Uint8Array; newname: Uint8Array }
export interface LinkIn extends I.LinkArgs { newname: Uint8Array }
export interface CreateIn extends I.CreateArgs { name: Uint8Array }
/** fuse_write_in then the data; the wire's size is data.length. */
export interface WriteIn extends Omit<I.WriteArgs, 'size'> {
  /** Decoded: a view into the request buffer, not a copy. */
  data: Uint8Array;
}
export interface RemovemappingIn { mappings: I.RemovemappingOne[] }
/** SETXATTR: fuse_setxattr_in's first 8 bytes (no FUSE_SETXATTR_EXT), the
 *  name, then the value; the wire's size is value.length. */
export interface SetxattrIn {
  /** XATTR_CREATE, XATTR_REPLACE */
  flags: number;
  name: Uint8Array;
  /** Decoded: a view into the request buffer. */
  value: Uint8Array;
}
/** GETXATTR: the most bytes the value may have (0: ask its size), and the name. */
export interface GetxattrIn extends I.GetxattrArgs { name: Uint8Array }
/** REMOVEXATTR. */
export interface XattrNameIn { name: Uint8Array }

/** The body each opcode's request carries; null for none. */
export interface RequestBodies {
  [K.FUSE_INIT]: InitIn;
  [K.FUSE_LOOKUP]: NameIn;
  [K.FUSE_FORGET]: I.ForgetIn;
  [K.FUSE_BATCH_FORGET]: BatchForgetIn;
  [K.FUSE_GETATTR]: I.GetattrIn;
  [K.FUSE_SETATTR]: I.SetattrIn;
  [K.FUSE_READLINK]: null;
  [K.FUSE_SYMLINK]: SymlinkIn;
  [K.FUSE_MKNOD]: MknodIn;
  [K.FUSE_MKDIR]: MkdirIn;
  [K.FUSE_UNLINK]: NameIn;
  [K.FUSE_RMDIR]: NameIn;
  [K.FUSE_RENAME]: RenameIn;
  [K.FUSE_RENAME2]: Rename2In;
  [K.FUSE_LINK]: LinkIn;
  [K.FUSE_OPEN]: I.OpenIn;
  [K.FUSE_READ]: I.ReadIn;
  [K.FUSE_WRITE]: WriteIn;
  [K.FUSE_STATFS]: null;
  [K.FUSE_RELEASE]: I.ReleaseIn;
  [K.FUSE_FSYNC]: I.FsyncIn;
  [K.FUSE_FLUSH]: I.FlushIn;
  [K.FUSE_OPENDIR]: I.OpenIn;
  [K.FUSE_READDIR]: I.ReadIn;
  [K.FUSE_READDIRPLUS]: I.ReadIn;
  [K.FUSE_RELEASEDIR]: I.ReleaseIn;
  [K.FUSE_CREATE]: CreateIn;
  [K.FUSE_INTERRUPT]: I.InterruptIn;
  [K.FUSE_DESTROY]: null;
  [K.FUSE_LSEEK]: I.LseekIn;
  [K.FUSE_FALLOCATE]: I.FallocateIn;
  [K.FUSE_SYNCFS]: null;
  [K.FUSE_SETUPMAPPING]: I.SetupmappingIn;
  [K.FUSE_REMOVEMAPPING]: RemovemappingIn;
  [K.FUSE_SETXATTR]: SetxattrIn;
  [K.FUSE_GETXATTR]: GetxattrIn;
  [K.FUSE_LISTXATTR]: I.GetxattrArgs;
  [K.FUSE_REMOVEXATTR]: XattrNameIn;
  [K.FUSE_FSYNCDIR]: I.FsyncIn;
  [K.FUSE_GETLK]: I.LkIn;
  [K.FUSE_SETLK]: I.LkIn;
  [K.FUSE_SETLKW]: I.LkIn;
  [K.FUSE_ACCESS]: I.AccessIn;
  [K.FUSE_COPY_FILE_RANGE]: I.CopyFileRangeIn;
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
function fixed<T>(layout: StructLayout<T>): BodyCodec<T> {
  return {
    size: () => layout.size,
    write: (w, off, b) => layout.write(w, off, b),
    read(r, off, end) { exact(r, off, end, layout.size, layout.cName); return layout.read(r, off); },
  };
}

/** A body with no fields: empty (null), or padding only (fuse_syncfs_in). */
function empty(size: number, what: string): BodyCodec<null> {
  return {
    size: () => size,
    write: (w, off) => w.bytes.fill(0, off, off + size),
    read(r, off, end) { exact(r, off, end, size, what); return null; },
  };
}

/** A fixed struct (or none) followed by NUL-terminated names. */
function named<T extends object>(layout: StructLayout<Omit<T, 'name' | 'link' | 'oldname' | 'newname'>> | null,
  what: string, names: ReadonlyArray<[keyof T & string, NameRule]>): BodyCodec<T> {
  const head = layout?.size ?? 0;
  const get = (b: T, k: keyof T): Uint8Array => b[k] as unknown as Uint8Array;
  return {
    size(b) {
      let n = head;
      for (const [k, rule] of names) { checkName(get(b, k), rule); n += get(b, k).length + 1; }
      return n;
    },
    write(w, off, b) {
      layout?.write(w, off, b);
      let at = off + head;
      for (const [k] of names) at = writeName(w, at, get(b, k));
    },
    read(r, off, end) {
      r.need(off, head, what, end);
      const body = (layout ? layout.read(r, off) : {}) as Record<string, unknown>;
      let at = off + head;
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

/** A count-prefixed array of fixed records. */
function counted<T, E>(head: StructLayout<I.CountHead>, one: StructLayout<E>, items: (b: T) => E[],
  make: (list: E[]) => T): BodyCodec<T> {
  const what = head.cName;
  return {
    size: (b) => head.size + items(b).length * one.size,
    write(w, off, b) {
      const list = items(b);
      head.write(w, off, { count: list.length });
      for (let i = 0; i < list.length; i++) one.write(w, off + head.size + i * one.size, list[i]!);
    },
    read(r, off, end) {
      r.need(off, head.size, what, end);
      const { count } = head.read(r, off);
      const avail = end - off - head.size;
      if (count * one.size > avail) r.fail(`${what}: count ${count} overruns the ${avail} bytes that follow`);
      if (count * one.size < avail) r.fail(`${what}: ${avail - count * one.size} trailing bytes after ${count} entries`);
      const list: E[] = new Array(count);
      for (let i = 0; i < count; i++) list[i] = one.read(r, off + head.size + i * one.size);
      return make(list);
    },
  };
}

const nameOnly = named<NameIn>(null, 'name', [['name', REQUEST_NAME]]);
const openIn = fixed(I.fuseOpenIn);
const readIn = fixed(I.fuseReadIn);
const releaseIn = fixed(I.fuseReleaseIn);
const lkIn = fixed(I.fuseLkIn);
const SETXATTR_HEAD = K.FUSE_COMPAT_SETXATTR_IN_SIZE;
const setxattrIn: BodyCodec<SetxattrIn> = {
  size(b) { checkName(b.name, XATTR_NAME); return SETXATTR_HEAD + b.name.length + 1; },
  write(w, o, b) {
    w.u32(o, b.value.length); // fuse_setxattr_in.size
    w.u32(o + 4, b.flags);
    writeName(w, o + SETXATTR_HEAD, b.name);
  },
  tail: (b) => b.value,
  read(r, o, end) {
    r.need(o, SETXATTR_HEAD, 'fuse_setxattr_in', end);
    const h = I.fuseSetxattrIn.read(r, o, SETXATTR_HEAD);
    const { name, next } = readName(r, o + SETXATTR_HEAD, end, XATTR_NAME);
    if (h.size !== end - next) r.fail(`fuse_setxattr_in.size ${h.size} disagrees with the ${end - next} value bytes`);
    return { flags: h.flags, name, value: r.view(next, end) };
  },
};
const entryNames: ReadonlyArray<['oldname' | 'newname', NameRule]> = [['oldname', REQUEST_NAME], ['newname', REQUEST_NAME]];

const codecs: { [O in Opcode]: BodyCodec<RequestBodies[O]> } = {
  [K.FUSE_INIT]: {
    size: () => fuseInitIn.size,
    write: (w, off, b) => fuseInitIn.write(w, off, b),
    read(r, off, end) {
      const n = end - off;
      // Kernels before 7.36 send the 16-byte struct without flags2.
      if (n !== fuseInitIn.size && n !== FUSE_COMPAT_INIT_IN_SIZE) r.fail(`fuse_init_in of ${n} bytes`);
      return fuseInitIn.read(r, off, n);
    },
  },
  [K.FUSE_LOOKUP]: nameOnly,
  [K.FUSE_FORGET]: fixed(I.fuseForgetIn),
  [K.FUSE_BATCH_FORGET]: counted<BatchForgetIn, I.ForgetOne>(I.fuseBatchForgetIn, I.fuseForgetOne,
    (b) => b.forgets, (forgets) => ({ forgets })),
  [K.FUSE_GETATTR]: fixed(I.fuseGetattrIn),
  [K.FUSE_SETATTR]: fixed(I.fuseSetattrIn),
  [K.FUSE_READLINK]: empty(0, 'READLINK'),
  [K.FUSE_SYMLINK]: named<SymlinkIn>(null, 'symlink', [['name', REQUEST_NAME], ['link', LINK_TARGET]]),
  [K.FUSE_MKNOD]: named<MknodIn>(I.fuseMknodIn, 'fuse_mknod_in', [['name', REQUEST_NAME]]),
  [K.FUSE_MKDIR]: named<MkdirIn>(I.fuseMkdirIn, 'fuse_mkdir_in', [['name', REQUEST_NAME]]),
  [K.FUSE_UNLINK]: nameOnly,
  [K.FUSE_RMDIR]: nameOnly,
  [K.FUSE_RENAME]: named<RenameIn>(I.fuseRenameIn, 'fuse_rename_in', entryNames),
  [K.FUSE_RENAME2]: named<Rename2In>(I.fuseRename2In, 'fuse_rename2_in', entryNames),
  [K.FUSE_LINK]: named<LinkIn>(I.fuseLinkIn, 'fuse_link_in', [['newname', REQUEST_NAME]]),
  [K.FUSE_OPEN]: openIn,
  [K.FUSE_READ]: readIn,
  [K.FUSE_WRITE]: {
    size: () => I.fuseWriteIn.size,
    write: (w, o, b) => I.fuseWriteIn.write(w, o, { ...b, size: b.data.length }),
    tail: (b) => b.data,
    read(r, o, end) {
      r.need(o, I.fuseWriteIn.size, 'fuse_write_in', end);
      const h = I.fuseWriteIn.read(r, o);
      const avail = end - o - I.fuseWriteIn.size;
      if (h.size !== avail) r.fail(`fuse_write_in.size ${h.size} disagrees with the ${avail} data bytes`);
      return {
        fh: h.fh, offset: h.offset, write_flags: h.write_flags, lock_owner: h.lock_owner, flags: h.flags,
        data: r.view(o + I.fuseWriteIn.size, end),
      };
    },
  },
  [K.FUSE_STATFS]: empty(0, 'STATFS'),
  [K.FUSE_RELEASE]: releaseIn,
  [K.FUSE_FSYNC]: fixed(I.fuseFsyncIn),
  [K.FUSE_FLUSH]: fixed(I.fuseFlushIn),
  [K.FUSE_OPENDIR]: openIn,
  [K.FUSE_READDIR]: readIn,
  [K.FUSE_READDIRPLUS]: readIn,
  [K.FUSE_RELEASEDIR]: releaseIn,
  [K.FUSE_CREATE]: named<CreateIn>(I.fuseCreateIn, 'fuse_create_in', [['name', REQUEST_NAME]]),
  [K.FUSE_INTERRUPT]: fixed(I.fuseInterruptIn),
  [K.FUSE_DESTROY]: empty(0, 'DESTROY'),
  [K.FUSE_LSEEK]: fixed(I.fuseLseekIn),
  [K.FUSE_FALLOCATE]: fixed(I.fuseFallocateIn),
  [K.FUSE_SYNCFS]: empty(I.fuseSyncfsIn.size, I.fuseSyncfsIn.cName),
  [K.FUSE_SETUPMAPPING]: fixed(I.fuseSetupmappingIn),
  [K.FUSE_REMOVEMAPPING]: counted<RemovemappingIn, I.RemovemappingOne>(I.fuseRemovemappingIn, I.fuseRemovemappingOne,
    (b) => b.mappings, (mappings) => ({ mappings })),
  [K.FUSE_SETXATTR]: setxattrIn,
  [K.FUSE_GETXATTR]: named<GetxattrIn>(I.fuseGetxattrIn, 'fuse_getxattr_in', [['name', XATTR_NAME]]),
  [K.FUSE_LISTXATTR]: fixed(I.fuseGetxattrIn),
  [K.FUSE_REMOVEXATTR]: named<XattrNameIn>(null, 'xattr name', [['name', XATTR_NAME]]),
  [K.FUSE_FSYNCDIR]: fixed(I.fuseFsyncIn),
  [K.FUSE_GETLK]: lkIn,
  [K.FUSE_SETLK]: lkIn,
  [K.FUSE_SETLKW]: lkIn,
  [K.FUSE_ACCESS]: fixed(I.fuseAccessIn),
  [K.FUSE_COPY_FILE_RANGE]: fixed(I.fuseCopyFileRangeIn),
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
  const len = FUSE_IN_HEADER_SIZE + args + tailLen + extLen;
  if (len > 0xffffffff) throw new ErrnoError(Errno.E2BIG, `request of ${len} bytes`);
  const head = FUSE_IN_HEADER_SIZE + args;
  const w = LeWriter.alloc(withTail ? len : head);
  writeInHeader(w, 0, {
    len, opcode: req.opcode, unique: req.unique, nodeid: req.nodeid,
    uid: req.uid, gid: req.gid, pid: req.pid, total_extlen: extLen / 8,
  });
  codec.write(w, FUSE_IN_HEADER_SIZE, req.body);
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
    const body = (codecOf(h.opcode) as BodyCodec<unknown>).read(r, FUSE_IN_HEADER_SIZE, end);
    const req = {
      opcode: h.opcode, unique: h.unique, nodeid: h.nodeid, uid: h.uid, gid: h.gid, pid: h.pid, body,
    } as AnyRequest;
    if (extLen > 0) req.ext = r.view(end, h.len);
    return req;
  }, () => unique);
}
