// The FuseServer alone, over fake FuseFilesystems: gating, ENOSYS, the one
// errno-to-reply path, no reply for FORGET/BATCH_FORGET/INTERRUPT, the
// reply-size fit, READ through its sink, READDIRPLUS that overflows.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../core/errno';
import * as K from '../../fs/fuse';
import { EntryOut, encodeRequest, fuseName } from '../../fs/fuse';
import { FuseClient, FuseContext, FuseFilesystem, FuseServer } from '../../tools/vmm/fuse';

const t = suite('fuse-server');

const attr = (ino: bigint): K.Attr => ({
  ino, size: 0n, blocks: 0n, atime: 0n, mtime: 0n, ctime: 0n, atimensec: 0, mtimensec: 0, ctimensec: 0,
  mode: 0o100644, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 4096, flags: 0,
});
const entry = (nodeid: bigint): EntryOut => ({
  nodeid, generation: 0n, entry_valid: 1n, attr_valid: 1n, entry_valid_nsec: 0, attr_valid_nsec: 0, attr: attr(nodeid),
});
const readIn = (size: number, offset = 0n) => ({ fh: 1n, offset, size, read_flags: 0, lock_owner: 0n, flags: 0 });

function rig(fs: FuseFilesystem) {
  const warnings: string[] = [];
  const server = new FuseServer(fs, { logger: { warn: (m) => { warnings.push(m); } } });
  return { server, c: new FuseClient(server), warnings };
}

t('requests before INIT get EIO; INIT opens the gate; DESTROY closes it again', async () => {
  const calls: string[] = [];
  const { c } = rig({
    getattr: () => { calls.push('getattr'); return { attr_valid: 1n, attr_valid_nsec: 0, attr: attr(1n) }; },
    destroy: () => { calls.push('destroy'); },
  });
  assert.is((await c.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n })).errno, Errno.EIO);
  assert.equal(calls, [], 'the filesystem never saw it');
  assert.is((await c.init()).errno, 0);
  assert.is((await c.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n })).errno, 0);
  assert.is((await c.call(K.FUSE_DESTROY, 0n, null)).errno, 0);
  assert.is((await c.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n })).errno, Errno.EIO);
  assert.equal(calls, ['getattr', 'destroy']);
});

t('INIT: the filesystem is asked only for a version the server serves, and its wishes are offered', async () => {
  const asked: number[] = [];
  const { c } = rig({ init: (_ctx, body) => { asked.push(body.minor); return { inodeDax: true }; } });
  assert.is((await c.init(K.FUSE_INIT_EXT | K.FUSE_HAS_INODE_DAX, 30)).errno, Errno.EPROTO);
  const newer = await c.call(K.FUSE_INIT, 0n, { major: 8, minor: 0, max_readahead: 0, flags: 0n });
  assert.is(newer.body!.major, 7);
  assert.equal(asked, []);
  const r = await c.init(K.FUSE_INIT_EXT | K.FUSE_HAS_INODE_DAX, 36);
  assert.ok((r.body!.flags & K.FUSE_HAS_INODE_DAX) !== 0n);
  assert.equal(asked, [36]);
  const none = rig({});
  assert.is((await none.c.init(K.FUSE_INIT_EXT | K.FUSE_HAS_INODE_DAX)).body!.flags & K.FUSE_HAS_INODE_DAX, 0n);
});

t('an op the filesystem does not implement answers ENOSYS', async () => {
  const { c } = rig({});
  await c.init();
  assert.is((await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('x') })).errno, Errno.ENOSYS);
  assert.is((await c.call(K.FUSE_READ, 1n, readIn(10))).errno, Errno.ENOSYS);
  assert.is((await c.call(K.FUSE_READDIRPLUS, 1n, readIn(4096))).errno, Errno.ENOSYS);
  assert.is((await c.call(K.FUSE_WRITE, 1n, { fh: 1n, offset: 0n, write_flags: 0, lock_owner: 0n, flags: 0, data: new Uint8Array(5) })).errno, Errno.ENOSYS);
  assert.is((await c.call(K.FUSE_SETUPMAPPING, 1n, { fh: 1n, foffset: 0n, len: 4096n, moffset: 0n, flags: 0n })).errno, Errno.ENOSYS);
  assert.is((await c.call(K.FUSE_DESTROY, 0n, null)).errno, 0, 'DESTROY needs no op');
});

t('errno replies: an ErrnoError, a Node-style error code, anything else EIO (logged)', async () => {
  const { c, warnings } = rig({
    lookup: (_ctx, b) => {
      const n = K.nameToString(b.name);
      if (n === 'enoent') throw new ErrnoError(Errno.ENOENT, 'no');
      if (n === 'code') throw Object.assign(new Error('host'), { code: 'EACCES' });
      if (n === 'async') return Promise.reject(new ErrnoError(Errno.ESTALE));
      throw new Error('a bug');
    },
  });
  await c.init();
  const errno = async (n: string) => (await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName(n) })).errno;
  assert.is(await errno('enoent'), Errno.ENOENT);
  assert.is(await errno('code'), Errno.EACCES);
  assert.is(await errno('async'), Errno.ESTALE);
  assert.is(warnings.length, 0, 'an errno the op chose is not logged');
  assert.is(await errno('bug'), Errno.EIO);
  assert.ok(warnings.some((w) => /LOOKUP: Error: a bug/.test(w)));
});

t('FORGET, BATCH_FORGET and INTERRUPT get no reply; forgets reach the filesystem, even before INIT', async () => {
  const seen: Array<[bigint, bigint]> = [];
  const { c, warnings } = rig({ forget: (_ctx, list) => { for (const f of list) seen.push([f.nodeid, f.nlookup]); } });
  assert.is(await c.send(K.FUSE_FORGET, 7n, { nlookup: 2n }), null);
  await c.init();
  assert.is(await c.send(K.FUSE_BATCH_FORGET, 0n, { forgets: [{ nodeid: 8n, nlookup: 1n }, { nodeid: 9n, nlookup: 3n }] }), null);
  assert.is(await c.send(K.FUSE_INTERRUPT, 0n, { unique: 3n }), null);
  assert.equal(seen, [[7n, 2n], [8n, 1n], [9n, 3n]]);
  const throwing = rig({ forget: () => { throw new Error('boom'); } });
  assert.is(await throwing.c.send(K.FUSE_FORGET, 7n, { nlookup: 1n }), null);
  assert.ok(throwing.warnings.some((w) => /FORGET/.test(w)));
  assert.is(warnings.length, 0);
  // An undecodable FORGET is dropped, never answered.
  const bad = encodeRequest({ opcode: K.FUSE_FORGET, unique: 5n, nodeid: 1n, uid: 0, gid: 0, pid: 0, body: { nlookup: 1n } }).slice(0, 44);
  new DataView(bad.buffer).setUint32(0, 44, true);
  assert.is(await c.server.handle(bad, { queue: 0, replyCapacity: 4096 }), null);
});

t('reply-size fit: a reply larger than the buffer is ERANGE; below 16 bytes nothing at all', async () => {
  const { c, server, warnings } = rig({ lookup: () => entry(2n), readlink: () => ({ link: fuseName('x'.repeat(300)) }) });
  await c.init();
  assert.is((await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('a') }, 64)).errno, Errno.ERANGE);
  assert.is((await c.call(K.FUSE_READLINK, 2n, null, 200)).errno, Errno.ERANGE);
  assert.is((await c.call(K.FUSE_READLINK, 2n, null, 316)).errno, 0, 'exactly fits');
  assert.ok(warnings.some((w) => /exceeds the 64-byte buffer/.test(w)));
  const req = encodeRequest({ opcode: K.FUSE_LOOKUP, unique: 99n, nodeid: 1n, uid: 0, gid: 0, pid: 0, body: { name: fuseName('a') } });
  assert.is(await server.handle(req, { queue: 1, replyCapacity: 15 }), null);
  const err = await server.handle(req, { queue: 1, replyCapacity: 16 });
  assert.is(new DataView(err!.buffer, err!.byteOffset).getInt32(4, true), -Errno.ERANGE);
});

t('READ: size clamped to the buffer, data through the sink, header written by the server', async () => {
  const data = new Uint8Array(10000).map((_, k) => k & 0xff);
  const sizes: number[] = [];
  const { c } = rig({
    read: async (_ctx: FuseContext, b, out) => {
      sizes.push(b.size);
      assert.is(out.room, b.size);
      const from = Number(b.offset);
      const end = Math.min(data.length, from + b.size);
      // Half copied in, half filled in place, half of that later.
      const mid = from + Math.floor((end - from) / 2);
      out.write(data.subarray(from, mid));
      const quarter = Math.floor((end - mid) / 2);
      out.fill(quarter, (bufs) => { bufs[0]!.set(data.subarray(mid, mid + quarter)); return quarter; });
      await out.fillLater(end - mid - quarter, async (bufs) => {
        let at = mid + quarter;
        for (const v of bufs) { v.set(data.subarray(at, at + v.length)); at += v.length; }
        return end - mid - quarter;
      });
    },
  });
  await c.init();
  const full = await c.call(K.FUSE_READ, 2n, readIn(4096, 100n));
  assert.ok(Buffer.from(full.body!.data).equals(Buffer.from(data.subarray(100, 4196))));
  const clamped = await c.call(K.FUSE_READ, 2n, readIn(4096, 0n), 16 + 1000);
  assert.is(clamped.body!.data.length, 1000);
  const eof = await c.call(K.FUSE_READ, 2n, readIn(4096, 9000n));
  assert.is(eof.body!.data.length, 1000);
  assert.equal(sizes, [4096, 1000, 4096]);
  const over = rig({ read: (_c, _b, out) => { out.write(new Uint8Array(out.room + 1)); } });
  await over.c.init();
  assert.is((await over.c.call(K.FUSE_READ, 2n, readIn(10))).errno, Errno.EIO, 'more than room is a filesystem bug');
});

t('READDIRPLUS entries that do not fit: EIO, and their lookups are forgotten again', async () => {
  const forgotten: bigint[] = [];
  const plus = (nodeid: bigint, name: string, off: bigint): K.DirentPlus => ({
    entry_out: entry(nodeid), dirent: { ino: nodeid, off, type: K.DT_REG, name: fuseName(name) },
  });
  const { c } = rig({
    readdirplus: (_ctx, b) => ({ entries: [plus(0n, '.', 1n), plus(5n, 'a', 2n), plus(6n, 'b'.repeat(200), 3n)].slice(0, b.size > 400 ? 3 : 2) }),
    forget: (_ctx, list) => { for (const f of list) forgotten.push(f.nodeid); },
  });
  await c.init();
  assert.is((await c.call(K.FUSE_READDIRPLUS, 1n, readIn(4096))).body!.entries.length, 3);
  const small = K.direntplusSize(1) * 2 + K.direntplusSize(200) - 8;
  assert.is((await c.call(K.FUSE_READDIRPLUS, 1n, readIn(small))).errno, Errno.EIO);
  assert.equal(forgotten, [5n, 6n], "'.' (nodeid 0) counted no lookup");
});

t('undecodable requests: an error reply with their unique; garbage never throws', async () => {
  const { server, c } = rig({});
  await c.init();
  const ctx = { queue: 1, replyCapacity: 4096 };
  const unknown = encodeRequest({ opcode: K.FUSE_GETATTR, unique: 77n, nodeid: 1n, uid: 0, gid: 0, pid: 0, body: { getattr_flags: 0, fh: 0n } });
  new DataView(unknown.buffer).setUint32(4, 4000, true);
  const u = await server.handle(unknown, ctx);
  assert.is(new DataView(u!.buffer, u!.byteOffset).getInt32(4, true), -Errno.ENOSYS);
  assert.is(new DataView(u!.buffer, u!.byteOffset).getBigUint64(8, true), 77n);
  for (let k = 0; k < 300; k++) {
    const junk = new Uint8Array(40 + (k % 90));
    for (let j = 0; j < junk.length; j++) junk[j] = (k * 31 + j * 17) & 0xff;
    new DataView(junk.buffer).setUint32(0, junk.length, true);
    if (k % 3 === 0) new DataView(junk.buffer).setUint32(4, K.FUSE_WRITE, true);
    await server.handle(junk, ctx);
  }
});

t.run();
