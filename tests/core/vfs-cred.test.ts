// Callers' credentials: the VFS checks permissions as Linux does with
// default_permissions, and passes the caller to the filesystem.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno } from '../../core/errno';
import {
  F_OK, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, R_OK, S_IFMT, S_IFREG, S_ISGID, S_ISVTX, W_OK, X_OK,
} from '../../core/vfs';
import { OTHER, USER, rejects, writable } from './vfs-helpers';

const t = suite('vfs credentials and permissions');

t('read, write and search bits: owner, group (supplementary too), other; root passes', async () => {
  const { vfs } = await writable((tr) => tr
    .file('/own', 'o', 0o600, 1000, 1).file('/grp', 'g', 0o060, 1, 50).file('/oth', 'x', 0o004, 1, 1)
    .file('/none', 'n', 0o000, 1, 1).dir('/closed', 0o700, 1, 1).file('/closed/in', 'i', 0o644, 1, 1));
  const u = vfs.as(USER);
  await u.close(await u.open('/own', O_RDWR));
  await u.close(await u.open('/grp', O_RDWR));
  await u.close(await u.open('/oth', O_RDONLY));
  await rejects(u.open('/oth', O_WRONLY), Errno.EACCES, 'other bits without w');
  await rejects(u.open('/none', O_RDONLY), Errno.EACCES);
  await u.close(await u.open('/own', O_RDONLY | O_TRUNC));
  assert.is((await vfs.stat('/own')).size, 0, 'O_TRUNC with O_RDONLY truncates, as on Linux');
  await rejects(u.stat('/closed/in'), Errno.EACCES, 'search permission on the directory');
  await rejects(u.readdirAll('/closed'), Errno.EACCES, 'read permission on the directory');
  // The owner class wins even when it grants less than the group would.
  const { vfs: v2 } = await writable((tr) => tr.file('/f', 'x', 0o070, 1000, 1000));
  await rejects(v2.as(USER).open('/f', O_RDONLY), Errno.EACCES, 'owner bits decide for the owner');
  await vfs.close(await vfs.open('/none', O_RDWR)); // root: CAP_DAC_OVERRIDE
  await vfs.close(await vfs.open('/closed/in', O_RDONLY));
});

t('O_TRUNC needs write permission; access() answers as the caller', async () => {
  const { vfs } = await writable((tr) => tr.file('/ro', 'data', 0o644, 1, 1).file('/x', '#!', 0o755, 1, 1).file('/nx', 'n', 0o644, 1, 1));
  const u = vfs.as(USER);
  await rejects(u.open('/ro', O_RDONLY | O_TRUNC), Errno.EACCES);
  assert.is((await vfs.stat('/ro')).size, 4, 'nothing truncated');
  await u.access('/ro', F_OK);
  await u.access('/ro', R_OK);
  await rejects(u.access('/ro', W_OK), Errno.EACCES);
  await u.access('/x', X_OK | R_OK);
  await rejects(u.access('/nope', F_OK), Errno.ENOENT);
  await rejects(vfs.access('/nx', X_OK), Errno.EACCES, 'root may execute only what someone may');
  await vfs.access('/ro', W_OK);
  await rejects(vfs.access('/ro', 8), Errno.EINVAL);
});

t('what a caller creates is its own, masked by its umask; a set-gid directory gives its group', async () => {
  const { vfs, tree, fs } = await writable((tr) => tr.dir('/pub', 0o777, 1, 1).dir('/sg', 0o2777, 1, 77));
  const u = vfs.as({ ...USER, umask: 0o027 });
  await u.close(await u.open('/pub/f', O_CREAT | O_WRONLY, 0o666));
  assert.equal([tree.get('/pub/f')!.uid, tree.get('/pub/f')!.gid, tree.get('/pub/f')!.mode & 0o7777], [1000, 1000, 0o640]);
  assert.is(fs.lastCtx!.cred.uid, 1000, 'the filesystem saw the caller');
  assert.is(fs.lastCtx!.cred.pid, 4242);
  await u.mkdir('/pub/d', 0o777);
  assert.is(tree.get('/pub/d')!.mode & 0o7777, 0o750);
  await u.mkdir('/sg/d');
  assert.equal([tree.get('/sg/d')!.gid, (tree.get('/sg/d')!.mode & S_ISGID) !== 0], [77, true]);
  await u.symlink('/target', '/pub/l');
  assert.is(tree.get('/pub/l')!.uid, 1000);
});

t('creating and removing need write and search on the directory (EACCES)', async () => {
  const { vfs } = await writable((tr) => tr.dir('/ro', 0o755, 1, 1).file('/ro/f', 'f', 0o666, 1000, 1000).dir('/ro/sub', 0o777, 1000, 1000));
  const u = vfs.as(USER);
  await rejects(u.open('/ro/new', O_CREAT | O_WRONLY), Errno.EACCES);
  await rejects(u.mkdir('/ro/d'), Errno.EACCES);
  await rejects(u.mkdir('/ro/f'), Errno.EEXIST, 'an existing name is EEXIST before EACCES');
  await rejects(u.symlink('x', '/ro/l'), Errno.EACCES);
  await rejects(u.mknod('/ro/p', 0o010644), Errno.EACCES);
  await rejects(u.unlink('/ro/f'), Errno.EACCES, 'even the file\'s owner');
  await rejects(u.rmdir('/ro/sub'), Errno.EACCES);
  await rejects(u.rename('/ro/f', '/ro/g'), Errno.EACCES);
  await rejects(u.link('/ro/f', '/ro/h'), Errno.EACCES);
  await u.mkdir('/ro/sub/ok'); // its own directory
});

t('sticky directories: only the owner of the file or of the directory removes (EPERM)', async () => {
  const { vfs } = await writable((tr) => tr.dir('/tmp', 0o1777, 0, 0).file('/tmp/theirs', 't', 0o666, 2000, 2000)
    .file('/tmp/mine', 'm', 0o600, 1000, 1000).dir('/own', 0o1777, 1000, 1000).file('/own/theirs', 't', 0o666, 2000, 2000));
  const u = vfs.as(USER);
  await rejects(u.unlink('/tmp/theirs'), Errno.EPERM);
  await rejects(u.rename('/tmp/theirs', '/tmp/x'), Errno.EPERM);
  await rejects(u.rename('/tmp/mine', '/tmp/theirs'), Errno.EPERM, 'replacing a file of another');
  await u.unlink('/own/theirs'); // owns the directory
  await u.rename('/tmp/mine', '/tmp/mine2');
  await u.unlink('/tmp/mine2');
  await vfs.as(OTHER).unlink('/tmp/theirs');
  assert.ok(((await vfs.stat('/tmp')).mode & S_ISVTX) !== 0);
});

t('chmod: owner or root; S_ISGID dropped for a caller outside the group', async () => {
  const { vfs, tree } = await writable((tr) => tr.file('/mine', 'm', 0o644, 1000, 3).file('/theirs', 't', 0o666, 2000, 2000).dir('/d', 0o755, 1000, 3));
  const u = vfs.as(USER);
  await u.chmod('/mine', 0o2755);
  assert.is(tree.get('/mine')!.mode & 0o7777, 0o755, 'not in group 3: set-gid dropped');
  await u.chmod('/d', 0o2755);
  assert.is(tree.get('/d')!.mode & 0o7777, 0o2755, 'directories keep it');
  await rejects(u.chmod('/theirs', 0o600), Errno.EPERM);
  await vfs.chmod('/theirs', 0o4700);
  assert.is(tree.get('/theirs')!.mode, S_IFREG | 0o4700);
  const fd = await u.open('/mine', O_RDONLY);
  await u.fchmod(fd, 0o600);
  await u.close(fd);
  assert.is(tree.get('/mine')!.mode & S_IFMT, S_IFREG, 'the type stays');
});

t('chown: root changes anything; the owner only the group, to its own; set-id bits go', async () => {
  const { vfs, tree } = await writable((tr) => tr.file('/mine', 'm', 0o6755, 1000, 1000).file('/theirs', 't', 0o644, 2000, 2000));
  const u = vfs.as(USER);
  await rejects(u.chown('/mine', 2000, -1), Errno.EPERM, 'giving a file away');
  await rejects(u.chown('/mine', -1, 77), Errno.EPERM, 'a group it is not in');
  await rejects(u.chown('/theirs', -1, 50), Errno.EPERM, 'not the owner');
  await u.chown('/mine', -1, 50);
  assert.equal([tree.get('/mine')!.uid, tree.get('/mine')!.gid], [1000, 50]);
  assert.is(tree.get('/mine')!.mode & 0o7777, 0o755, 'set-uid and set-gid (group-exec) cleared');
  await u.chown('/mine', 1000, -1); // no change of owner: allowed
  await vfs.chown('/theirs', 1000, 1000);
  assert.equal([tree.get('/theirs')!.uid, tree.get('/theirs')!.gid], [1000, 1000]);
  await rejects(vfs.chown('/theirs', -2, -1), Errno.EINVAL);
});

t('utimens: explicit times are the owner\'s; now needs ownership or write access', async () => {
  const { vfs, tree } = await writable((tr) => tr.file('/w', 'w', 0o666, 2000, 2000).file('/r', 'r', 0o644, 2000, 2000));
  const u = vfs.as(USER);
  await u.utimens('/w', 'now', 'now');
  await rejects(u.utimens('/r', 'now', 'now'), Errno.EACCES);
  await rejects(u.utimens('/w', { sec: 5, nsec: 0 }, 'omit'), Errno.EPERM);
  await u.utimens('/r', 'omit', 'omit'); // nothing to do: no check (Linux)
  await vfs.utimens('/r', { sec: 7, nsec: 8 }, 'omit');
  assert.equal(tree.get('/r')!.atime, { sec: 7, nsec: 8 });
  await rejects(vfs.utimens('/r', { sec: 1, nsec: 1e9 }, 'omit'), Errno.EINVAL);
});

t('links: no hard link to a directory; protected_hardlinks for files of others', async () => {
  const { vfs } = await writable((tr) => tr.dir('/pub', 0o777, 0, 0).file('/pub/secret', 's', 0o600, 2000, 2000)
    .file('/pub/shared', 's', 0o666, 2000, 2000).file('/pub/suid', 's', 0o4777, 2000, 2000));
  const u = vfs.as(USER);
  await rejects(u.link('/pub/secret', '/pub/l1'), Errno.EPERM, 'cannot read and write it');
  await rejects(u.link('/pub/suid', '/pub/l2'), Errno.EPERM, 'set-uid');
  await u.link('/pub/shared', '/pub/l3');
  assert.is((await vfs.stat('/pub/shared')).nlink, 2);
  await rejects(vfs.link('/pub', '/pub/l4'), Errno.EPERM);
  await rejects(vfs.link('/pub/shared', '/other/l'), Errno.EXDEV);
});

t('device nodes are root\'s; FIFOs and sockets anyone\'s with write access', async () => {
  const { vfs, tree } = await writable((tr) => tr.dir('/pub', 0o777));
  const u = vfs.as(USER);
  await rejects(u.mknod('/pub/c', 0o020644, 0x0103), Errno.EPERM);
  await u.mknod('/pub/fifo', 0o010644);
  await u.mknod('/pub/sock', 0o140644);
  await vfs.mknod('/pub/null', 0o020666, 0x0103);
  assert.is(tree.get('/pub/null')!.mode & S_IFMT, 0o020000);
  await rejects(vfs.mknod('/pub/d', 0o040755), Errno.EPERM);
  await rejects(vfs.mknod('/pub/bad', 0o170000), Errno.EINVAL);
  await rejects(vfs.open('/pub/sock', O_RDONLY), Errno.ENXIO);
});

t('search permission on the last directory comes first: EACCES before ENOENT, EEXIST or EINVAL (link_path_walk)', async () => {
  const { vfs } = await writable((tr) => tr.dir('/d', 0o700, 1, 1).file('/d/f', 'f', 0o666, 1, 1).dir('/d/sub', 0o777, 1, 1).dir('/pub', 0o777, 1, 1));
  const u = vfs.as(USER);
  await rejects(u.unlink('/d/nope'), Errno.EACCES, 'not ENOENT: the name is not looked up');
  await rejects(u.rmdir('/d/nope'), Errno.EACCES);
  await rejects(u.rename('/d/nope', '/pub/x'), Errno.EACCES);
  await rejects(u.rename('/pub', '/d/x'), Errno.EACCES, 'the target\'s directory too');
  await rejects(u.rename('/d', '/d/g'), Errno.EACCES, 'not EINVAL');
  await rejects(u.mkdir('/d/f'), Errno.EACCES, 'not EEXIST');
  await rejects(u.open('/d/f', O_CREAT | O_WRONLY), Errno.EACCES);
  await rejects(u.symlink('t', '/d/f'), Errno.EACCES);
  await rejects(u.link('/pub', '/d/l'), Errno.EACCES);
  await rejects(u.unlink('/d/f/'), Errno.EACCES);
  await rejects(u.mkdir('/pub/f/x'), Errno.ENOENT, 'a searchable directory still answers ENOENT');
  // do_linkat: filename_create's EEXIST before may_linkat's EPERM.
  const { vfs: v2 } = await writable((tr) => tr.dir('/pub', 0o777, 1, 1).file('/pub/theirs', 't', 0o600, 1, 1).file('/pub/there', 'x', 0o644, 1, 1));
  await rejects(v2.as(USER).link('/pub/theirs', '/pub/there'), Errno.EEXIST, 'not EPERM');
  await rejects(v2.as(USER).link('/pub/theirs', '/pub/new'), Errno.EPERM);
  await rejects(v2.link('/pub', '/pub/there'), Errno.EEXIST, 'a directory onto a name that is there: EEXIST first, for root too');
  await rejects(u.mkdir(`/d/${'n'.repeat(256)}`), Errno.EACCES, 'search permission before a name too long');
  await rejects(u.mkdir(`/pub/${'n'.repeat(256)}`), Errno.ENAMETOOLONG);
});

t('truncate by a non-root caller clears set-uid, and set-gid with group execute (do_truncate); root keeps them', async () => {
  const { vfs, tree } = await writable((tr) => tr.dir('/pub', 0o777).file('/pub/s', 'abc', 0o6775, 1000, 1000).file('/pub/g', 'abc', 0o2764, 1000, 1000).file('/pub/r', 'abc', 0o6775, 1000, 1000));
  const u = vfs.as(USER);
  await u.truncate('/pub/s', 1);
  assert.equal([tree.get('/pub/s')!.mode & 0o7777, (await vfs.stat('/pub/s')).size], [0o775, 1]);
  await u.truncate('/pub/g', 1);
  assert.is(tree.get('/pub/g')!.mode & 0o7777, 0o2764, 'set-gid without group execute stays (mandatory locking bit)');
  await vfs.truncate('/pub/r', 1);
  assert.is(tree.get('/pub/r')!.mode & 0o7777, 0o6775, 'root: CAP_FSETID');
});

t.run();
