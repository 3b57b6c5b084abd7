import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Errno } from '../../core/errno';
import * as K from '../../fs/fuse';
import { encodeRequest, fuseName, nameToString } from '../../fs/fuse';
import { PassthroughServer } from '../../tools/vmm/passthrough';
import { PassthroughClient } from '../../tools/vmm/passthrough/client';
import { hostcalls, hostcallsMissing } from '../../tools/native/hostcalls.node';

const t = suite('passthrough');
const quiet = { warn: (_: string) => undefined };

function tree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-'));
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello world\n');
  fs.mkdirSync(path.join(root, 'sub'));
  fs.writeFileSync(path.join(root, 'sub', 'big.bin'), Buffer.alloc(100000, 7));
  fs.linkSync(path.join(root, 'hello.txt'), path.join(root, 'sub', 'hardlink'));
  fs.symlinkSync('hello.txt', path.join(root, 'link'));
  return root;
}

async function setup(opts: { readonly?: boolean } = {}) {
  const root = tree();
  const warnings: string[] = [];
  const server = new PassthroughServer({ root, daxPolicy: 'none', readonly: opts.readonly, logger: { warn: (m) => { warnings.push(m); } } });
  const c = new PassthroughClient(server);
  const done = async () => { await server.close(); fs.rmSync(root, { recursive: true, force: true }); };
  return { root, server, c, warnings, done };
}

async function lookup(c: PassthroughClient, parent: bigint, name: string) {
  return c.call(K.FUSE_LOOKUP, parent, { name: fuseName(name) });
}

t('INIT negotiates down to the client minor and offers DAX alignment', async () => {
  const { c, done } = await setup();
  try {
    const r = await c.init(K.FUSE_INIT_EXT | K.FUSE_MAP_ALIGNMENT | K.FUSE_HAS_INODE_DAX | K.FUSE_MAX_PAGES
      | K.FUSE_ASYNC_READ | K.FUSE_POSIX_LOCKS | K.FUSE_WRITEBACK_CACHE, 36);
    assert.is(r.errno, 0);
    const b = r.body!;
    assert.is(b.major, 7);
    assert.is(b.minor, 36);
    assert.is(b.map_alignment, 12);
    assert.ok((b.flags & K.FUSE_MAP_ALIGNMENT) !== 0n);
    assert.ok((b.flags & K.FUSE_INIT_EXT) !== 0n);
    assert.ok((b.flags & K.FUSE_ASYNC_READ) !== 0n);
    assert.is(b.flags & (K.FUSE_POSIX_LOCKS | K.FUSE_WRITEBACK_CACHE), 0n, 'never more than offered');
    // daxPolicy none: no per-inode DAX
    assert.is(b.flags & K.FUSE_HAS_INODE_DAX, 0n);
    assert.is(b.max_pages, 256);
    assert.is(b.max_readahead, 131072);
  } finally { await done(); }
});

t('INIT: flags2 only with FUSE_INIT_EXT; old minors refused with EPROTO; newer major gets our version', async () => {
  const root = tree();
  const server = new PassthroughServer({ root, daxPolicy: 'always', logger: quiet });
  const c = new PassthroughClient(server);
  try {
    const noExt = await c.init(K.FUSE_MAP_ALIGNMENT | K.FUSE_HAS_INODE_DAX);
    assert.is(noExt.body!.flags >> 32n, 0n);
    const ext = await c.init(K.FUSE_INIT_EXT | K.FUSE_HAS_INODE_DAX);
    assert.ok((ext.body!.flags & K.FUSE_HAS_INODE_DAX) !== 0n);
    assert.is((await c.init(0n, 30)).errno, Errno.EPROTO);
    assert.is((await c.call(K.FUSE_INIT, 0n, { major: 6, minor: 38, max_readahead: 0, flags: 0n })).errno, Errno.EPROTO);
    const newer = await c.call(K.FUSE_INIT, 0n, { major: 8, minor: 0, max_readahead: 0, flags: 0n });
    assert.is(newer.errno, 0);
    assert.is(newer.body!.major, 7);
  } finally { await server.close(); fs.rmSync(root, { recursive: true, force: true }); }
});

t('requests before INIT get EIO', async () => {
  const { c, done } = await setup();
  try {
    assert.is((await c.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n })).errno, Errno.EIO);
  } finally { await done(); }
});

t('LOOKUP, GETATTR, OPEN, READ (short at EOF), RELEASE', async () => {
  const { c, server, done } = await setup();
  try {
    await c.init();
    const e = await lookup(c, 1n, 'hello.txt');
    assert.is(e.errno, 0);
    const nodeid = e.body!.nodeid;
    assert.ok(nodeid > 1n && nodeid < 100n, 'small nodeid');
    assert.is(e.body!.attr.size, 12n);
    assert.is(e.body!.attr.ino, BigInt(fs.statSync(path.join(server.passthrough.state.confine.root, 'hello.txt')).ino));
    assert.is(e.body!.attr.flags & K.FUSE_ATTR_DAX, 0);
    const ga = await c.call(K.FUSE_GETATTR, nodeid, { getattr_flags: 0, fh: 0n });
    assert.is(ga.body!.attr.size, 12n);
    const root = await c.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n });
    assert.is(root.body!.attr.mode & 0o170000, 0o040000);
    const o = await c.call(K.FUSE_OPEN, nodeid, { flags: fs.constants.O_RDONLY, open_flags: 0 });
    assert.is(o.errno, 0);
    const fh = o.body!.fh;
    const rd = await c.call(K.FUSE_READ, nodeid, { fh, offset: 6n, size: 4096, read_flags: 0, lock_owner: 0n, flags: 0 });
    assert.is(nameToString(rd.body!.data), 'world\n');
    const eof = await c.call(K.FUSE_READ, nodeid, { fh, offset: 100n, size: 4096, read_flags: 0, lock_owner: 0n, flags: 0 });
    assert.is(eof.body!.data.length, 0);
    const gfh = await c.call(K.FUSE_GETATTR, nodeid, { getattr_flags: K.FUSE_GETATTR_FH, fh });
    assert.is(gfh.body!.attr.size, 12n);
    assert.is(server.handleCount, 1);
    assert.is((await c.call(K.FUSE_RELEASE, nodeid, { fh, flags: 0, release_flags: 0, lock_owner: 0n })).errno, 0);
    assert.is(server.handleCount, 0);
    assert.is((await c.call(K.FUSE_READ, nodeid, { fh, offset: 0n, size: 10, read_flags: 0, lock_owner: 0n, flags: 0 })).errno, Errno.EBADF);
    assert.is((await c.call(K.FUSE_RELEASE, nodeid, { fh: 999n, flags: 0, release_flags: 0, lock_owner: 0n })).errno, Errno.EBADF);
    assert.is((await lookup(c, 1n, 'nope')).errno, Errno.ENOENT);
    assert.is((await lookup(c, nodeid, 'x')).errno, Errno.ENOTDIR);
    assert.is((await c.call(K.FUSE_GETATTR, 4242n, { getattr_flags: 0, fh: 0n })).errno, Errno.EBADF);
  } finally { await done(); }
});

t('READ is clamped to the reply capacity; oversize replies never escape', async () => {
  const { c, done } = await setup();
  try {
    await c.init();
    const sub = (await lookup(c, 1n, 'sub')).body!.nodeid;
    const big = (await lookup(c, sub, 'big.bin')).body!.nodeid;
    const fh = (await c.call(K.FUSE_OPEN, big, { flags: 0, open_flags: 0 })).body!.fh;
    const rd = await c.call(K.FUSE_READ, big, { fh, offset: 0n, size: 65536, read_flags: 0, lock_owner: 0n, flags: 0 }, 16 + 1000);
    assert.is(rd.body!.data.length, 1000);
    assert.ok(rd.body!.data.every((b) => b === 7));
    const full = await c.call(K.FUSE_READ, big, { fh, offset: 99000n, size: 65536, read_flags: 0, lock_owner: 0n, flags: 0 });
    assert.is(full.body!.data.length, 1000);
    // an entry reply cannot fit in 64 bytes: an error reply instead
    const small = await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('hello.txt') }, 64);
    assert.is(small.errno, Errno.ERANGE);
  } finally { await done(); }
});

t('lookup counts: exact through FORGET and BATCH_FORGET; same (dev, ino) same nodeid', async () => {
  const { c, server, warnings, done } = await setup();
  try {
    await c.init();
    const a = (await lookup(c, 1n, 'hello.txt')).body!.nodeid;
    assert.is((await lookup(c, 1n, 'hello.txt')).body!.nodeid, a);
    const sub = (await lookup(c, 1n, 'sub')).body!.nodeid;
    assert.is((await lookup(c, sub, 'hardlink')).body!.nodeid, a, 'hard link: same nodeid');
    assert.is(server.nlookup(a), 3n);
    assert.is(await c.send(K.FUSE_FORGET, a, { nlookup: 2n }), null);
    assert.is(server.nlookup(a), 1n);
    assert.is((await c.call(K.FUSE_GETATTR, a, { getattr_flags: 0, fh: 0n })).errno, 0);
    assert.is(await c.send(K.FUSE_BATCH_FORGET, 0n, { forgets: [{ nodeid: a, nlookup: 1n }, { nodeid: sub, nlookup: 1n }] }), null);
    assert.is(server.nlookup(a), undefined, 'dropped at 0');
    assert.is(server.nlookup(sub), undefined);
    assert.is(server.inodeCount, 1);
    assert.is((await c.call(K.FUSE_GETATTR, a, { getattr_flags: 0, fh: 0n })).errno, Errno.EBADF);
    // over-forget: clamped and logged
    const b = (await lookup(c, 1n, 'hello.txt')).body!.nodeid;
    assert.is.not(b, a, 'nodeids are not reused');
    warnings.length = 0;
    await c.send(K.FUSE_FORGET, b, { nlookup: 5n });
    assert.is(server.nlookup(b), undefined);
    assert.ok(warnings.some((w) => /clamped/.test(w)));
    // the root is never dropped
    await c.send(K.FUSE_FORGET, 1n, { nlookup: 10n });
    assert.is((await c.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n })).errno, 0);
    // INTERRUPT has no reply
    assert.is(await c.send(K.FUSE_INTERRUPT, 0n, { unique: 3n }), null);
  } finally { await done(); }
});

t('READLINK, STATFS, writes (done; EROFS when read-only), unknown opcode, DESTROY', async () => {
  const { c, server, done } = await setup();
  try {
    await c.init();
    const l = await lookup(c, 1n, 'link');
    assert.is(l.body!.attr.mode & 0o170000, 0o120000, 'a symlink is returned as a symlink');
    assert.is(nameToString((await c.call(K.FUSE_READLINK, l.body!.nodeid, null)).body!.link), 'hello.txt');
    const h = (await lookup(c, 1n, 'hello.txt')).body!.nodeid;
    assert.is((await c.call(K.FUSE_READLINK, h, null)).errno, Errno.EINVAL);
    const s = await c.call(K.FUSE_STATFS, 1n, null);
    assert.ok(s.body!.bsize > 0 && s.body!.blocks > 0n);
    const d = await c.call(K.FUSE_MKDIR, 1n, { mode: 0o755, umask: 0, name: fuseName('d') });
    assert.is(d.errno, 0);
    assert.is(d.body!.attr.mode & 0o170000, 0o040000);
    await c.send(K.FUSE_FORGET, d.body!.nodeid, { nlookup: 1n });
    assert.is((await c.call(K.FUSE_RMDIR, 1n, { name: fuseName('d') })).errno, 0);
    const rw = await c.call(K.FUSE_OPEN, h, { flags: fs.constants.O_RDWR, open_flags: 0 });
    assert.is(rw.errno, 0, 'opened as asked');
    // Linux sends LSEEK for SEEK_DATA/SEEK_HOLE only; they need the addon.
    assert.is((await c.call(K.FUSE_LSEEK, h, { fh: rw.body!.fh, offset: 3n, whence: 0 })).errno, Errno.EINVAL, 'SEEK_SET');
    const seek = await c.call(K.FUSE_LSEEK, h, { fh: rw.body!.fh, offset: 0n, whence: 3 });
    if (hostcalls) assert.is(seek.body?.offset, 0n, 'SEEK_DATA');
    else assert.is(seek.errno, Errno.ENOSYS, `SEEK_DATA without the addon (${hostcallsMissing})`);
    const fh = (await c.call(K.FUSE_OPEN, h, { flags: 0, open_flags: 0 })).body!.fh;
    assert.is((await c.call(K.FUSE_FLUSH, h, { fh, lock_owner: 0n })).errno, 0);
    assert.ok(server.handleCount >= 2);
    assert.is((await c.call(K.FUSE_DESTROY, 0n, null)).errno, 0);
    assert.is(server.handleCount, 0);
    assert.is(server.inodeCount, 1);
  } finally { await done(); }
  const ro = await setup({ readonly: true });
  try {
    await ro.c.init();
    const h = (await lookup(ro.c, 1n, 'hello.txt')).body!.nodeid;
    assert.is((await ro.c.call(K.FUSE_OPEN, h, { flags: fs.constants.O_RDWR, open_flags: 0 })).errno, Errno.EROFS);
    assert.is((await ro.c.call(K.FUSE_OPEN, h, { flags: fs.constants.O_WRONLY, open_flags: 0 })).errno, Errno.EROFS);
    assert.is((await ro.c.call(K.FUSE_MKDIR, 1n, { mode: 0o755, umask: 0, name: fuseName('d') })).errno, Errno.EROFS);
    assert.is((await ro.c.call(K.FUSE_WRITE, h, { fh: 1n, offset: 0n, write_flags: 0, lock_owner: 0n, flags: 0, data: new Uint8Array(3) })).errno, Errno.EROFS);
  } finally { await ro.done(); }
});

t('undecodable requests: error reply with their unique, or null when the header is unreadable', async () => {
  const { server, c, warnings, done } = await setup();
  try {
    await c.init();
    const ctx = { queue: 1, replyCapacity: 4096 };
    assert.is(await server.handle(new Uint8Array(10), ctx), null);
    assert.ok(warnings.length > 0);
    const good = encodeRequest({ opcode: K.FUSE_GETATTR, unique: 77n, nodeid: 1n, uid: 0, gid: 0, pid: 0, body: { getattr_flags: 0, fh: 0n } });
    const short = good.slice(0, good.length - 4);
    new DataView(short.buffer).setUint32(0, short.length, true);
    const r = await server.handle(short, ctx);
    const dv = new DataView(r!.buffer, r!.byteOffset);
    assert.is(r!.length, 16);
    assert.is(dv.getInt32(4, true), -Errno.EINVAL);
    assert.is(dv.getBigUint64(8, true), 77n);
    const unknown = good.slice();
    new DataView(unknown.buffer).setUint32(4, 4000, true);
    const u = await server.handle(unknown, ctx);
    assert.is(new DataView(u!.buffer, u!.byteOffset).getInt32(4, true), -Errno.ENOSYS);
    // garbage never throws
    for (let k = 0; k < 200; k++) {
      const junk = new Uint8Array(40 + (k % 30));
      for (let j = 0; j < junk.length; j++) junk[j] = (k * 31 + j * 17) & 0xff;
      new DataView(junk.buffer).setUint32(0, junk.length, true);
      await server.handle(junk, ctx);
    }
  } finally { await done(); }
});

t('requests run concurrently', async () => {
  const { c, done } = await setup();
  try {
    await c.init();
    const results = await Promise.all(Array.from({ length: 50 }, () => lookup(c, 1n, 'hello.txt')));
    const ids = new Set(results.map((r) => r.body!.nodeid));
    assert.is(ids.size, 1);
    assert.is(c.server.nlookup([...ids][0]!), 50n);
  } finally { await done(); }
});

t.run();
