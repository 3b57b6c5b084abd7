// Property tests of the FUSE codec: encode→decode is the identity for every
// opcode's request and reply, and no input makes a decoder throw.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import * as F from '../../../fs/fuse';

const t = suite('fuse codec (properties)');

// Plain objects (fast-check's default null prototype would not deep-equal).
function rec<T>(m: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(m, { noNullPrototype: true }) as unknown as fc.Arbitrary<T>;
}
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });
const clean = (b: Uint8Array, banned: number[]) => b.map((x) => (banned.includes(x) ? 0x61 : x));
// Mostly short names, sometimes right up to the limit.
const name = fc.oneof(
  { weight: 9, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: F.FUSE_NAME_MAX - 2, maxLength: F.FUSE_NAME_MAX }) },
).map((b) => clean(b, [0, 0x2f]));
const link = fc.oneof(
  { weight: 9, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 60 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: F.FUSE_PATH_MAX - 2, maxLength: F.FUSE_PATH_MAX - 1 }) },
).map((b) => clean(b, [0]));

const xname = fc.uint8Array({ minLength: 1, maxLength: F.FUSE_XATTR_NAME_MAX }).map((b) => clean(b, [0]));
const lkIn = rec({ fh: u64, owner: u64, lk: rec({ start: u64, end: u64, type: u32, pid: u32 }), lk_flags: u32 });
const readIn = rec({ fh: u64, offset: u64, size: u32, read_flags: u32, lock_owner: u64, flags: u32 });
const releaseIn = rec({ fh: u64, flags: u32, release_flags: u32, lock_owner: u64 });
const openIn = rec({ flags: u32, open_flags: u32 });
const nameIn = rec({ name });

const requestBodies: { [O in F.Opcode]: fc.Arbitrary<F.RequestBodies[O]> } = {
  [F.FUSE_INIT]: rec({ major: u32, minor: u32, max_readahead: u32, flags: u64 }),
  [F.FUSE_LOOKUP]: nameIn,
  [F.FUSE_FORGET]: rec({ nlookup: u64 }),
  [F.FUSE_BATCH_FORGET]: rec({ forgets: fc.array(rec({ nodeid: u64, nlookup: u64 }), { maxLength: 8 }) }),
  [F.FUSE_GETATTR]: rec({ getattr_flags: u32, fh: u64 }),
  [F.FUSE_SETATTR]: rec({
    valid: u32, fh: u64, size: u64, lock_owner: u64, atime: u64, mtime: u64, ctime: u64,
    atimensec: u32, mtimensec: u32, ctimensec: u32, mode: u32, uid: u32, gid: u32,
  }),
  [F.FUSE_READLINK]: fc.constant(null),
  [F.FUSE_SYMLINK]: rec({ name, link }),
  [F.FUSE_MKNOD]: rec({ mode: u32, rdev: u32, umask: u32, name }),
  [F.FUSE_MKDIR]: rec({ mode: u32, umask: u32, name }),
  [F.FUSE_UNLINK]: nameIn,
  [F.FUSE_RMDIR]: nameIn,
  [F.FUSE_RENAME]: rec({ newdir: u64, oldname: name, newname: name }),
  [F.FUSE_RENAME2]: rec({ newdir: u64, flags: u32, oldname: name, newname: name }),
  [F.FUSE_LINK]: rec({ oldnodeid: u64, newname: name }),
  [F.FUSE_OPEN]: openIn,
  [F.FUSE_READ]: readIn,
  [F.FUSE_WRITE]: rec({ fh: u64, offset: u64, write_flags: u32, lock_owner: u64, flags: u32, data: bytes(300) }),
  [F.FUSE_STATFS]: fc.constant(null),
  [F.FUSE_RELEASE]: releaseIn,
  [F.FUSE_FSYNC]: rec({ fh: u64, fsync_flags: u32 }),
  [F.FUSE_FLUSH]: rec({ fh: u64, lock_owner: u64 }),
  [F.FUSE_OPENDIR]: openIn,
  [F.FUSE_READDIR]: readIn,
  [F.FUSE_READDIRPLUS]: readIn,
  [F.FUSE_RELEASEDIR]: releaseIn,
  [F.FUSE_CREATE]: rec({ flags: u32, mode: u32, umask: u32, open_flags: u32, name }),
  [F.FUSE_INTERRUPT]: rec({ unique: u64 }),
  [F.FUSE_DESTROY]: fc.constant(null),
  [F.FUSE_LSEEK]: rec({ fh: u64, offset: u64, whence: u32 }),
  [F.FUSE_FALLOCATE]: rec({ fh: u64, offset: u64, length: u64, mode: u32 }),
  [F.FUSE_SYNCFS]: fc.constant(null),
  [F.FUSE_SETUPMAPPING]: rec({ fh: u64, foffset: u64, len: u64, flags: u64, moffset: u64 }),
  [F.FUSE_REMOVEMAPPING]: rec({ mappings: fc.array(rec({ moffset: u64, len: u64 }), { maxLength: 8 }) }),
  [F.FUSE_SETXATTR]: rec({ flags: u32, name: xname, value: bytes(300) }),
  [F.FUSE_GETXATTR]: rec({ size: u32, name: xname }),
  [F.FUSE_LISTXATTR]: rec({ size: u32 }),
  [F.FUSE_REMOVEXATTR]: rec({ name: xname }),
  [F.FUSE_FSYNCDIR]: rec({ fh: u64, fsync_flags: u32 }),
  [F.FUSE_GETLK]: lkIn,
  [F.FUSE_SETLK]: lkIn,
  [F.FUSE_SETLKW]: lkIn,
  [F.FUSE_ACCESS]: rec({ mask: u32 }),
  [F.FUSE_COPY_FILE_RANGE]: rec({ fh_in: u64, off_in: u64, nodeid_out: u64, fh_out: u64, off_out: u64, len: u64, flags: u64 }),
};

const opcodes = Object.keys(requestBodies).map(Number) as F.Opcode[];

const ext = fc.option(fc.integer({ min: 1, max: 4 }).chain((n) => fc.uint8Array({ minLength: n * 8, maxLength: n * 8 })),
  { nil: undefined });

function requestOf(opcode: F.Opcode): fc.Arbitrary<F.AnyRequest> {
  return rec({ unique: u64, nodeid: u64, uid: u32, gid: u32, pid: u32, body: requestBodies[opcode], ext })
    .map(({ ext: e, ...rest }) => (e === undefined ? { opcode, ...rest } : { opcode, ...rest, ext: e }) as F.AnyRequest);
}
const anyRequest = fc.oneof(...opcodes.map(requestOf));

const attr = rec({
  ino: u64, size: u64, blocks: u64, atime: u64, mtime: u64, ctime: u64, atimensec: u32, mtimensec: u32,
  ctimensec: u32, mode: u32, nlink: u32, uid: u32, gid: u32, rdev: u32, blksize: u32, flags: u32,
});
const entryOut = rec({
  nodeid: u64, generation: u64, entry_valid: u64, attr_valid: u64, entry_valid_nsec: u32, attr_valid_nsec: u32, attr,
});
const attrOut = rec({ attr_valid: u64, attr_valid_nsec: u32, attr });
const openOut = rec({ fh: u64, open_flags: u32, backing_id: i32 });
const dirent = rec({ ino: u64, off: u64, type: u32, name });
const empty = fc.constant(null);
const xattrOut: fc.Arbitrary<F.XattrOut> = fc.oneof(
  rec<{ size: number }>({ size: u32 }), rec<{ value: Uint8Array }>({ value: bytes(300) }));
/** Whether a decoded GETXATTR/LISTXATTR reply is the size probe's. */
const ctxOf = (result: unknown): F.ReplyContext =>
  ({ sizeProbe: result !== null && typeof result === 'object' && (result as F.XattrOut).size !== undefined });

type ReplyArbs = { [O in F.Opcode]: fc.Arbitrary<F.ReplyBodies[O]> | undefined };
const replyBodies: ReplyArbs = {
  [F.FUSE_INIT]: rec({
    major: u32, minor: u32, max_readahead: u32, flags: u64, max_background: u16, congestion_threshold: u16,
    max_write: u32, time_gran: u32, max_pages: u16, map_alignment: u16, max_stack_depth: u32,
  }),
  [F.FUSE_LOOKUP]: entryOut,
  [F.FUSE_FORGET]: undefined,
  [F.FUSE_BATCH_FORGET]: undefined,
  [F.FUSE_GETATTR]: attrOut,
  [F.FUSE_SETATTR]: attrOut,
  [F.FUSE_READLINK]: rec({ link }),
  [F.FUSE_SYMLINK]: entryOut,
  [F.FUSE_MKNOD]: entryOut,
  [F.FUSE_MKDIR]: entryOut,
  [F.FUSE_UNLINK]: empty,
  [F.FUSE_RMDIR]: empty,
  [F.FUSE_RENAME]: empty,
  [F.FUSE_RENAME2]: empty,
  [F.FUSE_LINK]: entryOut,
  [F.FUSE_OPEN]: openOut,
  [F.FUSE_READ]: rec({ data: bytes(300) }),
  [F.FUSE_WRITE]: rec({ size: u32 }),
  [F.FUSE_STATFS]: rec({
    blocks: u64, bfree: u64, bavail: u64, files: u64, ffree: u64, bsize: u32, namelen: u32, frsize: u32,
  }),
  [F.FUSE_RELEASE]: empty,
  [F.FUSE_FSYNC]: empty,
  [F.FUSE_FLUSH]: empty,
  [F.FUSE_OPENDIR]: openOut,
  [F.FUSE_READDIR]: rec({ entries: fc.array(dirent, { maxLength: 6 }) }),
  [F.FUSE_READDIRPLUS]: rec({ entries: fc.array(rec({ entry_out: entryOut, dirent }), { maxLength: 6 }) }),
  [F.FUSE_RELEASEDIR]: empty,
  [F.FUSE_CREATE]: rec({ entry_out: entryOut, open_out: openOut }),
  [F.FUSE_INTERRUPT]: empty,
  [F.FUSE_DESTROY]: empty,
  [F.FUSE_LSEEK]: rec({ offset: u64 }),
  [F.FUSE_FALLOCATE]: empty,
  [F.FUSE_SYNCFS]: empty,
  [F.FUSE_SETUPMAPPING]: empty,
  [F.FUSE_REMOVEMAPPING]: empty,
  [F.FUSE_SETXATTR]: empty,
  [F.FUSE_GETXATTR]: xattrOut,
  [F.FUSE_LISTXATTR]: xattrOut,
  [F.FUSE_REMOVEXATTR]: empty,
  [F.FUSE_FSYNCDIR]: empty,
  [F.FUSE_GETLK]: rec({ lk: rec({ start: u64, end: u64, type: u32, pid: u32 }) }),
  [F.FUSE_SETLK]: empty,
  [F.FUSE_SETLKW]: empty,
  [F.FUSE_ACCESS]: empty,
  [F.FUSE_COPY_FILE_RANGE]: rec({ size: u32 }),
};

const replyOpcodes = opcodes.filter((o) => replyBodies[o] !== undefined);
const errno = fc.integer({ min: 1, max: F.FUSE_MAX_ERRNO });

function replyOf(opcode: F.Opcode): fc.Arbitrary<{ opcode: F.Opcode; unique: bigint; result: unknown }> {
  const body = replyBodies[opcode] as fc.Arbitrary<unknown>;
  return rec({ unique: u64, result: fc.oneof({ weight: 4, arbitrary: body }, { weight: 1, arbitrary: errno }) })
    .map((r) => ({ opcode, ...r }));
}
const anyReply = fc.oneof(...replyOpcodes.map(replyOf));

const encodeAny = (opcode: F.Opcode, unique: bigint, result: unknown): Uint8Array =>
  F.encodeReply(opcode, unique, result as never);

t('request: decode(encode(req)) is req, for every opcode', () => {
  for (const op of opcodes) {
    fc.assert(fc.property(requestOf(op), (req) => {
      const bytes = F.encodeRequest(req);
      const d = F.decodeRequest(bytes);
      if (!d.ok) throw new Error(`${F.opcodeName(op)}: ${d.reason}`);
      assert.equal(d.value, req);
    }), { numRuns: 60 });
  }
});

t('request: head + tail + ext is the whole request', () => {
  fc.assert(fc.property(anyRequest, (req) => {
    const whole = F.encodeRequest(req);
    const head = F.encodeRequestHead(req);
    const tail = F.requestTail(req) ?? new Uint8Array(0);
    const e = req.ext ?? new Uint8Array(0);
    assert.is(head.length + tail.length + e.length, whole.length);
    const joined = new Uint8Array(whole.length);
    joined.set(head, 0); joined.set(tail, head.length); joined.set(e, head.length + tail.length);
    assert.equal(joined, whole);
  }), { numRuns: 300 });
});

t('reply: decode(encode(reply)) is reply, for every opcode, success and error', () => {
  for (const op of replyOpcodes) {
    fc.assert(fc.property(replyOf(op), ({ opcode, unique, result }) => {
      const bytes = encodeAny(opcode, unique, result);
      const d = F.decodeReply(opcode, bytes, ctxOf(result));
      if (!d.ok) throw new Error(`${F.opcodeName(op)}: ${d.reason}`);
      const expect = typeof result === 'number'
        ? { opcode, unique, errno: result, body: undefined }
        : { opcode, unique, errno: 0, body: result };
      assert.equal(d.value, expect);
    }), { numRuns: 60 });
  }
});

t('reply: head is the start of the whole reply, its len counting the tail', () => {
  fc.assert(fc.property(anyReply, ({ opcode, unique, result }) => {
    if (typeof result === 'number') return;
    const whole = encodeAny(opcode, unique, result);
    const head = F.encodeReplyHead(opcode, unique, result as never);
    assert.equal(whole.subarray(0, head.length), head);
    assert.is(new DataView(head.buffer).getUint32(0, true), whole.length);
    const tail = opcode === F.FUSE_READ ? (result as F.ReadOut).data.length
      : opcode === F.FUSE_READLINK ? (result as F.ReadlinkOut).link.length
        : opcode === F.FUSE_GETXATTR || opcode === F.FUSE_LISTXATTR ? ((result as F.XattrOut).value?.length ?? 0) : 0;
    assert.is(head.length + tail, whole.length);
  }), { numRuns: 300 });
});

function noThrow(f: () => F.Decoded<unknown>): void {
  let r: F.Decoded<unknown>;
  try { r = f(); } catch (e) { throw new Error(`decoder threw: ${String(e)}`); }
  assert.type(r.ok, 'boolean');
  if (!r.ok) {
    assert.ok(Number.isInteger(r.errno) && r.errno > 0, `errno ${r.errno}`);
    assert.type(r.reason, 'string');
  }
}

t('random bytes never throw out of the decoders', () => {
  fc.assert(fc.property(bytes(200), fc.constantFrom(...opcodes), (b, op) => {
    noThrow(() => F.decodeRequest(b));
    noThrow(() => F.decodeReply(op, b));
    noThrow(() => F.decodeInHeader(b));
    noThrow(() => F.decodeOutHeader(b));
  }), { numRuns: 2000 });
});

// Valid messages with body bytes overwritten (header kept) reach the body
// decoders; whatever decodes must survive a second round trip.
const pokes = fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 });
function poke(b: Uint8Array, from: number, ps: { at: number; value: number }[]): Uint8Array {
  const out = b.slice();
  if (out.length > from) for (const p of ps) out[from + (p.at % (out.length - from))] = p.value;
  return out;
}

t('corrupted bodies under valid headers never throw; what decodes re-encodes', () => {
  let decoded = 0;
  fc.assert(fc.property(anyRequest, anyReply, pokes, (req, rep, ps) => {
    const rq = poke(F.encodeRequest(req), F.FUSE_IN_HEADER_SIZE, ps);
    noThrow(() => F.decodeRequest(rq));
    const d = F.decodeRequest(rq);
    if (d.ok) { decoded++; assert.equal(F.decodeRequest(F.encodeRequest(d.value)), d); }
    const rb = poke(encodeAny(rep.opcode, rep.unique, rep.result), F.FUSE_OUT_HEADER_SIZE, ps);
    noThrow(() => F.decodeReply(rep.opcode, rb));
    const e = F.decodeReply(rep.opcode, rb);
    if (e.ok && e.value.body !== undefined) {
      assert.equal(F.decodeReply(rep.opcode, encodeAny(rep.opcode, e.value.unique, e.value.body)), e);
    }
  }), { numRuns: 1500 });
  assert.ok(decoded > 100, `only ${decoded} corrupted requests decoded: the property barely ran`);
});

const mutation = fc.oneof(
  rec({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  rec({ kind: fc.constant('cut' as const), at: fc.nat() }),
  rec({ kind: fc.constant('grow' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(b: Uint8Array, ms: Mutation[], fixLen: boolean): Uint8Array {
  let out = b.slice();
  for (const m of ms) {
    if (m.kind === 'set') { if (out.length) out[m.at % out.length] = m.value; }
    else if (m.kind === 'cut') out = out.slice(0, m.at % (out.length + 1));
    else { const n = new Uint8Array(out.length + m.extra.length); n.set(out); n.set(m.extra, out.length); out = n; }
  }
  if (fixLen && out.length >= 4) new DataView(out.buffer).setUint32(0, out.length, true);
  return out;
}

t('mutated valid messages never throw out of the decoders', () => {
  fc.assert(fc.property(anyRequest, anyReply, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(),
    (req, rep, ms, fixLen) => {
      noThrow(() => F.decodeRequest(mutate(F.encodeRequest(req), ms, fixLen)));
      noThrow(() => F.decodeReply(rep.opcode, mutate(encodeAny(rep.opcode, rep.unique, rep.result), ms, fixLen)));
    }), { numRuns: 1500 });
});

t.run();
