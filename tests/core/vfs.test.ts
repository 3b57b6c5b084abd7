import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Errno, ErrnoError } from '../../core/errno';
import {
  DT_DIR, DT_LNK, DT_REG, MNT_FORCE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR,
  O_TRUNC, O_WRONLY, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET, Vfs,
} from '../../core/vfs';
import { FakeFsType, FakeMount, Tree } from './vfs-fake';

const dec = new TextDecoder();
const enc = new TextEncoder();
const str = (b: Uint8Array) => dec.decode(b);

async function rejects(p: Promise<unknown>, errno: number, what = ''): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, ErrnoError, what);
    assert.is((e as ErrnoError).code, new ErrnoError(errno).code, what);
    return;
  }
  assert.unreachable(`${what}: expected ${new ErrnoError(errno).code}`);
}

/** The whole file through open/read/close. */
async function readAll(vfs: Vfs, path: string): Promise<Uint8Array> {
  const fd = await vfs.open(path);
  try {
    const chunks: Uint8Array[] = [];
    for (;;) {
      const c = await vfs.read(fd, 4096);
      if (c.length === 0) break;
      chunks.push(c);
    }
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) { out.set(c, o); o += c.length; }
    return out;
  } finally {
    await vfs.close(fd);
  }
}

const big = new Uint8Array(10000).map((_, i) => (i * 7) & 0xff);

function mainTree(): Tree {
  const t = new Tree()
    .dir('/etc').file('/etc/hello.txt', 'hello world').file('/etc/big', big)
    .dir('/dir').dir('/dir/sub').file('/dir/sub/deep.txt', 'deep').dir('/dir/empty')
    .dir('/links')
    .link('/links/rel', '../etc/hello.txt').link('/links/abs', '/etc/hello.txt')
    .link('/links/dirlink', '/dir').link('/links/loop1', 'loop2').link('/links/loop2', 'loop1')
    .link('/links/self', 'self').link('/links/dangling', '/nope').link('/links/tomnt', '/mnt/inner.txt')
    .link('/links/slash', '/etc/hello.txt/').link('/links/empty', '')
    .dir('/mnt').dir('/mnt2');
  for (let i = 0; i < 40; i++) t.link(`/links/chain${i}`, `chain${i + 1}`);
  t.link('/links/chain40', '/etc/hello.txt');
  return t;
}

function shareTree(): Tree {
  return new Tree().file('/inner.txt', 'inner').dir('/sub').file('/sub/x', 'x').dir('/sub/nest');
}

interface Setup { vfs: Vfs; type: FakeFsType; rootFs: FakeMount; share: FakeMount }

async function setup(opts: { writable?: boolean; maxFiles?: number; firstFd?: number } = {}): Promise<Setup> {
  const type = new FakeFsType('fake', new Map([['main', mainTree()], ['share', shareTree()]]), opts.writable ?? false);
  const vfs = new Vfs({ maxFiles: opts.maxFiles, firstFd: opts.firstFd });
  await vfs.mount(type, 'main', '/', {});
  await vfs.mount(type, 'share', '/mnt', { tag: 'share' });
  return { vfs, type, rootFs: type.instances[0], share: type.instances[1] };
}

// ---------------------------------------------------------------- mounts

const mounts = suite('vfs mounts');

mounts('nothing mounted: ENOENT; the first mount must go on /', async () => {
  const vfs = new Vfs();
  const type = new FakeFsType('fake', new Map([['main', mainTree()]]));
  await rejects(vfs.stat('/'), Errno.ENOENT);
  await rejects(vfs.mount(type, 'main', '/etc', {}), Errno.ENOENT);
  await rejects(vfs.mount(type, 'nosuch', '/', {}), Errno.ENODEV);
  await vfs.mount(type, 'main', '/', { ro: false });
  assert.is((await vfs.stat('/')).ino, 1n);
  await rejects(vfs.mount(type, 'main', '/', {}), Errno.EBUSY, 'again on /');
  await rejects(vfs.mount(type, 'main', 'relative', {}), Errno.EINVAL);
  await rejects(vfs.mount(type, 'main', '/etc/hello.txt', {}), Errno.ENOTDIR);
  await rejects(vfs.mount(type, 'main', '/none', {}), Errno.ENOENT);
  assert.is(vfs.mounts().length, 1);
});

mounts('crossing mount points, .. at a mount root, nested mount', async () => {
  const { vfs, type, share } = await setup();
  assert.is(str(await readAll(vfs, '/mnt/inner.txt')), 'inner');
  assert.equal((await vfs.readdirAll('/mnt')).map((e) => e.name).sort(), ['.', '..', 'inner.txt', 'sub']);
  assert.is((await vfs.stat('/mnt/..')).ino, 1n);
  assert.equal((await vfs.readdirAll('/mnt/..')).map((e) => e.name).sort(),
    ['.', '..', 'dir', 'etc', 'links', 'mnt', 'mnt2']);
  assert.is(str(await readAll(vfs, '/mnt/../etc/hello.txt')), 'hello world');
  assert.is(str(await readAll(vfs, '/links/tomnt')), 'inner', 'symlink into a mount');
  // A nested mount: main's /dir on share's /sub/nest.
  await vfs.mount(type, 'main', '/mnt/sub/nest', {});
  assert.is(str(await readAll(vfs, '/mnt/sub/nest/dir/sub/deep.txt')), 'deep');
  assert.is(str(await readAll(vfs, '/mnt/sub/nest/../x')), 'x', '.. from nested root');
  assert.is(str(await readAll(vfs, '/mnt/sub/nest/../../inner.txt')), 'inner');
  assert.is(str(await readAll(vfs, '/mnt/sub/nest/../../../etc/hello.txt')), 'hello world');
  assert.equal(vfs.mounts().map((m) => m.target), ['/', '/mnt', '/mnt/sub/nest']);
  assert.is(vfs.mounts()[1].options.tag, 'share');
  assert.is(vfs.mounts()[1].fs, share);
  const sf = await vfs.statfs('/mnt/sub');
  assert.is(sf.bavail, 40);
  assert.ok(share.calls.includes('lookup sub'));
});

mounts('two mounts of one source are two instances over the same files', async () => {
  const { vfs, type, share } = await setup();
  await vfs.mount(type, 'share', '/mnt2', {});
  const share2 = type.instances[2];
  assert.is.not(share2, share);
  assert.is(str(await readAll(vfs, '/mnt/inner.txt')), 'inner');
  assert.is(str(await readAll(vfs, '/mnt2/inner.txt')), 'inner');
  const fd1 = await vfs.open('/mnt/inner.txt');
  const fd2 = await vfs.open('/mnt2/inner.txt');
  const [m1, m2] = [vfs.mounts()[1], vfs.mounts()[2]];
  assert.is(m1.vnodeCount, 2);
  assert.is(m2.vnodeCount, 2);
  await vfs.close(fd2);
  await vfs.umount('/mnt2');
  assert.is(share2.unmounted, false);
  assert.is(share.unmounted, null);
  assert.is(str(await vfs.read(fd1, 100)), 'inner', 'the other mount is untouched');
  await vfs.close(fd1);
  await rejects(vfs.stat('/mnt2/inner.txt'), Errno.ENOENT);
});

mounts('umount: EBUSY while files are open, then OK; EINVAL off a mount point', async () => {
  const { vfs, rootFs, share } = await setup();
  const fd = await vfs.open('/mnt/inner.txt');
  await rejects(vfs.umount('/mnt'), Errno.EBUSY);
  await rejects(vfs.umount('/mnt/sub'), Errno.EINVAL);
  await rejects(vfs.umount('/etc'), Errno.EINVAL);
  await rejects(vfs.umount('/'), Errno.EBUSY, '/ has a mount below it');
  await vfs.close(fd);
  await vfs.umount('/mnt/');
  assert.is(share.unmounted, false);
  assert.is(share.nlookup.size, 0, 'share forgot everything, root included');
  assert.is(vfs.mounts().length, 1);
  assert.equal(await vfs.readdirAll('/mnt').then((es) => es.map((e) => e.name)), ['.', '..'], 'covered dir is back');
  assert.not.ok(rootFs.nlookup.has((await vfs.stat('/mnt')).ino), 'covered vnode dropped');
  await vfs.mount(new FakeFsType('fake', new Map([['share', shareTree()]])), 'share', '/mnt', {});
  assert.is(str(await readAll(vfs, '/mnt/inner.txt')), 'inner', 'remount');
});

mounts('umount with a mount below: EBUSY; forced umount leaves fds failing with EIO', async () => {
  const { vfs, type, share } = await setup();
  await vfs.mount(type, 'main', '/mnt/sub', {});
  await rejects(vfs.umount('/mnt', MNT_FORCE), Errno.EBUSY);
  await vfs.umount('/mnt/sub');
  const fd = await vfs.open('/mnt/inner.txt');
  const dfd = await vfs.open('/mnt/sub', O_DIRECTORY);
  assert.is(share.openHandles, 2);
  await vfs.umount('/mnt', MNT_FORCE);
  assert.is(share.unmounted, true);
  assert.is(share.openHandles, 0, 'handles released');
  assert.is(share.nlookup.size, 0);
  await rejects(vfs.read(fd, 1), Errno.EIO);
  await rejects(vfs.fstat(fd), Errno.EIO);
  await rejects(vfs.readdir(dfd), Errno.EIO);
  await vfs.close(fd);
  await vfs.close(dfd);
  await rejects(vfs.close(fd), Errno.EBADF);
  assert.is(vfs.openFileCount, 0);
});

// ---------------------------------------------------------------- files

const files = suite('vfs files');

files('read advances the offset; pread does not; short read at EOF', async () => {
  const { vfs } = await setup();
  const fd = await vfs.open('/etc/hello.txt');
  assert.is(str(await vfs.read(fd, 5)), 'hello');
  assert.is(str(await vfs.read(fd, 1)), ' ');
  assert.is(str(await vfs.pread(fd, 3, 0)), 'hel');
  assert.is(str(await vfs.read(fd, 100)), 'world', 'short read');
  assert.is((await vfs.read(fd, 100)).length, 0, 'EOF');
  assert.is((await vfs.pread(fd, 10, 1000)).length, 0, 'past EOF');
  assert.is((await vfs.read(fd, 0)).length, 0);
  await rejects(vfs.read(fd, -1), Errno.EINVAL);
  await rejects(vfs.pread(fd, 1, -1), Errno.EINVAL);
  await rejects(vfs.read(fd, 1.5), Errno.EINVAL);
  await vfs.close(fd);
});

files('lseek SET/CUR/END and errors', async () => {
  const { vfs } = await setup();
  const fd = await vfs.open('/etc/big');
  assert.is(await vfs.lseek(fd, 100, SEEK_SET), 100);
  assert.equal(await vfs.read(fd, 3), big.subarray(100, 103));
  assert.is(await vfs.lseek(fd, 0, SEEK_CUR), 103);
  assert.is(await vfs.lseek(fd, -3, SEEK_CUR), 100);
  assert.is(await vfs.lseek(fd, -10, SEEK_END), 9990);
  assert.equal(await vfs.read(fd, 100), big.subarray(9990));
  assert.is(await vfs.lseek(fd, 50, SEEK_END), 10050, 'past the end is allowed');
  assert.is((await vfs.read(fd, 10)).length, 0);
  await rejects(vfs.lseek(fd, -1, SEEK_SET), Errno.EINVAL);
  await rejects(vfs.lseek(fd, -10051, SEEK_CUR), Errno.EINVAL);
  await rejects(vfs.lseek(fd, -10001, SEEK_END), Errno.EINVAL);
  await rejects(vfs.lseek(fd, 0, 7), Errno.EINVAL);
  await rejects(vfs.lseek(fd, 0.5, SEEK_SET), Errno.EINVAL);
  assert.is(await vfs.lseek(fd, 0, SEEK_CUR), 10050, 'failed seeks leave the offset');
  await vfs.close(fd);
});

files('concurrent reads on one fd each get their own range', async () => {
  const { vfs } = await setup();
  const fd = await vfs.open('/etc/big');
  const parts = await Promise.all([vfs.read(fd, 4000), vfs.read(fd, 4000), vfs.read(fd, 4000)]);
  assert.equal(parts[0], big.subarray(0, 4000));
  assert.equal(parts[1], big.subarray(4000, 8000));
  assert.equal(parts[2], big.subarray(8000));
  await vfs.close(fd);
});

files('descriptors: lowest free, EBADF, EMFILE', async () => {
  const { vfs } = await setup({ maxFiles: 3, firstFd: 3 });
  const a = await vfs.open('/etc/hello.txt');
  const b = await vfs.open('/etc/hello.txt');
  const c = await vfs.open('/etc');
  assert.equal([a, b, c], [3, 4, 5]);
  await rejects(vfs.open('/etc/big'), Errno.EMFILE);
  await vfs.close(b);
  assert.is(await vfs.open('/etc/big'), 4);
  for (const bad of [0, 2, 6, 99, -1, 1.5, NaN]) {
    await rejects(vfs.read(bad, 1), Errno.EBADF, `read ${bad}`);
    await rejects(vfs.pread(bad, 1, 0), Errno.EBADF);
    await rejects(vfs.close(bad), Errno.EBADF);
    await rejects(vfs.fstat(bad), Errno.EBADF);
    await rejects(vfs.lseek(bad, 0, SEEK_SET), Errno.EBADF);
    await rejects(vfs.readdir(bad), Errno.EBADF);
    await rejects(vfs.write(bad, enc.encode('x')), Errno.EBADF);
  }
  await vfs.close(a);
  await rejects(vfs.read(a, 1), Errno.EBADF, 'closed fd');
  await rejects(vfs.close(a), Errno.EBADF, 'double close');
});

files('directories: readdir batches, EISDIR, ENOTDIR, rewind', async () => {
  const { vfs } = await setup();
  const fd = await vfs.open('/etc', O_RDONLY | O_DIRECTORY);
  const b1 = await vfs.readdir(fd);
  assert.equal(b1.map((e) => e.name), ['.', '..']);
  const b2 = await vfs.readdir(fd);
  assert.equal(b2.map((e) => [e.name, e.type]), [['hello.txt', DT_REG], ['big', DT_REG]]);
  assert.equal(await vfs.readdir(fd), []);
  assert.equal(await vfs.readdir(fd), [], 'stays at the end');
  await rejects(vfs.read(fd, 10), Errno.EISDIR);
  await rejects(vfs.pread(fd, 10, 0), Errno.EISDIR);
  await rejects(vfs.lseek(fd, 5, SEEK_SET), Errno.EINVAL);
  assert.is(await vfs.lseek(fd, 0, SEEK_SET), 0);
  assert.equal((await vfs.readdir(fd)).map((e) => e.name), ['.', '..'], 'rewound');
  assert.is((await vfs.fstat(fd)).mode & S_IFMT, S_IFDIR);
  await vfs.close(fd);
  const ffd = await vfs.open('/etc/hello.txt');
  await rejects(vfs.readdir(ffd), Errno.ENOTDIR);
  await vfs.close(ffd);
  await rejects(vfs.readdirAll('/etc/hello.txt'), Errno.ENOTDIR);
  await rejects(vfs.open('/etc/hello.txt', O_DIRECTORY), Errno.ENOTDIR);
  const links = await vfs.readdirAll('/links');
  assert.is(links.length, 2 + 10 + 41);
  assert.ok(links.every((e) => e.name === '.' || e.name === '..' || e.type === DT_LNK));
  assert.is((await vfs.readdirAll('/links/dirlink')).find((e) => e.name === 'sub')!.type, DT_DIR, 'follows the link');
  assert.is(vfs.openFileCount, 0, 'readdirAll closes');
});

files('stat, lstat, fstat, readlink, statfs', async () => {
  const { vfs } = await setup();
  const st = await vfs.stat('/etc/hello.txt');
  assert.is(st.mode & S_IFMT, S_IFREG);
  assert.is(st.size, 11);
  assert.is(typeof st.ino, 'bigint');
  assert.equal(st.mtime, { sec: 1700000000, nsec: 5 });
  assert.equal(await vfs.stat('/links/abs'), st, 'stat follows');
  const ls = await vfs.lstat('/links/abs');
  assert.is(ls.mode & S_IFMT, S_IFLNK);
  assert.is.not(ls.ino, st.ino);
  assert.equal(await vfs.lstat('/links/dirlink/sub/deep.txt'), await vfs.stat('/dir/sub/deep.txt'), 'intermediate followed');
  assert.is((await vfs.lstat('/links/dirlink/')).mode & S_IFMT, S_IFDIR, 'trailing slash follows');
  assert.is(await vfs.readlink('/links/rel'), '../etc/hello.txt');
  assert.is(await vfs.readlink('/links/loop1'), 'loop2', 'readlink does not follow');
  await rejects(vfs.readlink('/etc/hello.txt'), Errno.EINVAL);
  await rejects(vfs.readlink('/etc'), Errno.EINVAL);
  const fd = await vfs.open('/links/rel');
  assert.equal(await vfs.fstat(fd), st);
  assert.is((await vfs.fstatfs(fd)).namelen, 255);
  await vfs.close(fd);
  assert.is((await vfs.statfs('/etc')).blocks, 100);
  await rejects(vfs.statfs('/nope'), Errno.ENOENT);
});

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

mounts.run();
files.run();
walk.run();
vnodes.run();
writes.run();
bad.run();
prop.run();
