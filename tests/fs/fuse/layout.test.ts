// Exact bytes of the FUSE structs as fuse.h lays them out, dirent padding,
// the READDIR fill limit, sizes of the writable part, and zero-copy views.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../../fs/fuse';

const t = suite('fuse codec (layout)');

const hdr = { unique: 0x1122334455667788n, nodeid: 0xfedcba9876543210n, uid: 1000, gid: 100, pid: 42 };
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const nm = (s: string) => F.fuseName(s);
function ok<T>(d: F.Decoded<T>): T {
  if (!d.ok) throw new Error(`decode failed: ${d.reason}`);
  return d.value;
}

const attr: F.Attr = {
  ino: 2n, size: 3n, blocks: 4n, atime: 5n, mtime: 6n, ctime: 7n, atimensec: 8, mtimensec: 9, ctimensec: 10,
  mode: 0o100644, nlink: 1, uid: 12, gid: 13, rdev: 14, blksize: 4096, flags: F.FUSE_ATTR_DAX,
};
const entry: F.EntryOut = {
  nodeid: 20n, generation: 21n, entry_valid: 22n, attr_valid: 23n, entry_valid_nsec: 24, attr_valid_nsec: 25, attr,
};

t('fuse_in_header: 40 bytes, fields at fuse.h offsets, u64 beyond 2^53', () => {
  const b = F.encodeRequest({ opcode: F.FUSE_GETATTR, ...hdr, body: { getattr_flags: F.FUSE_GETATTR_FH, fh: 9n } });
  const v = dv(b);
  assert.is(b.length, 40 + 16);
  assert.is(v.getUint32(0, true), 56);
  assert.is(v.getUint32(4, true), 3);
  assert.is(v.getBigUint64(8, true), hdr.unique);
  assert.is(v.getBigUint64(16, true), hdr.nodeid);
  assert.is(v.getUint32(24, true), 1000);
  assert.is(v.getUint32(28, true), 100);
  assert.is(v.getUint32(32, true), 42);
  assert.is(v.getUint16(36, true), 0);
  assert.is(v.getUint32(40, true), F.FUSE_GETATTR_FH);
  assert.is(v.getBigUint64(48, true), 9n);
  const h = ok(F.decodeInHeader(b));
  assert.is(h.nodeid, 0xfedcba9876543210n);
});

t('extensions: total_extlen counts 8-byte units at the end of the request', () => {
  const ext = new Uint8Array(16).fill(7);
  const b = F.encodeRequest({ opcode: F.FUSE_MKDIR, ...hdr, body: { mode: 0o755, umask: 0o22, name: nm('d') }, ext });
  assert.is(dv(b).getUint16(36, true), 2);
  assert.is(b.length, 40 + 8 + 2 + 16);
  assert.equal(b.subarray(b.length - 16), ext);
});

t('fuse_out_header: 16 bytes, error is a negated errno', () => {
  const b = F.encodeReply(F.FUSE_UNLINK, 5n, 2);
  assert.is(b.length, 16);
  assert.is(dv(b).getUint32(0, true), 16);
  assert.is(dv(b).getInt32(4, true), -2);
  assert.is(dv(b).getBigUint64(8, true), 5n);
});

t('fuse_init_in: 64 bytes, flags at 12, flags2 at 16', () => {
  const flags = F.FUSE_INIT_EXT | F.FUSE_MAP_ALIGNMENT | F.FUSE_HAS_INODE_DAX | F.FUSE_DO_READDIRPLUS;
  const b = F.encodeRequest({
    opcode: F.FUSE_INIT, ...hdr, body: { major: 7, minor: F.FUSE_KERNEL_MINOR_VERSION, max_readahead: 0x20000, flags },
  });
  const v = dv(b.subarray(40));
  assert.is(b.length - 40, F.FUSE_INIT_IN_SIZE);
  assert.is(v.getUint32(0, true), 7);
  assert.is(v.getUint32(4, true), 38);
  assert.is(v.getUint32(8, true), 0x20000);
  assert.is(v.getUint32(12, true), (1 << 30) + (1 << 26) + (1 << 13));
  assert.is(v.getUint32(16, true), 1 << 1, 'FUSE_HAS_INODE_DAX is bit 1 of flags2');
  // A pre-7.36 kernel's 16-byte fuse_init_in: no flags2.
  const old = b.slice(0, 56); dv(old).setUint32(0, 56, true);
  assert.is((ok(F.decodeRequest(old)).body as F.InitIn).flags, (1n << 30n) | (1n << 26n) | (1n << 13n));
});

t('fuse_init_out: 64 bytes, map_alignment at 30, flags2 at 32, max_stack_depth at 36', () => {
  const out: F.InitOut = {
    major: 7, minor: 36, max_readahead: 0x20000, flags: F.FUSE_MAP_ALIGNMENT | F.FUSE_INIT_EXT | F.FUSE_HAS_INODE_DAX,
    max_background: 0x1234, congestion_threshold: 0x5678, max_write: 0x100000, time_gran: 1, max_pages: 256,
    map_alignment: 12, max_stack_depth: 0,
  };
  const b = F.encodeReply(F.FUSE_INIT, 1n, out);
  assert.is(b.length, 16 + 64);
  const v = dv(b.subarray(16));
  assert.is(v.getUint32(12, true), (1 << 26) | (1 << 30));
  assert.is(v.getUint16(16, true), 0x1234);
  assert.is(v.getUint16(18, true), 0x5678);
  assert.is(v.getUint32(20, true), 0x100000);
  assert.is(v.getUint32(24, true), 1);
  assert.is(v.getUint16(28, true), 256);
  assert.is(v.getUint16(30, true), 12);
  assert.is(v.getUint32(32, true), 2);
  for (let i = 36; i < 64; i++) assert.is(v.getUint8(i), 0, `unused byte ${i}`);
  // libfuse's 24-byte compat reply: later fields read as 0.
  const compat = b.slice(0, 16 + 24); dv(compat).setUint32(0, 40, true);
  const d = ok(F.decodeReply(F.FUSE_INIT, compat));
  assert.is(d.body?.max_write, 0x100000);
  assert.is(d.body?.map_alignment, 0);
  assert.is(d.body?.flags, (1n << 26n) | (1n << 30n));
});

t('fuse_setupmapping_in is 40 bytes: fh, foffset, len, flags, moffset', () => {
  const b = F.encodeRequest({
    opcode: F.FUSE_SETUPMAPPING, ...hdr,
    body: { fh: 1n, foffset: 2n << 21n, len: 2n << 20n, flags: F.FUSE_SETUPMAPPING_FLAG_READ | F.FUSE_SETUPMAPPING_FLAG_WRITE, moffset: 0xffffffffffe00000n },
  });
  assert.is(F.FUSE_SETUPMAPPING, 48);
  assert.is(b.length - 40, 40);
  const v = dv(b.subarray(40));
  assert.equal([0, 8, 16, 24, 32].map((o) => v.getBigUint64(o, true)), [1n, 4n << 20n, 2n << 20n, 3n, 0xffffffffffe00000n]);
});

t('fuse_removemapping_in: a u32 count, then entries from offset 4', () => {
  const b = F.encodeRequest({
    opcode: F.FUSE_REMOVEMAPPING, ...hdr, body: { mappings: [{ moffset: 0x200000n, len: 0x200000n }, { moffset: 0n, len: 1n }] },
  });
  assert.is(F.FUSE_REMOVEMAPPING, 49);
  assert.is(b.length - 40, 4 + 2 * 16);
  const v = dv(b.subarray(40));
  assert.is(v.getUint32(0, true), 2);
  assert.is(v.getBigUint64(4, true), 0x200000n);
  assert.is(v.getBigUint64(12, true), 0x200000n);
  assert.is(v.getBigUint64(28, true), 1n);
});

t('fuse_attr is 88 bytes with flags at 84; fuse_entry_out 128; fuse_attr_out 104', () => {
  const e = F.encodeReply(F.FUSE_LOOKUP, 1n, entry).subarray(16);
  assert.is(e.length, 128);
  const v = dv(e);
  assert.is(v.getBigUint64(0, true), 20n);
  assert.is(v.getUint32(36, true), 25);
  assert.is(v.getBigUint64(40, true), 2n, 'attr.ino at 40');
  assert.is(v.getUint32(40 + 60, true), 0o100644, 'attr.mode at 60');
  assert.is(v.getUint32(40 + 80, true), 4096, 'attr.blksize at 80');
  assert.is(v.getUint32(40 + 84, true), F.FUSE_ATTR_DAX, 'attr.flags at 84');
  const a = F.encodeReply(F.FUSE_GETATTR, 1n, { attr_valid: 1n, attr_valid_nsec: 2, attr }).subarray(16);
  assert.is(a.length, 104);
  assert.is(dv(a).getUint32(16 + 84, true), 2);
});

t('fuse_open_out, fuse_kstatfs, CREATE reply sizes', () => {
  assert.is(F.encodeReply(F.FUSE_OPEN, 1n, { fh: 1n, open_flags: F.FOPEN_KEEP_CACHE, backing_id: 0 }).length, 16 + 16);
  const st = F.encodeReply(F.FUSE_STATFS, 1n, { blocks: 1n, bfree: 2n, bavail: 3n, files: 4n, ffree: 5n, bsize: 4096, namelen: 255, frsize: 4096 });
  assert.is(st.length, 16 + 80);
  assert.is(dv(st).getUint32(16 + 44, true), 255);
  const cr = F.encodeReply(F.FUSE_CREATE, 1n, { entry_out: entry, open_out: { fh: 0xabn, open_flags: 0, backing_id: 0 } });
  assert.is(cr.length, 16 + 144);
  assert.is(dv(cr).getBigUint64(16 + 128, true), 0xabn);
});

t('dirents are padded to 8 bytes with zeros', () => {
  const ents = ['a', 'abcdefgh', 'abcdefghi'].map((s, i) => ({ ino: BigInt(i + 10), off: BigInt(i + 1), type: F.DT_REG, name: nm(s) }));
  const b = F.encodeReply(F.FUSE_READDIR, 1n, { entries: ents });
  assert.is(b.length, 16 + 32 + 32 + 40);
  assert.equal(Array.from(b.subarray(16 + 25, 16 + 32)), [0, 0, 0, 0, 0, 0, 0], 'padding after "a"');
  const v = dv(b);
  assert.is(v.getBigUint64(16 + 32 + 32, true), 12n);
  assert.is(v.getUint32(16 + 64 + 16, true), 9);
  assert.is(F.direntSize(1), 32);
  assert.is(F.direntSize(8), 32);
  assert.is(F.direntSize(9), 40);
  assert.is(F.direntplusSize(1), 128 + 32);
  assert.is(F.FUSE_NAME_OFFSET_DIRENTPLUS, 152);
  const p = F.encodeReply(F.FUSE_READDIRPLUS, 1n, { entries: [{ entry_out: entry, dirent: ents[0]! }] });
  assert.is(p.length, 16 + 160);
  assert.is(p[16 + 152], 0x61);
  assert.equal(Array.from(p.subarray(16 + 153)), [0, 0, 0, 0, 0, 0, 0]);
});

t('READDIR fill: only entries that fit whole, and how many', () => {
  const ents = Array.from({ length: 5 }, (_, i) => ({ ino: BigInt(i), off: BigInt(i + 1), type: F.DT_DIR, name: nm(`e${i}`) }));
  for (const [size, count] of [[0, 0], [31, 0], [32, 1], [95, 2], [96, 3], [100, 3], [4096, 5]] as const) {
    const r = F.encodeReaddirReply(F.FUSE_READDIR, 9n, ents, size);
    assert.is(r.count, count, `size ${size}`);
    assert.is(r.bytes.length, 16 + 32 * count);
    const d = ok(F.decodeReply(F.FUSE_READDIR, r.bytes));
    assert.equal(d.body?.entries, ents.slice(0, count));
  }
  const plus = ents.map((dirent) => ({ entry_out: entry, dirent }));
  const r = F.encodeReaddirReply(F.FUSE_READDIRPLUS, 9n, plus, 3 * 160 + 159);
  assert.is(r.count, 3);
  assert.is(ok(F.decodeReply(F.FUSE_READDIRPLUS, r.bytes)).body?.entries.length, 3);
});

t('bulk data is a view into the message, not a copy', () => {
  const data = new Uint8Array([1, 2, 3, 4, 5]);
  const w = F.encodeRequest({ opcode: F.FUSE_WRITE, ...hdr, body: { fh: 1n, offset: 0n, write_flags: 0, lock_owner: 0n, flags: 0, data } });
  const body = ok(F.decodeRequest(w)).body as F.WriteIn;
  assert.is(body.data.buffer, w.buffer);
  assert.is(body.data.byteOffset, w.byteOffset + 80);
  w[80] = 99;
  assert.is(body.data[0], 99);
  const rd = F.encodeReply(F.FUSE_READ, 1n, { data });
  const got = ok(F.decodeReply(F.FUSE_READ, rd)).body!;
  assert.is(got.data.buffer, rd.buffer);
  assert.is(got.data.byteOffset, 16);
  const rl = F.encodeReply(F.FUSE_READLINK, 1n, { link: nm('/x/y') });
  assert.is(ok(F.decodeReply(F.FUSE_READLINK, rl)).body!.link.buffer, rl.buffer);
  const lk = F.encodeRequest({ opcode: F.FUSE_LOOKUP, ...hdr, body: { name: nm('file') } });
  assert.is((ok(F.decodeRequest(lk)).body as F.NameIn).name.buffer, lk.buffer);
});

t('encodeRequestHead leaves WRITE data out but counts it in len', () => {
  const data = new Uint8Array(4096);
  const req = { opcode: F.FUSE_WRITE, ...hdr, body: { fh: 1n, offset: 0n, write_flags: 0, lock_owner: 0n, flags: 0, data } } as const;
  const head = F.encodeRequestHead(req);
  assert.is(head.length, 80);
  assert.is(dv(head).getUint32(0, true), 80 + 4096);
  assert.is(dv(head).getUint32(56, true), 4096);
  assert.is(F.requestTail(req), data);
});

t('sizes of the writable part', () => {
  const read = { fh: 1n, offset: 0n, size: 65536, read_flags: 0, lock_owner: 0n, flags: 0 };
  assert.is(F.replyMaxSize({ opcode: F.FUSE_READ, ...hdr, body: read }), 16 + 65536);
  assert.is(F.replyMaxSize({ opcode: F.FUSE_READDIRPLUS, ...hdr, body: { ...read, size: 4096 } }), 16 + 4096);
  assert.is(F.replyMaxSize({ opcode: F.FUSE_READLINK, ...hdr, body: null }), 16 + 4096);
  assert.is(F.replyMaxSize({ opcode: F.FUSE_FORGET, ...hdr, body: { nlookup: 1n } }), 0);
  assert.is(F.replyFixedSize(F.FUSE_LOOKUP), 16 + 128);
  assert.is(F.replyFixedSize(F.FUSE_GETATTR), 16 + 104);
  assert.is(F.replyFixedSize(F.FUSE_OPEN), 16 + 16);
  assert.is(F.replyFixedSize(F.FUSE_CREATE), 16 + 144);
  assert.is(F.replyFixedSize(F.FUSE_INIT), 16 + 64);
  assert.is(F.replyFixedSize(F.FUSE_STATFS), 16 + 80);
  assert.is(F.replyFixedSize(F.FUSE_WRITE), 16 + 8);
  assert.is(F.replyFixedSize(F.FUSE_SETUPMAPPING), 16);
  assert.is(F.replyFixedSize(F.FUSE_BATCH_FORGET), 0);
});

t('names: bytes kept, UTF-8 helpers at the edges', () => {
  assert.equal(F.fuseName('é'), new Uint8Array([0xc3, 0xa9]));
  assert.is(F.nameToString(new Uint8Array([0x66, 0xff])), 'f\ufffd');
  const raw = new Uint8Array([0x66, 0xff, 0xfe]);
  const b = F.encodeRequest({ opcode: F.FUSE_LOOKUP, ...hdr, body: { name: raw } });
  assert.equal((ok(F.decodeRequest(b)).body as F.NameIn).name, raw, 'non-UTF-8 name survives');
});

t.run();
