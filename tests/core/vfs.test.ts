import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno } from '../../core/errno';
import {
  DT_DIR, DT_LNK, DT_REG, MNT_FORCE, O_DIRECTORY, O_RDONLY, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET, Vfs,
} from '../../core/vfs';
import { FakeFsType } from './vfs-fake';
import { big, enc, mainTree, readAll, rejects, setup, shareTree, str } from './vfs-setup';

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

mounts.run();
files.run();
