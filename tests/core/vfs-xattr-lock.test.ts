// Extended attributes (the size probe, flags, namespaces) and advisory
// locks (POSIX record locks per process, flock per open file).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../core/errno';
import {
  F_RDLCK, F_UNLCK, F_WRLCK, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, O_RDONLY, O_RDWR, O_WRONLY, SEEK_END, SEEK_SET,
  XATTR_CREATE, XATTR_REPLACE,
} from '../../core/vfs';
import { USER, dec, enc, rejects, writable } from './vfs-helpers';

const x = suite('vfs extended attributes');

x('set, get (through the size probe), list, remove; CREATE and REPLACE', async () => {
  const { vfs } = await writable((t) => t.file('/f', 'f'));
  await vfs.setxattr('/f', 'user.a', enc.encode('one'));
  await rejects(vfs.setxattr('/f', 'user.a', enc.encode('x'), XATTR_CREATE), Errno.EEXIST);
  await rejects(vfs.setxattr('/f', 'user.b', enc.encode('x'), XATTR_REPLACE), Errno.ENODATA);
  await vfs.setxattr('/f', 'user.a', enc.encode('three'), XATTR_REPLACE);
  assert.is(dec.decode(await vfs.getxattr('/f', 'user.a')), 'three');
  await vfs.setxattr('/f', 'user.empty', new Uint8Array(0));
  assert.is((await vfs.getxattr('/f', 'user.empty')).length, 0);
  assert.equal((await vfs.listxattr('/f')).sort(), ['user.a', 'user.empty']);
  await vfs.removexattr('/f', 'user.a');
  await rejects(vfs.getxattr('/f', 'user.a'), Errno.ENODATA);
  await rejects(vfs.removexattr('/f', 'user.a'), Errno.ENODATA);
  await rejects(vfs.setxattr('/f', 'user.a', enc.encode('x'), 4), Errno.EINVAL);
  await rejects(vfs.setxattr('/f', '', enc.encode('x')), Errno.ERANGE);
  await rejects(vfs.setxattr('/f', 'user.' + 'n'.repeat(251), enc.encode('x')), Errno.ERANGE);
  await rejects(vfs.setxattr('/f', 'user.big', new Uint8Array(65537)), Errno.E2BIG);
  const fd = await vfs.open('/f', O_RDONLY);
  await vfs.fsetxattr(fd, 'user.fd', enc.encode('v'));
  assert.is(dec.decode(await vfs.fgetxattr(fd, 'user.fd')), 'v');
  assert.equal(await vfs.flistxattr(fd), ['user.empty', 'user.fd']);
  await vfs.fremovexattr(fd, 'user.fd');
  await vfs.close(fd);
});

x('the probe asks again when the value grew between size and get', async () => {
  const { vfs, fs } = await writable((t) => t.file('/f', 'f'));
  await vfs.setxattr('/f', 'user.g', enc.encode('ab'));
  const vnops = fs.vnops as { getxattr: (...a: unknown[]) => Promise<Uint8Array | number> };
  const orig = vnops.getxattr;
  let probes = 0;
  vnops.getxattr = async (vp, name, size, ctx) => {
    if (size === 0 && ++probes === 1) return 1; // stale: the value is 2 bytes now
    return orig(vp, name, size, ctx);
  };
  assert.is(dec.decode(await vfs.getxattr('/f', 'user.g')), 'ab');
  assert.is(probes, 2);
});

x('namespaces: trusted.* is root\'s; user.* only on files and directories; then permissions', async () => {
  const { vfs } = await writable((t) => t.file('/mine', 'm', 0o644, 1000, 1000).file('/theirs', 't', 0o644, 2000, 2000)
    .link('/l', '/mine').dir('/tmp', 0o1777, 2000, 2000));
  const u = vfs.as(USER);
  await vfs.setxattr('/mine', 'trusted.t', enc.encode('t'));
  await rejects(u.getxattr('/mine', 'trusted.t'), Errno.ENODATA, 'hidden from non-root');
  await rejects(u.setxattr('/mine', 'trusted.t', enc.encode('x')), Errno.EPERM);
  await u.setxattr('/mine', 'user.u', enc.encode('u'));
  await rejects(u.setxattr('/theirs', 'user.u', enc.encode('u')), Errno.EACCES);
  await rejects(vfs.setxattr('/l', 'user.u', enc.encode('u'), 0, { nofollow: true }), Errno.EPERM, 'user.* on a symlink');
  await rejects(vfs.getxattr('/l', 'user.u', { nofollow: true }), Errno.ENODATA);
  assert.is(dec.decode(await vfs.getxattr('/l', 'user.u')), 'u', 'followed to the file');
  await rejects(u.setxattr('/tmp', 'user.u', enc.encode('u')), Errno.EPERM, 'a sticky directory of another');
});

const l = suite('vfs advisory locks');

l('POSIX locks: per process, EAGAIN on conflict, GETLK names the holder, ranges from whence', async () => {
  const { vfs } = await writable((t) => t.file('/f', '0123456789', 0o666));
  const p1 = vfs.as({ pid: 100 });
  const p2 = vfs.as({ pid: 200 });
  const a = await p1.open('/f', O_RDWR);
  const b = await p2.open('/f', O_RDWR);
  await p1.setlk(a, { type: F_WRLCK, whence: SEEK_SET, start: 2, len: 3 });
  await rejects(p2.setlk(b, { type: F_RDLCK, whence: SEEK_SET, start: 4, len: 1 }), Errno.EAGAIN);
  await p2.setlk(b, { type: F_RDLCK, whence: SEEK_SET, start: 5, len: 0 });
  const held = await p2.getlk(b, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 0 });
  assert.equal(held, { type: F_WRLCK, whence: SEEK_SET, start: 2, len: 3, pid: 100 });
  assert.is((await p1.getlk(a, { type: F_WRLCK, whence: SEEK_SET, start: 2, len: 1 })).type, F_UNLCK, 'its own lock');
  await p1.setlk(a, { type: F_UNLCK, whence: SEEK_END, start: -8, len: 3 }); // [2, 4]
  await p2.setlk(b, { type: F_WRLCK, whence: SEEK_SET, start: 2, len: -2 }); // [0, 1], free now
  await rejects(p2.setlk(b, { type: F_WRLCK, whence: SEEK_SET, start: 1, len: -2 }), Errno.EINVAL, 'before offset 0');
  await rejects(p2.setlk(b, { type: 7, whence: SEEK_SET, start: 0, len: 1 }), Errno.EINVAL);
  const ro = await p2.open('/f', O_RDONLY);
  await rejects(p2.setlk(ro, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 1 }), Errno.EBADF);
  const wo = await p2.open('/f', O_WRONLY);
  await rejects(p2.setlk(wo, { type: F_RDLCK, whence: SEEK_SET, start: 0, len: 1 }), Errno.EBADF);
  for (const fd of [a, b, ro, wo]) await vfs.close(fd);
});

l('SETLKW waits for the holder, and an abort ends the wait with EINTR', async () => {
  const { vfs } = await writable((t) => t.file('/f', 'data', 0o666));
  const p1 = vfs.as({ pid: 1 });
  const p2 = vfs.as({ pid: 2 });
  const a = await p1.open('/f', O_RDWR);
  const b = await p2.open('/f', O_RDWR);
  await p1.setlk(a, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 0 });
  let got = false;
  const wait = p2.setlkw(b, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 0 }).then(() => { got = true; });
  await new Promise((r) => setTimeout(r, 20));
  assert.not.ok(got, 'still waiting');
  await p1.setlk(a, { type: F_UNLCK, whence: SEEK_SET, start: 0, len: 0 });
  await wait;
  assert.ok(got);
  const ac = new AbortController();
  const blocked = p1.setlkw(a, { type: F_RDLCK, whence: SEEK_SET, start: 0, len: 0 }, { signal: ac.signal });
  setTimeout(() => ac.abort(), 10);
  await rejects(blocked, Errno.EINTR);
  await vfs.close(a);
  await vfs.close(b);
});

l('flock: per open file, shared and exclusive, LOCK_NB gives EAGAIN', async () => {
  const { vfs } = await writable((t) => t.file('/f', 'data'));
  const a = await vfs.open('/f', O_RDONLY);
  const b = await vfs.open('/f', O_RDONLY);
  await vfs.flock(a, LOCK_SH);
  await vfs.flock(b, LOCK_SH);
  await rejects(vfs.flock(b, LOCK_EX | LOCK_NB), Errno.EAGAIN, 'two descriptions, even in one process');
  await vfs.flock(a, LOCK_UN);
  await vfs.flock(b, LOCK_EX | LOCK_NB);
  await rejects(vfs.flock(a, 3), Errno.EINVAL);
  await vfs.close(a);
  await vfs.close(b);
});

x.run();
l.run();

const local = suite('vfs locks kept by the VFS when the filesystem keeps none');

local('POSIX and flock locks without lock vnops (or with ENOSYS): conflicts, waits, close releases', async () => {
  const { vfs, fs } = await writable((t) => t.file('/f', 'data', 0o666));
  const v = fs.vnops as unknown as Record<string, unknown>;
  delete v.getlk; delete v.flock;
  v.setlk = async () => { throw new ErrnoError(Errno.ENOSYS); };
  const p1 = vfs.as({ pid: 10 });
  const p2 = vfs.as({ pid: 20 });
  const a = await p1.open('/f', O_RDWR);
  const b = await p2.open('/f', O_RDWR);
  await p1.setlk(a, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 2 });
  await p1.setlk(a, { type: F_WRLCK, whence: SEEK_SET, start: 2, len: 2 }); // merges with [0, 1]
  assert.equal(await p2.getlk(b, { type: F_RDLCK, whence: SEEK_SET, start: 3, len: 1 }),
    { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 4, pid: 10 });
  await rejects(p2.setlk(b, { type: F_RDLCK, whence: SEEK_SET, start: 1, len: 1 }), Errno.EAGAIN);
  await p1.setlk(a, { type: F_UNLCK, whence: SEEK_SET, start: 1, len: 2 }); // splits into [0] and [3]
  await p2.setlk(b, { type: F_RDLCK, whence: SEEK_SET, start: 1, len: 2 });
  await rejects(p2.setlk(b, { type: F_RDLCK, whence: SEEK_SET, start: 3, len: 1 }), Errno.EAGAIN);
  const waiting = p2.setlkw(b, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 1 });
  const other = await p1.open('/f', O_RDONLY);
  await p1.close(other); // any close of p1's drops all its locks on the file (POSIX)
  await waiting;
  await vfs.flock(a, LOCK_EX);
  await rejects(vfs.flock(b, LOCK_SH | LOCK_NB), Errno.EAGAIN);
  await vfs.close(a); // the description goes, and its flock lock
  await vfs.flock(b, LOCK_SH | LOCK_NB);
  await vfs.close(b);
});

local('a write by a non-root caller clears set-uid and set-gid-with-group-exec first; root keeps them', async () => {
  const { vfs, tree } = await writable((t) => t.file('/s', 'x', 0o6777, 1000, 1000).file('/r', 'x', 0o6777, 0, 0));
  const u = vfs.as(USER);
  const fd = await u.open('/s', O_WRONLY);
  await u.write(fd, enc.encode('y'));
  await u.close(fd);
  assert.is(tree.get('/s')!.mode & 0o7777, 0o777);
  const rfd = await vfs.open('/r', O_WRONLY);
  await vfs.write(rfd, enc.encode('y'));
  await vfs.close(rfd);
  assert.is(tree.get('/r')!.mode & 0o7777, 0o6777);
});

local.run();
