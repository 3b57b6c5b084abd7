// FUSE replies: fuse_out_header then the opcode's reply struct or data. The
// device model's server encodes them; the driver decodes them. In virtio-fs
// this is the request's device-writable part, sized with replyMaxSize.

import { Errno, ErrnoError } from '../../core/errno';
import { Decoded, guard } from './decoded';
import { checkedOutHeader, writeOutHeader } from './headers';
import * as K from './kernel';
import { Dirent, DirentPlus, direntsLength, direntsThatFit, readDirents, readDirentsPlus, writeDirents } from './dirents';
import { LINK_TARGET, checkName, nameProblem } from './names';
import { AnyRequest, Opcode } from './requests';
import { StructLayout, nested } from './layout';
import {
  AttrOut, EntryOut, FUSE_COMPAT_22_INIT_OUT_SIZE, FUSE_COMPAT_INIT_OUT_SIZE, FUSE_OUT_HEADER_SIZE, InitOut, Kstatfs,
  LkOut, LseekOut, OpenOut, WriteOut, fuseAttrOut, fuseGetxattrOut, fuseLkOut, fuseEntryOut, fuseInitOut, fuseKstatfs, fuseLseekOut, fuseOpenOut,
  fuseWriteOut,
} from './structs';
import { LeReader, LeWriter } from './wire';

/** READ: the bytes read (decoded: a view into the reply buffer). */
export interface ReadOut { data: Uint8Array }
/** READLINK: the target, without a NUL (decoded: a view). */
export interface ReadlinkOut { link: Uint8Array }
export interface CreateOut { entry_out: EntryOut; open_out: OpenOut }
/** CREATE's reply: fuse_entry_out then fuse_open_out, as Linux reads them. */
const createOut = new StructLayout<CreateOut>('fuse_entry_out + fuse_open_out', fuseEntryOut.size + fuseOpenOut.size, {
  entry_out: nested(fuseEntryOut, 0), open_out: nested(fuseOpenOut, fuseEntryOut.size),
});
export interface ReaddirOut { entries: Dirent[] }
/** GETXATTR and LISTXATTR: the size the value needs (a request of size 0
 *  asks only that), or the value itself (decoded: a view). LISTXATTR's value
 *  is the names, each with its NUL. */
export type XattrOut = { size: number; value?: undefined } | { value: Uint8Array; size?: undefined };
export interface ReaddirplusOut { entries: DirentPlus[] }

/** The body of each opcode's successful reply; null for an empty one, never
 *  for FORGET and BATCH_FORGET, which have no reply at all. */
export interface ReplyBodies {
  [K.FUSE_INIT]: InitOut;
  [K.FUSE_LOOKUP]: EntryOut;
  [K.FUSE_FORGET]: never;
  [K.FUSE_BATCH_FORGET]: never;
  [K.FUSE_GETATTR]: AttrOut;
  [K.FUSE_SETATTR]: AttrOut;
  [K.FUSE_READLINK]: ReadlinkOut;
  [K.FUSE_SYMLINK]: EntryOut;
  [K.FUSE_MKNOD]: EntryOut;
  [K.FUSE_MKDIR]: EntryOut;
  [K.FUSE_UNLINK]: null;
  [K.FUSE_RMDIR]: null;
  [K.FUSE_RENAME]: null;
  [K.FUSE_RENAME2]: null;
  [K.FUSE_LINK]: EntryOut;
  [K.FUSE_OPEN]: OpenOut;
  [K.FUSE_READ]: ReadOut;
  [K.FUSE_WRITE]: WriteOut;
  [K.FUSE_STATFS]: Kstatfs;
  [K.FUSE_RELEASE]: null;
  [K.FUSE_FSYNC]: null;
  [K.FUSE_FLUSH]: null;
  [K.FUSE_OPENDIR]: OpenOut;
  [K.FUSE_READDIR]: ReaddirOut;
  [K.FUSE_READDIRPLUS]: ReaddirplusOut;
  [K.FUSE_RELEASEDIR]: null;
  [K.FUSE_CREATE]: CreateOut;
  [K.FUSE_INTERRUPT]: null;
  [K.FUSE_DESTROY]: null;
  [K.FUSE_LSEEK]: LseekOut;
  [K.FUSE_FALLOCATE]: null;
  [K.FUSE_SYNCFS]: null;
  [K.FUSE_SETUPMAPPING]: null;
  [K.FUSE_REMOVEMAPPING]: null;
  [K.FUSE_SETXATTR]: null;
  [K.FUSE_GETXATTR]: XattrOut;
  [K.FUSE_LISTXATTR]: XattrOut;
  [K.FUSE_REMOVEXATTR]: null;
  [K.FUSE_FSYNCDIR]: null;
  [K.FUSE_GETLK]: LkOut;
  [K.FUSE_SETLK]: null;
  [K.FUSE_SETLKW]: null;
  [K.FUSE_ACCESS]: null;
  [K.FUSE_COPY_FILE_RANGE]: WriteOut;
}

/** What a reply's decoder must know of its request: GETXATTR and LISTXATTR
 *  answer a size-0 request with fuse_getxattr_out, any other with data. */
export interface ReplyContext {
  sizeProbe?: boolean;
}

/** A decoded reply: errno 0 and a body, or the server's errno (positive)
 *  and no body. Test `body !== undefined` to narrow. */
export type Reply<O extends Opcode = Opcode> =
  | { opcode: O; unique: bigint; errno: 0; body: ReplyBodies[O] }
  | { opcode: O; unique: bigint; errno: number; body: undefined };

interface ReplyCodec<T> {
  /** Largest fixed part (what a writable buffer must hold beyond data). */
  fixed: number;
  /** Bytes written by `write` (bulk data excluded). */
  size(b: T): number;
  write(w: LeWriter, off: number, b: T): void;
  /** Bulk data after the fixed part (READ, READLINK). */
  tail?(b: T): Uint8Array;
  /** Read a body filling [off, end) exactly. */
  read(r: LeReader, off: number, end: number, ctx: ReplyContext): T;
}

function exact(r: LeReader, off: number, end: number, size: number, what: string): void {
  if (end - off !== size) r.fail(`${what}: ${end - off} bytes, expected ${size}`);
}

function fixed<T>(layout: StructLayout<T>): ReplyCodec<T> {
  return {
    fixed: layout.size,
    size: () => layout.size,
    write: (w, off, b) => layout.write(w, off, b),
    read(r, off, end) { exact(r, off, end, layout.size, layout.cName); return layout.read(r, off); },
  };
}

const empty: ReplyCodec<null> = {
  fixed: 0, size: () => 0, write: () => undefined,
  read(r, off, end) { exact(r, off, end, 0, 'empty reply'); return null; },
};
const entryOut = fixed(fuseEntryOut);
const attrOut = fixed(fuseAttrOut);
const openOut = fixed(fuseOpenOut);
const xattrOut: ReplyCodec<XattrOut> = {
  fixed: fuseGetxattrOut.size,
  size: (b) => (b.value === undefined ? fuseGetxattrOut.size : 0),
  write: (w, off, b) => { if (b.value === undefined) fuseGetxattrOut.write(w, off, { size: b.size }); },
  tail: (b) => b.value ?? new Uint8Array(0),
  read(r, off, end, ctx) {
    if (!ctx.sizeProbe) return { value: r.view(off, end) };
    exact(r, off, end, fuseGetxattrOut.size, fuseGetxattrOut.cName);
    return { size: fuseGetxattrOut.read(r, off).size };
  },
};
const noReply: ReplyCodec<never> = {
  fixed: 0,
  size() { throw new ErrnoError(Errno.EINVAL, 'FORGET has no reply'); },
  write() { throw new ErrnoError(Errno.EINVAL, 'FORGET has no reply'); },
  read(r) { return r.fail('FORGET and BATCH_FORGET have no reply'); },
};

const codecs: { [O in Opcode]: ReplyCodec<ReplyBodies[O]> } = {
  [K.FUSE_INIT]: {
    fixed: fuseInitOut.size,
    size: () => fuseInitOut.size,
    write: (w, off, b) => fuseInitOut.write(w, off, b),
    read(r, off, end) {
      const n = end - off;
      // libfuse answers an old kernel with a compat size; absent fields are 0.
      if (n !== fuseInitOut.size && n !== FUSE_COMPAT_22_INIT_OUT_SIZE && n !== FUSE_COMPAT_INIT_OUT_SIZE) {
        r.fail(`fuse_init_out of ${n} bytes`);
      }
      return fuseInitOut.read(r, off, n);
    },
  },
  [K.FUSE_LOOKUP]: entryOut,
  [K.FUSE_FORGET]: noReply,
  [K.FUSE_BATCH_FORGET]: noReply,
  [K.FUSE_GETATTR]: attrOut,
  [K.FUSE_SETATTR]: attrOut,
  [K.FUSE_READLINK]: {
    fixed: 0, size: () => 0, write: () => undefined,
    tail: (b) => { checkName(b.link, LINK_TARGET); return b.link; },
    read(r, off, end) {
      const link = r.view(off, end);
      const p = nameProblem(link, LINK_TARGET);
      if (p !== undefined) r.fail(p);
      return { link };
    },
  },
  [K.FUSE_SYMLINK]: entryOut,
  [K.FUSE_MKNOD]: entryOut,
  [K.FUSE_MKDIR]: entryOut,
  [K.FUSE_UNLINK]: empty,
  [K.FUSE_RMDIR]: empty,
  [K.FUSE_RENAME]: empty,
  [K.FUSE_RENAME2]: empty,
  [K.FUSE_LINK]: entryOut,
  [K.FUSE_OPEN]: openOut,
  [K.FUSE_READ]: {
    fixed: 0, size: () => 0, write: () => undefined,
    tail: (b) => b.data,
    read: (r, off, end) => ({ data: r.view(off, end) }),
  },
  [K.FUSE_WRITE]: fixed(fuseWriteOut),
  [K.FUSE_STATFS]: fixed(fuseKstatfs),
  [K.FUSE_RELEASE]: empty,
  [K.FUSE_FSYNC]: empty,
  [K.FUSE_FLUSH]: empty,
  [K.FUSE_OPENDIR]: openOut,
  [K.FUSE_READDIR]: {
    fixed: 0,
    size: (b) => direntsLength(b.entries, false),
    write: (w, o, b) => { writeDirents(w, o, b.entries, b.entries.length, false); },
    read: (r, o, end) => ({ entries: readDirents(r, o, end) }),
  },
  [K.FUSE_READDIRPLUS]: {
    fixed: 0,
    size: (b) => direntsLength(b.entries, true),
    write: (w, o, b) => { writeDirents(w, o, b.entries, b.entries.length, true); },
    read: (r, o, end) => ({ entries: readDirentsPlus(r, o, end) }),
  },
  [K.FUSE_RELEASEDIR]: empty,
  [K.FUSE_CREATE]: fixed(createOut),
  [K.FUSE_INTERRUPT]: empty,
  [K.FUSE_DESTROY]: empty,
  [K.FUSE_LSEEK]: fixed(fuseLseekOut),
  [K.FUSE_FALLOCATE]: empty,
  [K.FUSE_SYNCFS]: empty,
  [K.FUSE_SETUPMAPPING]: empty,
  [K.FUSE_REMOVEMAPPING]: empty,
  [K.FUSE_SETXATTR]: empty,
  [K.FUSE_GETXATTR]: xattrOut,
  [K.FUSE_LISTXATTR]: xattrOut,
  [K.FUSE_REMOVEXATTR]: empty,
  [K.FUSE_FSYNCDIR]: empty,
  [K.FUSE_GETLK]: fixed(fuseLkOut),
  [K.FUSE_SETLK]: empty,
  [K.FUSE_SETLKW]: empty,
  [K.FUSE_ACCESS]: empty,
  [K.FUSE_COPY_FILE_RANGE]: fixed(fuseWriteOut),
};

function codecOf(opcode: Opcode): ReplyCodec<unknown> {
  const c = codecs[opcode] as ReplyCodec<unknown> | undefined;
  if (c === undefined) throw new ErrnoError(Errno.ENOSYS, `no codec for opcode ${opcode}`);
  return c;
}

function hasNoReply(opcode: number): boolean {
  return opcode === K.FUSE_FORGET || opcode === K.FUSE_BATCH_FORGET;
}

function errorReply(opcode: Opcode, unique: bigint, errno: number): Uint8Array {
  if (hasNoReply(opcode)) throw new ErrnoError(Errno.EINVAL, `${K.opcodeName(opcode)} has no reply`);
  if (!Number.isInteger(errno) || errno < 1 || errno > K.FUSE_MAX_ERRNO) {
    throw new ErrnoError(Errno.EINVAL, `errno ${errno} is not in 1..${K.FUSE_MAX_ERRNO}`);
  }
  const w = LeWriter.alloc(FUSE_OUT_HEADER_SIZE);
  writeOutHeader(w, 0, { len: FUSE_OUT_HEADER_SIZE, error: -errno, unique });
  return w.bytes;
}

function encode(opcode: Opcode, unique: bigint, body: unknown, withTail: boolean): Uint8Array {
  const codec = codecOf(opcode);
  const size = codec.size(body);
  const tail = codec.tail?.(body);
  const head = FUSE_OUT_HEADER_SIZE + size;
  const len = head + (tail?.length ?? 0);
  const w = LeWriter.alloc(withTail ? len : head);
  writeOutHeader(w, 0, { len, error: 0, unique });
  codec.write(w, FUSE_OUT_HEADER_SIZE, body);
  if (withTail && tail) w.put(head, tail);
  return w.bytes;
}

/** A whole reply: a body for success, or a positive errno for an error.
 *  Throws ErrnoError for FORGET/BATCH_FORGET (no reply), an errno out of
 *  1..4095, or a body that cannot go on the wire (bad name). */
export function encodeReply<O extends Opcode>(opcode: O, unique: bigint, result: ReplyBodies[O] | number): Uint8Array {
  if (typeof result === 'number') return errorReply(opcode, unique, result);
  return encode(opcode, unique, result, true);
}

/** Header and fixed part only, with len counting the bulk data (READ's
 *  data, READLINK's target) that the caller places right after it. */
export function encodeReplyHead<O extends Opcode>(opcode: O, unique: bigint, body: ReplyBodies[O]): Uint8Array {
  return encode(opcode, unique, body, false);
}

/** A READDIR or READDIRPLUS reply holding the leading entries that fit
 *  whole in `size` bytes (fuse_read_in.size); `count` says how many, the
 *  rest wait for the next call. count 0 with entries left means the first
 *  one alone is larger than size. */
export function encodeReaddirReply(
  opcode: typeof K.FUSE_READDIR | typeof K.FUSE_READDIRPLUS, unique: bigint,
  entries: ReadonlyArray<Dirent> | ReadonlyArray<DirentPlus>, size: number,
): { bytes: Uint8Array; count: number } {
  const plus = opcode === K.FUSE_READDIRPLUS;
  const { count, length } = direntsThatFit(entries, plus, size);
  const len = FUSE_OUT_HEADER_SIZE + length;
  const w = LeWriter.alloc(len);
  writeOutHeader(w, 0, { len, error: 0, unique });
  writeDirents(w, FUSE_OUT_HEADER_SIZE, entries, count, plus);
  return { bytes: w.bytes, count };
}

/** Decode a whole reply to a request of `opcode` (the buffer is exactly the
 *  reply: the used length of the writable part). EPROTO for a malformed
 *  reply, EIO for malformed directory entries. Data, targets and names are
 *  views into `bytes`. */
export function decodeReply<O extends Opcode>(opcode: O, bytes: Uint8Array, ctx: ReplyContext = {}): Decoded<Reply<O>> {
  let unique: bigint | undefined;
  return guard((): Reply<O> => {
    const r = new LeReader(bytes, Errno.EPROTO);
    if (bytes.length >= 16) unique = r.u64(8);
    const h = checkedOutHeader(r);
    if (hasNoReply(opcode)) r.fail(`${K.opcodeName(opcode)} has no reply`);
    if (h.error !== 0) return { opcode, unique: h.unique, errno: -h.error, body: undefined };
    const codec = codecOf(opcode);
    const br = opcode === K.FUSE_READDIR || opcode === K.FUSE_READDIRPLUS ? new LeReader(bytes, Errno.EIO) : r;
    const body = codec.read(br, FUSE_OUT_HEADER_SIZE, h.len, ctx) as ReplyBodies[O];
    return { opcode, unique: h.unique, errno: 0, body };
  }, () => unique);
}

/** Out header plus the opcode's fixed reply struct: the writable part an
 *  opcode without bulk data needs. 0 for FORGET and BATCH_FORGET. */
export function replyFixedSize(opcode: Opcode): number {
  return hasNoReply(opcode) ? 0 : FUSE_OUT_HEADER_SIZE + codecOf(opcode).fixed;
}

/** The writable part a request needs for its largest reply: the fixed
 *  size, plus the requested size for READ/READDIR/READDIRPLUS and PATH_MAX
 *  for READLINK. */
export function replyMaxSize(req: AnyRequest): number {
  switch (req.opcode) {
    case K.FUSE_READ:
    case K.FUSE_READDIR:
    case K.FUSE_READDIRPLUS:
      return FUSE_OUT_HEADER_SIZE + req.body.size;
    case K.FUSE_READLINK:
      return FUSE_OUT_HEADER_SIZE + K.FUSE_PATH_MAX;
    case K.FUSE_GETXATTR:
    case K.FUSE_LISTXATTR:
      return FUSE_OUT_HEADER_SIZE + (req.body.size === 0 ? fuseGetxattrOut.size : req.body.size);
    default:
      return replyFixedSize(req.opcode);
  }
}
