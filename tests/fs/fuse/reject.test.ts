// Each way a FUSE message can be malformed is rejected with an errno.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import * as F from '../../../fs/fuse';

const t = suite('fuse codec (rejections)');

const hdr = { unique: 77n, nodeid: 1n, uid: 0, gid: 0, pid: 1 };
const nm = (s: string) => F.fuseName(s);
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

function rejects<T>(d: F.Decoded<T>, errno: number, reason?: RegExp): void {
  if (d.ok) throw new assert.Assertion({ message: 'decoded a malformed message', actual: d, expects: errno, operator: 'rejects' });
  assert.is(d.errno, errno, `errno for: ${d.reason}`);
  if (reason) assert.match(d.reason, reason);
}

/** A request of `opcode` whose args are `args`, with a correct len. */
function raw(opcode: number, args: Uint8Array): Uint8Array {
  const b = new Uint8Array(40 + args.length);
  const v = dv(b);
  v.setUint32(0, b.length, true); v.setUint32(4, opcode, true); v.setBigUint64(8, 77n, true);
  b.set(args, 40);
  return b;
}

function outMsg(error: number, body = 0): Uint8Array {
  const b = new Uint8Array(16 + body);
  const v = dv(b);
  v.setUint32(0, b.length, true); v.setInt32(4, error, true); v.setBigUint64(8, 5n, true);
  return b;
}

t('request shorter than fuse_in_header', () => {
  const good = F.encodeRequest({ opcode: F.FUSE_STATFS, ...hdr, body: null });
  for (const n of [0, 1, 16, 39]) rejects(F.decodeRequest(good.subarray(0, n)), Errno.EINVAL, /fuse_in_header/);
});

t('request whose len disagrees with the buffer', () => {
  const good = F.encodeRequest({ opcode: F.FUSE_LOOKUP, ...hdr, body: { name: nm('a') } });
  const longer = new Uint8Array(good.length + 8); longer.set(good);
  rejects(F.decodeRequest(longer), Errno.EINVAL, /len/);
  const bad = good.slice(); dv(bad).setUint32(0, good.length - 1, true);
  rejects(F.decodeRequest(bad), Errno.EINVAL, /len/);
});

t('request body shorter (or longer) than its struct', () => {
  const read = F.encodeRequest({
    opcode: F.FUSE_READ, ...hdr,
    body: { fh: 1n, offset: 0n, size: 4096, read_flags: 0, lock_owner: 0n, flags: 0 },
  });
  rejects(F.decodeRequest(raw(F.FUSE_READ, read.subarray(40, 79))), Errno.EINVAL, /needs 40/);
  rejects(F.decodeRequest(raw(F.FUSE_READ, new Uint8Array(48))), Errno.EINVAL, /trailing/);
  rejects(F.decodeRequest(raw(F.FUSE_SETUPMAPPING, new Uint8Array(39))), Errno.EINVAL);
  rejects(F.decodeRequest(raw(F.FUSE_INIT, new Uint8Array(32))), Errno.EINVAL, /fuse_init_in/);
  rejects(F.decodeRequest(raw(F.FUSE_MKDIR, new Uint8Array(4))), Errno.EINVAL, /fuse_mkdir_in/);
  rejects(F.decodeRequest(raw(F.FUSE_STATFS, new Uint8Array(8))), Errno.EINVAL);
});

t('names: no NUL, empty, too long, with a slash, trailing bytes', () => {
  rejects(F.decodeRequest(raw(F.FUSE_LOOKUP, nm('abc'))), Errno.EINVAL, /without its NUL/);
  rejects(F.decodeRequest(raw(F.FUSE_LOOKUP, new Uint8Array(0))), Errno.EINVAL, /without its NUL/);
  rejects(F.decodeRequest(raw(F.FUSE_UNLINK, new Uint8Array([0]))), Errno.EINVAL, /empty/);
  // Linux sends request names up to PATH_MAX - 1 and lets the server say
  // ENAMETOOLONG; the codec refuses only what no kernel sends.
  const long = new Uint8Array(4097).fill(0x61); long[4096] = 0;
  rejects(F.decodeRequest(raw(F.FUSE_LOOKUP, long)), Errno.EINVAL, /longer than 4095/);
  const max = new Uint8Array(4096).fill(0x61); max[4095] = 0;
  assert.ok(F.decodeRequest(raw(F.FUSE_LOOKUP, max)).ok, 'a 4095-byte name decodes (the server answers ENAMETOOLONG)');
  rejects(F.decodeRequest(raw(F.FUSE_RMDIR, new Uint8Array([0x61, 0x2f, 0x62, 0]))), Errno.EINVAL, /'\/'/);
  rejects(F.decodeRequest(raw(F.FUSE_LOOKUP, new Uint8Array([0x61, 0, 0x62]))), Errno.EINVAL, /after the last name/);
  // RENAME needs two names; the second one lacks its NUL.
  const ren = new Uint8Array(8 + 4); ren.set([0x61, 0, 0x62, 0x63], 8);
  rejects(F.decodeRequest(raw(F.FUSE_RENAME, ren)), Errno.EINVAL, /without its NUL/);
  // MKDIR: name missing after the struct.
  rejects(F.decodeRequest(raw(F.FUSE_MKDIR, new Uint8Array(8))), Errno.EINVAL, /without its NUL/);
});

t('SYMLINK target may hold slashes but not exceed PATH_MAX - 1', () => {
  const ok = F.encodeRequest({ opcode: F.FUSE_SYMLINK, ...hdr, body: { name: nm('l'), link: nm('../a/b') } });
  assert.ok(F.decodeRequest(ok).ok);
  const target = new Uint8Array(4097).fill(0x61); target[4096] = 0;
  const args = new Uint8Array(2 + target.length); args.set([0x6c, 0]); args.set(target, 2);
  rejects(F.decodeRequest(raw(F.FUSE_SYMLINK, args)), Errno.EINVAL, /symlink target longer/);
});

t('REMOVEMAPPING and BATCH_FORGET counts that overrun the buffer', () => {
  const rm = new Uint8Array(4 + 16); dv(rm).setUint32(0, 2, true);
  rejects(F.decodeRequest(raw(F.FUSE_REMOVEMAPPING, rm)), Errno.EINVAL, /count 2 overruns/);
  dv(rm).setUint32(0, 0xffffffff, true);
  rejects(F.decodeRequest(raw(F.FUSE_REMOVEMAPPING, rm)), Errno.EINVAL, /overruns/);
  dv(rm).setUint32(0, 1, true);
  assert.ok(F.decodeRequest(raw(F.FUSE_REMOVEMAPPING, rm)).ok);
  rejects(F.decodeRequest(raw(F.FUSE_REMOVEMAPPING, new Uint8Array(3))), Errno.EINVAL, /fuse_removemapping_in/);
  const bf = new Uint8Array(8 + 32); dv(bf).setUint32(0, 3, true);
  rejects(F.decodeRequest(raw(F.FUSE_BATCH_FORGET, bf)), Errno.EINVAL, /count 3 overruns/);
  dv(bf).setUint32(0, 1, true);
  rejects(F.decodeRequest(raw(F.FUSE_BATCH_FORGET, bf)), Errno.EINVAL, /trailing/);
});

t('WRITE size that disagrees with its data', () => {
  const w = F.encodeRequest({
    opcode: F.FUSE_WRITE, ...hdr,
    body: { fh: 1n, offset: 0n, write_flags: 0, lock_owner: 0n, flags: 0, data: new Uint8Array(10) },
  });
  dv(w).setUint32(40 + 16, 11, true);
  rejects(F.decodeRequest(w), Errno.EINVAL, /size 11/);
});

t('total_extlen that overruns the request', () => {
  const b = F.encodeRequest({ opcode: F.FUSE_STATFS, ...hdr, body: null });
  dv(b).setUint16(36, 1, true);
  rejects(F.decodeRequest(b), Errno.EINVAL, /total_extlen/);
});

t('SETXATTR whose size disagrees with its value, GETXATTR without a NUL, an empty xattr name', () => {
  const good = F.encodeRequest({ opcode: F.FUSE_SETXATTR, ...hdr, body: { flags: 1, name: nm('user.a'), value: nm('v1') } });
  assert.ok(F.decodeRequest(good).ok);
  const bad = good.slice();
  dv(bad).setUint32(40, 3, true);
  rejects(F.decodeRequest(bad), Errno.EINVAL, /fuse_setxattr_in.size 3 disagrees with the 2 value bytes/);
  const args = new Uint8Array(8 + 4);
  args.set(nm('user'), 8); // no NUL after the name
  rejects(F.decodeRequest(raw(F.FUSE_GETXATTR, args)), Errno.EINVAL, /xattr name without its NUL/);
  rejects(F.decodeRequest(raw(F.FUSE_REMOVEXATTR, new Uint8Array(1))), Errno.EINVAL, /empty xattr name/);
  assert.throws(() => F.encodeRequest({ opcode: F.FUSE_REMOVEXATTR, ...hdr, body: { name: new Uint8Array(256).fill(0x61) } }),
    (e: unknown) => e instanceof ErrnoError && e.errno === Errno.ENAMETOOLONG);
});

t('GETXATTR reply: the size probe takes exactly fuse_getxattr_out; data takes any length', () => {
  rejects(F.decodeReply(F.FUSE_GETXATTR, outMsg(0, 4), { sizeProbe: true }), Errno.EPROTO, /fuse_getxattr_out/);
  const d = F.decodeReply(F.FUSE_GETXATTR, outMsg(0, 4));
  assert.ok(d.ok && d.value.body?.value?.length === 4);
  const p = F.decodeReply(F.FUSE_LISTXATTR, outMsg(0, 8), { sizeProbe: true });
  assert.ok(p.ok && p.value.body?.size === 0);
});

t('an unknown opcode is ENOSYS and keeps unique, so the server can answer', () => {
  const d = F.decodeRequest(raw(39 /* IOCTL */, new Uint8Array(8)));
  rejects(d, Errno.ENOSYS, /IOCTL/);
  assert.is(!d.ok && d.unique, 77n);
  const e = F.decodeRequest(raw(F.FUSE_READ, new Uint8Array(3)));
  assert.is(!e.ok && e.unique, 77n);
});

t('reply shorter than fuse_out_header, or len disagreeing', () => {
  rejects(F.decodeReply(F.FUSE_GETATTR, new Uint8Array(15)), Errno.EPROTO, /fuse_out_header/);
  const b = outMsg(0, 104); dv(b).setUint32(0, 100, true);
  rejects(F.decodeReply(F.FUSE_GETATTR, b), Errno.EPROTO, /len/);
});

t('reply error > 0 or below -4095', () => {
  rejects(F.decodeReply(F.FUSE_UNLINK, outMsg(1)), Errno.EPROTO, /error 1/);
  rejects(F.decodeReply(F.FUSE_UNLINK, outMsg(-4096)), Errno.EPROTO, /error -4096/);
  const ok = F.decodeReply(F.FUSE_UNLINK, outMsg(-4095));
  assert.ok(ok.ok && ok.value.errno === 4095 && ok.value.body === undefined);
});

t('reply with an error and a body', () => {
  rejects(F.decodeReply(F.FUSE_GETATTR, outMsg(-Errno.ENOENT, 104)), Errno.EPROTO, /carries a 104-byte body/);
  const d = F.decodeReply(F.FUSE_GETATTR, outMsg(-Errno.ENOENT));
  assert.equal(d, { ok: true, value: { opcode: F.FUSE_GETATTR, unique: 5n, errno: Errno.ENOENT, body: undefined } });
});

t('reply body of the wrong size', () => {
  rejects(F.decodeReply(F.FUSE_GETATTR, outMsg(0, 103)), Errno.EPROTO, /fuse_attr_out/);
  rejects(F.decodeReply(F.FUSE_LOOKUP, outMsg(0, 0)), Errno.EPROTO, /fuse_entry_out/);
  rejects(F.decodeReply(F.FUSE_UNLINK, outMsg(0, 8)), Errno.EPROTO, /empty reply/);
  rejects(F.decodeReply(F.FUSE_INIT, outMsg(0, 40)), Errno.EPROTO, /fuse_init_out/);
  rejects(F.decodeReply(F.FUSE_READLINK, outMsg(0, 0)), Errno.EPROTO, /empty symlink target/);
  rejects(F.decodeReply(F.FUSE_FORGET, outMsg(0)), Errno.EPROTO, /no reply/);
});

function direntMsg(namelen: number, recordBytes: number): Uint8Array {
  const b = outMsg(0, recordBytes);
  const v = dv(b);
  v.setBigUint64(16, 2n, true); v.setBigUint64(24, 1n, true);
  v.setUint32(32, namelen, true); v.setUint32(36, F.DT_REG, true);
  b.fill(0x61, 40);
  return b;
}

t('dirent whose namelen overruns its record, or is 0, or has a slash', () => {
  assert.ok(F.decodeReply(F.FUSE_READDIR, direntMsg(8, 32)).ok);
  rejects(F.decodeReply(F.FUSE_READDIR, direntMsg(9, 32)), Errno.EIO, /overruns/);
  rejects(F.decodeReply(F.FUSE_READDIR, direntMsg(0xffffff00, 32)), Errno.EIO, /namelen/);
  rejects(F.decodeReply(F.FUSE_READDIR, direntMsg(0, 32)), Errno.EIO, /namelen 0/);
  // The last record's padding is part of it: 3 name bytes need 32, not 27.
  rejects(F.decodeReply(F.FUSE_READDIR, direntMsg(3, 27)), Errno.EIO, /overruns/);
  rejects(F.decodeReply(F.FUSE_READDIR, outMsg(0, 20)), Errno.EIO, /fuse_dirent: needs 24/);
  const slash = direntMsg(3, 32); slash[41] = 0x2f;
  rejects(F.decodeReply(F.FUSE_READDIR, slash), Errno.EIO, /'\/'/);
  rejects(F.decodeReply(F.FUSE_READDIRPLUS, direntMsg(3, 32)), Errno.EIO, /fuse_direntplus/);
});

t('encoders refuse what cannot go on the wire', () => {
  const throwsErrno = (f: () => unknown, errno: number) => {
    try { f(); } catch (e) { assert.instance(e, ErrnoError); assert.is((e as ErrnoError).errno, errno); return; }
    assert.unreachable('did not throw');
  };
  throwsErrno(() => F.encodeRequest({ opcode: F.FUSE_LOOKUP, ...hdr, body: { name: new Uint8Array(0) } }), Errno.EINVAL);
  throwsErrno(() => F.encodeRequest({ opcode: F.FUSE_LOOKUP, ...hdr, body: { name: new Uint8Array(4096).fill(97) } }), Errno.ENAMETOOLONG);
  throwsErrno(() => F.encodeRequest({ opcode: F.FUSE_MKDIR, ...hdr, body: { mode: 0, umask: 0, name: nm('a/b') } }), Errno.EINVAL);
  throwsErrno(() => F.encodeRequest({ opcode: F.FUSE_STATFS, ...hdr, body: null, ext: new Uint8Array(5) }), Errno.EINVAL);
  throwsErrno(() => F.encodeReply(F.FUSE_UNLINK, 1n, 0), Errno.EINVAL);
  throwsErrno(() => F.encodeReply(F.FUSE_UNLINK, 1n, 4096), Errno.EINVAL);
  throwsErrno(() => F.encodeReply(F.FUSE_FORGET, 1n, 2), Errno.EINVAL);
});

t('guard turns a bug inside a decoder into EIO, never an exception', () => {
  const d = F.guard(() => { throw new TypeError('boom'); });
  rejects(d, Errno.EIO, /internal decoder error: TypeError: boom/);
});

t.run();
