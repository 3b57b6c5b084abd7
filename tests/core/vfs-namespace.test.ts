// The namespace calls' errnos in Linux's order, rename's rules, byte names
// and length limits, and the data calls of the write side.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno } from '../../core/errno';
import {
  FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR,
  O_WRONLY, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, SEEK_DATA, SEEK_HOLE, SEEK_SET,
} from '../../core/vfs';
import { dec, enc, rejects, writable } from './vfs-helpers';

const t = suite('vfs namespace calls');

const base = (tr: import('./vfs-fake').Tree) => tr.dir('/a').dir('/a/b').dir('/a/b/c').file('/f', 'file').file('/g', 'gee')
  .dir('/full').file('/full/x', 'x').dir('/empty').link('/lnk', '/f').link('/dang', '/nowhere');

t('mkdir, mknod, symlink: EEXIST (also for . and ..), ENOENT, ENOTDIR, trailing slashes', async () => {
  const { vfs } = await writable(base);
  await rejects(vfs.mkdir('/f'), Errno.EEXIST);
  await rejects(vfs.mkdir('/a/.'), Errno.EEXIST);
  await rejects(vfs.mkdir('/a/..'), Errno.EEXIST);
  await rejects(vfs.mkdir('/'), Errno.EEXIST);
  await rejects(vfs.mkdir('/nope/d'), Errno.ENOENT);
  await rejects(vfs.mkdir('/f/d'), Errno.ENOTDIR);
  await vfs.mkdir('/slash/');
  await rejects(vfs.symlink('x', '/s/'), Errno.ENOENT, 'a trailing slash on a new non-directory');
  await rejects(vfs.symlink('x', '/f/'), Errno.EEXIST);
  await rejects(vfs.symlink('', '/s'), Errno.ENOENT, 'empty target');
  await rejects(vfs.mknod('/f', 0o100644), Errno.EEXIST);
  await vfs.symlink('/f', '/dang2');
  assert.is(await vfs.readlink('/dang2'), '/f');
});

t('unlink and rmdir: EISDIR, ENOTDIR, ENOTEMPTY, EINVAL for ".", EBUSY for "/" and mount points', async () => {
  const { vfs } = await writable(base);
  await rejects(vfs.unlink('/a'), Errno.EISDIR);
  await rejects(vfs.unlink('/a/.'), Errno.EISDIR);
  await rejects(vfs.unlink('/f/'), Errno.ENOTDIR);
  await rejects(vfs.unlink('/nope'), Errno.ENOENT);
  await rejects(vfs.rmdir('/f'), Errno.ENOTDIR);
  await rejects(vfs.rmdir('/full'), Errno.ENOTEMPTY);
  await rejects(vfs.rmdir('/a/.'), Errno.EINVAL);
  await rejects(vfs.rmdir('/a/b/..'), Errno.ENOTEMPTY);
  await rejects(vfs.rmdir('/'), Errno.EBUSY);
  await rejects(vfs.rmdir('/other'), Errno.EBUSY, 'a mount point');
  await vfs.unlink('/lnk');
  assert.is((await vfs.stat('/f')).size, 4, 'unlink of a symlink leaves its target');
  await vfs.rmdir('/empty/');
});

t('rename: into itself EINVAL, over an ancestor ENOTEMPTY, kinds must match, EXDEV, EBUSY, same file no-op', async () => {
  const { vfs } = await writable(base);
  await rejects(vfs.rename('/a', '/a/b/c/d'), Errno.EINVAL);
  await rejects(vfs.rename('/a', '/a/x'), Errno.EINVAL);
  await rejects(vfs.rename('/a/b/c', '/a'), Errno.ENOTEMPTY);
  await rejects(vfs.rename('/a', '/f'), Errno.ENOTDIR);
  await rejects(vfs.rename('/f', '/a'), Errno.EISDIR);
  await rejects(vfs.rename('/f', '/a/'), Errno.ENOTDIR, 'a trailing slash on the target of a non-directory');
  await rejects(vfs.rename('/f/', '/h'), Errno.ENOTDIR);
  await rejects(vfs.rename('/a', '/full'), Errno.ENOTEMPTY);
  await rejects(vfs.rename('/f', '/other/f'), Errno.EXDEV);
  await rejects(vfs.rename('/other', '/o2'), Errno.EBUSY);
  await rejects(vfs.rename('/a/.', '/x'), Errno.EBUSY);
  await rejects(vfs.rename('/nope', '/x'), Errno.ENOENT);
  await vfs.link('/f', '/f2');
  await vfs.rename('/f', '/f2');
  assert.is((await vfs.stat('/f')).nlink, 2, 'two names of one file: nothing happens');
  await vfs.rename('/a/b/c', '/empty');
  await rejects(vfs.stat('/a/b/c'), Errno.ENOENT);
  await vfs.rename('/g', '/f');
  assert.is(dec.decode(await vfs.pread(await vfs.open('/f'), 10, 0)), 'gee');
});

t('rename2: NOREPLACE, EXCHANGE, bad flags', async () => {
  const { vfs } = await writable(base);
  await rejects(vfs.rename2('/f', '/g', RENAME_NOREPLACE), Errno.EEXIST);
  await vfs.rename2('/f', '/h', RENAME_NOREPLACE);
  await vfs.rename2('/h', '/a', RENAME_EXCHANGE);
  assert.ok((await vfs.lstat('/h')).mode & 0o040000, 'the directory is at /h');
  assert.is((await vfs.stat('/a')).size, 4, 'the file is at /a');
  await rejects(vfs.rename2('/a', '/nope', RENAME_EXCHANGE), Errno.ENOENT);
  await rejects(vfs.rename2('/a', '/g', RENAME_EXCHANGE | RENAME_NOREPLACE), Errno.EINVAL);
  await rejects(vfs.rename2('/a', '/g', RENAME_WHITEOUT), Errno.EINVAL);
  await rejects(vfs.rename2('/a', '/g', 8), Errno.EINVAL);
  await rejects(vfs.rename2('/h', '/h/b/x', RENAME_EXCHANGE), Errno.ENOENT, 'EXCHANGE needs a target, checked first');
  await rejects(vfs.rename2('/h', '/h/b', RENAME_EXCHANGE), Errno.EINVAL, 'a directory into itself');
  await rejects(vfs.rename2('/h/b', '/h', RENAME_EXCHANGE), Errno.EINVAL, 'over its own ancestor, exchanging');
});

t('open: O_EXCL, O_NOFOLLOW, O_DIRECTORY, dangling links, flag combinations', async () => {
  const { vfs, tree } = await writable(base);
  await rejects(vfs.open('/lnk', O_CREAT | O_EXCL | O_WRONLY), Errno.EEXIST, 'O_EXCL does not follow');
  await rejects(vfs.open('/lnk', O_RDONLY | O_NOFOLLOW), Errno.ELOOP);
  await rejects(vfs.open('/f', O_RDONLY | O_DIRECTORY), Errno.ENOTDIR);
  await rejects(vfs.open('/a', O_CREAT | O_DIRECTORY), Errno.EINVAL);
  await rejects(vfs.open('/f', O_WRONLY | O_RDWR), Errno.EINVAL);
  await rejects(vfs.open('/f', 0o10000000), Errno.EINVAL, 'an unknown flag');
  await rejects(vfs.open('/dang', O_RDONLY), Errno.ENOENT);
  const fd = await vfs.open('/dang', O_CREAT | O_WRONLY, 0o600);
  await vfs.close(fd);
  assert.ok(tree.get('/nowhere'), 'O_CREAT through a dangling symlink creates its target');
  const dfd = await vfs.open('/a', O_RDONLY | O_DIRECTORY);
  await rejects(vfs.write(dfd, enc.encode('x')), Errno.EBADF);
  await vfs.close(dfd);
});

t('names as bytes: a name that is not UTF-8 is listed and opened; length limits before anything is sent', async () => {
  const { vfs, fs } = await writable(base);
  const bad = Uint8Array.of(0x2f, 0x66, 0xff, 0xfe); // "/f\xff\xfe"
  await vfs.close(await vfs.open(bad, O_CREAT | O_WRONLY));
  const entry = (await vfs.readdirAll('/')).find((e) => e.nameBytes.length === 3 && e.nameBytes[1] === 0xff)!;
  assert.ok(entry, 'listed');
  assert.is(entry.name, 'f\ufffd\ufffd', 'a display string');
  const path = Uint8Array.of(0x2f, ...entry.nameBytes);
  await vfs.close(await vfs.open(path, O_RDONLY));
  await vfs.unlink(path);
  await rejects(vfs.open('/' + 'n'.repeat(256), O_CREAT | O_WRONLY), Errno.ENAMETOOLONG);
  await rejects(vfs.mkdir('/' + 'n'.repeat(256)), Errno.ENAMETOOLONG);
  await rejects(vfs.stat('/a/' + 'n'.repeat(256) + '/x'), Errno.ENAMETOOLONG);
  await rejects(vfs.stat('/' + 'a/'.repeat(2048)), Errno.ENAMETOOLONG, 'PATH_MAX');
  await rejects(vfs.stat(new Uint8Array(4096).fill(0x2f)), Errno.ENAMETOOLONG);
  await rejects(vfs.symlink('x'.repeat(4096), '/l'), Errno.ENAMETOOLONG);
  assert.not.ok(fs.calls.some((c) => c.includes('nnnnnnnnnn')), 'no long name reached the filesystem');
  await vfs.mkdir('/' + 'n'.repeat(255));
  await rejects(vfs.stat('/a\0b'), Errno.EINVAL);
});

t('write side of the data calls: O_APPEND, pwrite on O_APPEND, writev, fallocate, SEEK_DATA/HOLE, copy_file_range', async () => {
  const { vfs, fs } = await writable(base);
  const fd = await vfs.open('/f', O_RDWR | O_APPEND);
  assert.is(await vfs.write(fd, enc.encode('+1')), 2);
  assert.is(await vfs.lseek(fd, 0, 1), 6, 'the offset is the new end');
  assert.is(await vfs.pwrite(fd, enc.encode('+2'), 0), 2);
  assert.is(dec.decode(await vfs.pread(fd, 20, 0)), 'file+1+2', 'pwrite on O_APPEND appends (Linux)');
  await vfs.close(fd);
  const w = await vfs.open('/new', O_CREAT | O_RDWR);
  assert.is(await vfs.writev(w, [enc.encode('ab'), enc.encode(''), enc.encode('cd')]), 4);
  await vfs.fallocate(w, 0, 0, 10);
  assert.is((await vfs.fstat(w)).size, 10);
  await vfs.fallocate(w, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 2);
  assert.equal([...(await vfs.pread(w, 4, 0))], [0, 0, 0x63, 0x64]);
  await rejects(vfs.fallocate(w, FALLOC_FL_PUNCH_HOLE, 0, 2), Errno.EOPNOTSUPP);
  await rejects(vfs.fallocate(w, 0x10, 0, 2), Errno.EOPNOTSUPP);
  await rejects(vfs.fallocate(w, 0, 0, 0), Errno.EINVAL);
  assert.is(await vfs.lseek(w, 3, SEEK_DATA), 3);
  assert.is(await vfs.lseek(w, 3, SEEK_HOLE), 10);
  await rejects(vfs.lseek(w, 10, SEEK_DATA), Errno.ENXIO);
  const r = await vfs.open('/g', O_RDONLY);
  await rejects(vfs.fallocate(r, 0, 0, 1), Errno.EBADF);
  assert.is(await vfs.copyFileRange(r, 0, w, 0, 100), 3, 'stops at the end of the source');
  assert.is(dec.decode(await vfs.pread(w, 3, 0)), 'gee');
  await rejects(vfs.copyFileRange(w, 0, w, 2, 4), Errno.EINVAL, 'overlap in one file');
  await rejects(vfs.copyFileRange(w, 0, r, 0, 1), Errno.EBADF);
  await vfs.lseek(r, 1, SEEK_SET);
  assert.is(await vfs.copyFileRange(r, null, w, 8, 5), 2);
  assert.is(await vfs.lseek(r, 0, 1), 3, 'the file offset advanced');
  await vfs.fsync(w);
  await vfs.fsync(w, true);
  await vfs.close(w);
  await vfs.close(r);
  assert.ok(fs.calls.includes('flush'), 'close flushes');
  const d = await vfs.open('/a', O_RDONLY | O_DIRECTORY);
  await vfs.fsync(d);
  await vfs.close(d);
  assert.ok(fs.calls.includes('fsyncdir'));
});

t('an aborted call fails with EINTR before anything is sent', async () => {
  const { vfs, fs } = await writable(base);
  const ac = new AbortController();
  ac.abort();
  const calls = fs.calls.length;
  await rejects(vfs.stat('/f', { signal: ac.signal }), Errno.EINTR);
  await rejects(vfs.open('/f', O_RDONLY, 0, { signal: ac.signal }), Errno.EINTR);
  await rejects(vfs.mkdir('/z', 0o755, { signal: ac.signal }), Errno.EINTR);
  assert.is(fs.calls.length, calls);
});

t.run();
