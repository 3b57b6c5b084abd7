// The VFS: the path walk, vnodes, the write calls, untrusted filesystem
// replies and offsets (property).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Errno } from '../../core/errno';
import {
  O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR,
  O_TRUNC, O_WRONLY, S_IFLNK, S_IFMT, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET,
} from '../../core/vfs';
import { big, enc, readAll, rejects, setup, str } from './vfs-setup';

// ---------------------------------------------------------------- path walk

const walk = suite('vfs path walk');

walk('., .., repeated slashes, ENOENT, ENOTDIR, EINVAL', async () => {
  const { vfs } = await setup();
  const hello = await vfs.stat('/etc/hello.txt');
  for (const p of ['//etc///hello.txt', '/./etc/./hello.txt', '/dir/../etc/hello.txt', '/../../etc/hello.txt',
    '/dir/sub/../../etc/hello.txt', '/..']) {
    if (p === '/..') assert.is((await vfs.stat(p)).ino, 1n, '.. at / stays');
    else assert.equal(await vfs.stat(p), hello, p);
  }
  await rejects(vfs.stat('/etc/nope'), Errno.ENOENT);
  await rejects(vfs.stat('/nope/x'), Errno.ENOENT);
  await rejects(vfs.stat('/etc/hello.txt/x'), Errno.ENOTDIR);
  await rejects(vfs.stat('/etc/hello.txt/'), Errno.ENOTDIR);
  await rejects(vfs.stat('/etc/hello.txt/.'), Errno.ENOTDIR);
  await rejects(vfs.stat('/etc/hello.txt/..'), Errno.ENOTDIR);
  await rejects(vfs.open('/etc/hello.txt/'), Errno.ENOTDIR);
  await rejects(vfs.stat(''), Errno.ENOENT);
  await rejects(vfs.stat('etc/hello.txt'), Errno.EINVAL);
  await rejects(vfs.stat('/etc/a\0b'), Errno.EINVAL);
});

walk('symlinks: relative, absolute, intermediate, dangling, loops, 40 links', async () => {
  const { vfs } = await setup();
  assert.is(str(await readAll(vfs, '/links/rel')), 'hello world');
  assert.is(str(await readAll(vfs, '/links/abs')), 'hello world');
  assert.is(str(await readAll(vfs, '/links/dirlink/sub/deep.txt')), 'deep');
  assert.is(str(await readAll(vfs, '/links/dirlink/../etc/hello.txt')), 'hello world', '.. after a link is physical');
  await rejects(vfs.stat('/links/dangling'), Errno.ENOENT);
  assert.is((await vfs.lstat('/links/dangling')).mode & S_IFMT, S_IFLNK);
  await rejects(vfs.stat('/links/empty'), Errno.ENOENT);
  await rejects(vfs.stat('/links/slash'), Errno.ENOTDIR, 'link target with a trailing slash');
  await rejects(vfs.stat('/links/loop1'), Errno.ELOOP);
  await rejects(vfs.open('/links/self'), Errno.ELOOP);
  await rejects(vfs.stat('/links/loop1/x'), Errno.ELOOP);
  assert.is((await vfs.lstat('/links/loop1')).mode & S_IFMT, S_IFLNK);
  assert.is(str(await readAll(vfs, '/links/chain1')), 'hello world', '40 links');
  await rejects(vfs.stat('/links/chain0'), Errno.ELOOP, '41 links');
  await rejects(vfs.open('/links/abs', O_NOFOLLOW), Errno.ELOOP);
  const fd = await vfs.open('/links/dirlink/sub/deep.txt', O_NOFOLLOW);
  assert.is(str(await vfs.read(fd, 10)), 'deep', 'O_NOFOLLOW only concerns the last component');
  await vfs.close(fd);
});

walk('ENAMETOOLONG: components over 255 bytes, paths of 4096 bytes', async () => {
  const { vfs } = await setup();
  await rejects(vfs.stat('/etc/' + 'a'.repeat(255)), Errno.ENOENT);
  await rejects(vfs.stat('/etc/' + 'a'.repeat(256)), Errno.ENAMETOOLONG);
  await rejects(vfs.stat('/etc/' + '\u00e9'.repeat(128)), Errno.ENAMETOOLONG, 'bytes, not characters');
  await rejects(vfs.stat('/etc/' + '\u00e9'.repeat(127)), Errno.ENOENT);
  const path = (n: number) => '/' + 'a/'.repeat((n - 1) >> 1) + (n % 2 === 0 ? 'b' : '');
  assert.is(path(4095).length, 4095);
  assert.is(path(4096).length, 4096);
  await rejects(vfs.stat(path(4095)), Errno.ENOENT);
  await rejects(vfs.stat(path(4096)), Errno.ENAMETOOLONG);
  await rejects(vfs.stat(path(4097)), Errno.ENAMETOOLONG);
  await rejects(vfs.open('/' + 'x'.repeat(300)), Errno.ENAMETOOLONG);
});

// ---------------------------------------------------------------- vnodes

const vnodes = suite('vfs vnodes');

vnodes('every vnode a walk takes is dropped and the fs told', async () => {
  const { vfs, rootFs } = await setup();
  const m = vfs.mounts()[0];
  const base = m.vnodeCount; // root + the covered /mnt
  assert.is(base, 2);
  const coveredIno = vfs.mounts()[1].covered!.ino;
  assert.ok(coveredIno !== 1n);
  assert.equal([...rootFs.nlookup.keys()], [1n, coveredIno]);
  assert.is((await vfs.lstat('/mnt')).ino, 1n, 'stat of a mount point gives the mounted root');
  const deep = await vfs.stat('/links/dirlink/sub/deep.txt');
  assert.is(m.vnodeCount, base);
  assert.is(rootFs.nlookup.size, 2, 'the fs forgot every node looked up');
  assert.ok(rootFs.inactive.includes(deep.ino));
  const fd = await vfs.open('/dir/sub/deep.txt');
  assert.is(m.vnodeCount, base + 1);
  const vp = m.vnodes.get(deep.ino)!;
  assert.is(vp.refcnt, 1);
  const fd2 = await vfs.open('/links/dirlink/sub/deep.txt');
  assert.is(vp.refcnt, 2, 'one vnode per node');
  assert.is(m.vnodeCount, base + 1);
  await vfs.close(fd);
  assert.is(vp.refcnt, 1);
  const before = rootFs.inactive.filter((i) => i === deep.ino).length;
  await vfs.close(fd2);
  assert.is(vp.refcnt, 0);
  assert.is(m.vnodeCount, base);
  assert.is(rootFs.inactive.filter((i) => i === deep.ino).length, before + 1);
  for (const p of ['/nope', '/links/loop1', '/etc/hello.txt/x', '/links/chain0']) await vfs.stat(p).catch(() => {});
  await vfs.open('/etc', O_WRONLY).catch(() => {});
  assert.is(m.vnodeCount, base, 'failed walks drop their vnodes too');
  assert.is(rootFs.nlookup.size, 2);
  assert.is(rootFs.openHandles, 0);
});

// ---------------------------------------------------------------- writes

const writes = suite('vfs write calls');

writes('read-only filesystem: EROFS for every write-shaped call', async () => {
  const { vfs, rootFs } = await setup();
  for (const flags of [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_CREAT]) {
    await rejects(vfs.open('/etc/hello.txt', flags), Errno.EROFS, `flags ${flags}`);
  }
  await rejects(vfs.open('/etc/new', O_CREAT | O_WRONLY), Errno.EROFS);
  await rejects(vfs.open('/etc', O_RDWR), Errno.EISDIR);
  await rejects(vfs.open('/etc/hello.txt/', O_CREAT), Errno.EISDIR);
  const fd = await vfs.open('/etc/hello.txt', O_RDONLY | O_CREAT);
  assert.is(str(await vfs.read(fd, 5)), 'hello', 'O_CREAT on an existing file needs no write');
  await rejects(vfs.write(fd, enc.encode('x')), Errno.EBADF);
  await rejects(vfs.pwrite(fd, enc.encode('x'), 0), Errno.EBADF);
  await rejects(vfs.ftruncate(fd, 0), Errno.EINVAL);
  await vfs.fsync(fd);
  await vfs.close(fd);
  await rejects(vfs.open('/etc/hello.txt', O_CREAT | O_EXCL), Errno.EEXIST);
  await rejects(vfs.mkdir('/etc/d'), Errno.EROFS);
  await rejects(vfs.unlink('/etc/hello.txt'), Errno.EROFS);
  await rejects(vfs.rmdir('/dir/empty'), Errno.EROFS);
  await rejects(vfs.rename('/etc/hello.txt', '/etc/x'), Errno.EROFS);
  await rejects(vfs.symlink('/x', '/etc/l'), Errno.EROFS);
  await rejects(vfs.truncate('/etc/hello.txt', 0), Errno.EROFS);
  await rejects(vfs.mkdir('/'), Errno.EEXIST);
  await vfs.sync();
  assert.ok(rootFs.calls.includes('sync'));
  assert.is(rootFs.openHandles, 0);
});

writes('writable filesystem: create, write, append, truncate, namespace calls', async () => {
  const { vfs, type } = await setup({ writable: true });
  const fd = await vfs.open('/etc/new', O_CREAT | O_RDWR, 0o600);
  assert.is((await vfs.fstat(fd)).mode, S_IFREG | 0o600);
  assert.is(await vfs.write(fd, enc.encode('abc')), 3);
  assert.is(await vfs.write(fd, enc.encode('def')), 3);
  assert.is(await vfs.lseek(fd, 0, SEEK_CUR), 6);
  assert.is(await vfs.pwrite(fd, enc.encode('X'), 1), 1);
  assert.is(str(await vfs.pread(fd, 10, 0)), 'aXcdef');
  await vfs.close(fd);
  await rejects(vfs.open('/etc/new', O_CREAT | O_EXCL | O_WRONLY), Errno.EEXIST);
  await rejects(vfs.open('/etc/newdir/', O_CREAT | O_WRONLY), Errno.EISDIR);
  const afd = await vfs.open('/etc/new', O_WRONLY | O_APPEND);
  await vfs.write(afd, enc.encode('!'));
  await vfs.close(afd);
  assert.is(str(await readAll(vfs, '/etc/new')), 'aXcdef!');
  const tfd = await vfs.open('/etc/new', O_WRONLY | O_TRUNC);
  assert.is((await vfs.fstat(tfd)).size, 0);
  await vfs.ftruncate(tfd, 3);
  await vfs.close(tfd);
  assert.is((await vfs.stat('/etc/new')).size, 3);
  await vfs.truncate('/etc/new', 1);
  assert.is((await vfs.stat('/etc/new')).size, 1);
  await rejects(vfs.truncate('/etc', 0), Errno.EISDIR);
  await vfs.mkdir('/etc/d');
  await rejects(vfs.mkdir('/etc/d'), Errno.EEXIST);
  await vfs.symlink('../new', '/etc/d/l');
  assert.equal(await readAll(vfs, '/etc/d/l'), new Uint8Array(1), 'truncate extended with zeros, then cut');
  await vfs.rename('/etc/d/l', '/etc/l2');
  await rejects(vfs.lstat('/etc/d/l'), Errno.ENOENT);
  assert.is(await vfs.readlink('/etc/l2'), '../new');
  await vfs.unlink('/etc/l2');
  await rejects(vfs.rmdir('/etc'), Errno.ENOTEMPTY);
  await vfs.rmdir('/etc/d');
  await rejects(vfs.stat('/etc/d'), Errno.ENOENT);
  await rejects(vfs.rename('/etc/new', '/mnt/new'), Errno.EXDEV);
  await rejects(vfs.rmdir('/mnt'), Errno.EBUSY);
  await rejects(vfs.rename('/mnt', '/x'), Errno.EBUSY);
  await rejects(vfs.unlink('/'), Errno.EISDIR);
  await rejects(vfs.rmdir('/etc/.'), Errno.EINVAL);
  await vfs.mount(type, 'share', '/mnt2', { ro: true });
  await rejects(vfs.open('/mnt2/inner.txt', O_WRONLY), Errno.EROFS, 'ro mount option');
  await rejects(vfs.mkdir('/mnt2/d'), Errno.EROFS);
  // root, and the directories under /mnt and /mnt2
  assert.is(vfs.mounts()[0].vnodeCount, 3, 'namespace calls drop what they looked up');
  assert.is(type.instances[0].nlookup.size, 3);
});

// ---------------------------------------------------------------- bad filesystem replies

const bad = suite('vfs untrusted filesystem replies');

bad('over-long reads, stuck or cycling readdir cookies, bad nodes: EIO', async () => {
  const { vfs, rootFs } = await setup();
  const vnops = rootFs.vnops as unknown as Record<string, unknown>;
  const origRead = vnops.read, origReaddir = vnops.readdir, origLookup = vnops.lookup;
  vnops.read = async () => new Uint8Array(100);
  const fd = await vfs.open('/etc/hello.txt');
  await rejects(vfs.read(fd, 10), Errno.EIO);
  assert.is(await vfs.lseek(fd, 0, SEEK_CUR), 0);
  vnops.read = origRead;
  await vfs.close(fd);
  vnops.readdir = async () => [{ name: enc.encode('a'), type: 8, ino: 5n, nextCookie: 0n }];
  await rejects(vfs.readdirAll('/etc'), Errno.EIO, 'stuck cookie');
  vnops.readdir = async (_v: unknown, _f: unknown, c: bigint) => [{ name: enc.encode('a'), type: 8, ino: 5n, nextCookie: c === 1n ? 2n : 1n }];
  await rejects(vfs.readdirAll('/etc'), Errno.EIO, 'cycling cookies');
  vnops.readdir = async () => [{ name: enc.encode('a/b'), type: 8, ino: 5n, nextCookie: 1n }];
  await rejects(vfs.readdirAll('/etc'), Errno.EIO, 'slash in a name');
  vnops.readdir = async () => [{ name: 'a', type: 8, ino: 5n, nextCookie: 1n }];
  await rejects(vfs.readdirAll('/etc'), Errno.EIO, 'a name that is not bytes');
  vnops.readdir = origReaddir;
  vnops.lookup = async () => ({ ino: 9n, mode: 0 });
  await rejects(vfs.stat('/etc'), Errno.EIO, 'no file type');
  vnops.lookup = async () => ({ ino: 9, mode: S_IFREG });
  await rejects(vfs.stat('/etc'), Errno.EIO, 'ino not a bigint');
  vnops.lookup = origLookup;
  assert.is(vfs.openFileCount, 0);
  assert.is(rootFs.openHandles, 0);
});

// ---------------------------------------------------------------- property

const prop = suite('vfs offsets (property)');

prop('read/lseek/pread sequences match a model of the file', async () => {
  const { vfs } = await setup();
  const op = fc.oneof(
    fc.record({ k: fc.constant('read' as const), n: fc.integer({ min: 0, max: 12000 }) }),
    fc.record({ k: fc.constant('pread' as const), n: fc.integer({ min: 0, max: 3000 }), off: fc.integer({ min: 0, max: 12000 }) }),
    fc.record({ k: fc.constant('seek' as const), off: fc.integer({ min: -12000, max: 12000 }), whence: fc.constantFrom(SEEK_SET, SEEK_CUR, SEEK_END) }),
  );
  await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 20 }), async (ops) => {
    const fd = await vfs.open('/etc/big');
    let pos = 0;
    try {
      for (const o of ops) {
        if (o.k === 'read') {
          const got = await vfs.read(fd, o.n);
          assert.equal(got, big.subarray(Math.min(pos, big.length), Math.min(pos + o.n, big.length)));
          pos += got.length;
        } else if (o.k === 'pread') {
          assert.equal(await vfs.pread(fd, o.n, o.off), big.subarray(Math.min(o.off, big.length), Math.min(o.off + o.n, big.length)));
        } else {
          const want = (o.whence === SEEK_SET ? 0 : o.whence === SEEK_CUR ? pos : big.length) + o.off;
          if (want < 0) await rejects(vfs.lseek(fd, o.off, o.whence), Errno.EINVAL);
          else { assert.is(await vfs.lseek(fd, o.off, o.whence), want); pos = want; }
        }
      }
    } finally {
      await vfs.close(fd);
    }
  }), { numRuns: 100 });
});

walk.run();
vnodes.run();
writes.run();
bad.run();
prop.run();
