// The read-write guest end to end over TCP, on both backends (the
// passthrough, and the real virtiofsd behind vhost-user): every write and
// namespace call through the VFS, checked against the host directory the
// device shares; credentials reach the server; caches stay right.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Errno, ErrnoError } from '../../core/errno';
import {
  FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, F_WRLCK, LOCK_EX, LOCK_NB, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR,
  O_TRUNC, O_WRONLY, RENAME_EXCHANGE, RENAME_NOREPLACE, SEEK_DATA, SEEK_HOLE, SEEK_SET, XATTR_CREATE, type Vfs,
} from '../../core/vfs';
import { mountShare, type GuestMount } from '../../tools/guest/mount';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';

const enc = new TextEncoder();
const dec = new TextDecoder();
const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';

async function rejects(p: Promise<unknown>, errno: number, what: string): Promise<void> {
  try { await p; } catch (e) {
    assert.instance(e, ErrnoError, what);
    assert.is((e as ErrnoError).code, new ErrnoError(errno).code, `${what}: ${(e as Error).message}`);
    return;
  }
  assert.unreachable(`${what}: expected ${new ErrnoError(errno).code}`);
}

interface Rig { vmm: VmmChild; guest: GuestMount; vfs: Vfs; dir: string }

async function rig(backend: 'passthrough' | 'vhost-user'): Promise<Rig> {
  if (backend === 'vhost-user') assert.ok(fs.existsSync(VIRTIOFSD), `${VIRTIOFSD} is missing: apt-get install -y qemu-system-common`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `guest-write-${backend}-`));
  fs.chmodSync(dir, 0o755);
  const args = ['--shared-dir', dir, '--cache-size', '0', '--memory', '32M', '--backend', backend];
  // virtiofsd: xattrs and its posix locks on, as a harness asks for them.
  if (backend === 'vhost-user') args.push('--virtiofsd-arg=-o', '--virtiofsd-arg=xattr');
  const vmm = await spawnVmm(args);
  const guest = await mountShare({ connect: vmm.address, token: vmm.token });
  return { vmm, guest, vfs: guest.vfs, dir };
}

async function done(r: Rig): Promise<void> {
  await r.guest.close().catch(() => undefined);
  await r.vmm.stop();
  fs.rmSync(r.dir, { recursive: true, force: true });
}

async function readAll(vfs: Vfs, p: string): Promise<string> {
  const fd = await vfs.open(p, O_RDONLY);
  try { return dec.decode(await vfs.pread(fd, 1 << 20, 0)); } finally { await vfs.close(fd); }
}

for (const backend of ['passthrough', 'vhost-user'] as const) {
  const t = suite(`guest writes (${backend})`);

  t('create, write, pwrite, O_APPEND, O_TRUNC, truncate, fsync: the host has the bytes; sizes stay right', async () => {
    const r = await rig(backend);
    const { vfs, dir } = r;
    try {
      const fd = await vfs.open('/f', O_CREAT | O_RDWR | O_EXCL, 0o640);
      assert.is(await vfs.write(fd, enc.encode('hello')), 5);
      assert.is(await vfs.pwrite(fd, enc.encode('J'), 0), 1);
      assert.is((await vfs.fstat(fd)).size, 5, 'the size after the guest\'s own writes');
      await vfs.fsync(fd);
      await vfs.close(fd);
      assert.is(fs.readFileSync(path.join(dir, 'f'), 'utf8'), 'Jello');
      assert.is(fs.statSync(path.join(dir, 'f')).mode & 0o777, 0o640 & ~0o022);
      await rejects(vfs.open('/f', O_CREAT | O_EXCL | O_WRONLY), Errno.EEXIST, 'O_EXCL');
      fs.appendFileSync(path.join(dir, 'f'), '!!'); // the host writes too: O_APPEND goes where the server says
      const a = await vfs.open('/f', O_WRONLY | O_APPEND);
      await vfs.write(a, enc.encode('?'));
      await vfs.close(a);
      assert.is(fs.readFileSync(path.join(dir, 'f'), 'utf8'), 'Jello!!?');
      const big = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => i & 0xff);
      const b = await vfs.open('/big', O_CREAT | O_WRONLY | O_TRUNC);
      assert.is(await vfs.write(b, big), big.length, 'a write larger than max_write goes in pieces');
      await vfs.close(b);
      assert.ok(Buffer.from(big).equals(fs.readFileSync(path.join(dir, 'big'))));
      await vfs.truncate('/big', 10);
      assert.is(fs.statSync(path.join(dir, 'big')).size, 10);
      assert.is((await vfs.stat('/big')).size, 10);
      const tr = await vfs.open('/f', O_WRONLY | O_TRUNC);
      await vfs.close(tr);
      assert.is(fs.statSync(path.join(dir, 'f')).size, 0);
    } finally {
      await done(r);
    }
  });

  t('namespace: mkdir, mknod (FIFO), symlink, link, rename(2), unlink, rmdir, with the usual errnos', async () => {
    const r = await rig(backend);
    const { vfs, dir } = r;
    try {
      await vfs.mkdir('/d', 0o750);
      assert.ok(fs.statSync(path.join(dir, 'd')).isDirectory());
      await vfs.mknod('/d/fifo', 0o010644);
      assert.ok(fs.statSync(path.join(dir, 'd/fifo')).isFIFO());
      await vfs.symlink('../target text', '/d/l');
      assert.is(fs.readlinkSync(path.join(dir, 'd/l')), '../target text');
      await vfs.close(await vfs.open('/d/a', O_CREAT | O_WRONLY));
      await vfs.link('/d/a', '/d/b');
      assert.is(fs.statSync(path.join(dir, 'd/a')).nlink, 2);
      assert.is((await vfs.stat('/d/a')).nlink, 2, 'the guest sees the new link count');
      await vfs.rename('/d/b', '/c');
      assert.ok(fs.existsSync(path.join(dir, 'c')) && !fs.existsSync(path.join(dir, 'd/b')));
      await rejects(vfs.rename2('/c', '/d/a', RENAME_NOREPLACE), Errno.EEXIST, 'NOREPLACE');
      fs.writeFileSync(path.join(dir, 'x'), 'x');
      await vfs.rename2('/x', '/d', RENAME_EXCHANGE);
      assert.ok(fs.statSync(path.join(dir, 'x')).isDirectory(), 'exchanged');
      await vfs.rename2('/x', '/d', RENAME_EXCHANGE);
      await rejects(vfs.rmdir('/d'), Errno.ENOTEMPTY, 'ENOTEMPTY');
      await rejects(vfs.rename('/d', '/d/sub'), Errno.EINVAL, 'into itself');
      await rejects(vfs.mkdir('/d'), Errno.EEXIST, 'EEXIST');
      await rejects(vfs.unlink('/d'), Errno.EISDIR, 'EISDIR');
      await rejects(vfs.mkdir('/' + 'n'.repeat(256)), Errno.ENAMETOOLONG, 'ENAMETOOLONG');
      for (const n of ['fifo', 'l', 'a']) await vfs.unlink(`/d/${n}`);
      await vfs.rmdir('/d');
      await vfs.unlink('/c');
      await vfs.unlink('/x');
      assert.equal(fs.readdirSync(dir), []);
      await rejects(vfs.stat('/d'), Errno.ENOENT, 'gone from the guest too');
    } finally {
      await done(r);
    }
  });

  t('attributes: chmod, chown, utimens (values and now); xattrs; fallocate and SEEK_DATA/HOLE; locks', async () => {
    const r = await rig(backend);
    const { vfs, dir } = r;
    try {
      const fd = await vfs.open('/f', O_CREAT | O_RDWR, 0o600);
      await vfs.chmod('/f', 0o751);
      assert.is(fs.statSync(path.join(dir, 'f')).mode & 0o777, 0o751);
      await vfs.chown('/f', 1234, 5678);
      assert.equal([fs.statSync(path.join(dir, 'f')).uid, fs.statSync(path.join(dir, 'f')).gid], [1234, 5678]);
      await vfs.utimens('/f', { sec: 1_000_000, nsec: 500 }, 'omit');
      assert.is(Number(fs.statSync(path.join(dir, 'f'), { bigint: true }).atimeNs), 1_000_000 * 1e9 + 500);
      await vfs.utimens('/f', 'omit', 'now');
      assert.ok(Math.abs(fs.statSync(path.join(dir, 'f')).mtimeMs - Date.now()) < 60_000);
      await vfs.setxattr('/f', 'user.k', enc.encode('v1'), XATTR_CREATE);
      assert.is(dec.decode(await vfs.getxattr('/f', 'user.k')), 'v1');
      assert.ok((await vfs.listxattr('/f')).includes('user.k'));
      await vfs.removexattr('/f', 'user.k');
      await rejects(vfs.getxattr('/f', 'user.k'), Errno.ENODATA, 'removed');
      await vfs.fallocate(fd, 0, 0, 8192);
      assert.is(fs.statSync(path.join(dir, 'f')).size, 8192);
      await vfs.fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 4096);
      assert.is(fs.statSync(path.join(dir, 'f')).size, 8192, 'KEEP_SIZE');
      await vfs.pwrite(fd, enc.encode('data'), 4096);
      await vfs.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);
      assert.is(await vfs.lseek(fd, 0, SEEK_DATA), 4096);
      assert.is(await vfs.lseek(fd, 4096, SEEK_HOLE), 8192);
      await vfs.setlk(fd, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 0 });
      const other = vfs.as({ pid: 99 });
      const fd2 = await other.open('/f', O_RDWR);
      await rejects(other.setlk(fd2, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 1 }), Errno.EAGAIN, 'a lock held');
      await vfs.flock(fd, LOCK_EX);
      await rejects(other.flock(fd2, LOCK_EX | LOCK_NB), Errno.EAGAIN, 'flock held');
      await other.close(fd2);
      await vfs.close(fd);
    } finally {
      await done(r);
    }
  });

  t('credentials: what a non-root caller creates is its own; EACCES as the host would answer', async () => {
    const r = await rig(backend);
    const { vfs, dir } = r;
    try {
      await vfs.mkdir('/pub', 0o777);
      await vfs.chmod('/pub', 0o1777);
      const u = vfs.as({ uid: 1000, gid: 1000, groups: [], umask: 0o077, pid: 7 });
      await u.close(await u.open('/pub/mine', O_CREAT | O_WRONLY, 0o666));
      const st = fs.statSync(path.join(dir, 'pub/mine'));
      assert.equal([st.uid, st.gid, st.mode & 0o777], [1000, 1000, 0o600]);
      await u.mkdir('/pub/dir');
      assert.is(fs.statSync(path.join(dir, 'pub/dir')).uid, 1000);
      fs.writeFileSync(path.join(dir, 'root-only'), 'x', { mode: 0o600 });
      await rejects(u.open('/root-only', O_RDONLY), Errno.EACCES, 'EACCES');
      await rejects(u.mkdir('/nope'), Errno.EACCES, 'no write on /');
      await vfs.close(await vfs.open('/pub/roots', O_CREAT | O_WRONLY));
      await rejects(u.unlink('/pub/roots'), Errno.EPERM, 'sticky');
      await rejects(u.chown('/pub/mine', 0, -1), Errno.EPERM, 'chown to root');
    } finally {
      await done(r);
    }
  });

  t('caches: a repeated stat within the timeout sends nothing; the guest\'s own changes are seen at once', async () => {
    const r = await rig(backend);
    const { vfs } = r;
    try {
      await vfs.mkdir('/a');
      await vfs.close(await vfs.open('/a/f', O_CREAT | O_WRONLY));
      await vfs.stat('/a/f');
      const before = r.guest.remote.driver.requestsSent;
      await vfs.stat('/a/f');
      const after = r.guest.remote.driver.requestsSent;
      // virtiofsd runs with cache=none here (timeouts 0): only the passthrough's 1 s caches.
      if (backend === 'passthrough') assert.is(after, before, 'no request for a cached stat');
      await vfs.rename('/a/f', '/a/g');
      await rejects(vfs.stat('/a/f'), Errno.ENOENT, 'the old name is gone from the entry cache');
      assert.is((await vfs.stat('/a/g')).size, 0);
      const fd = await vfs.open('/a/g', O_WRONLY);
      await vfs.write(fd, enc.encode('12345'));
      await vfs.close(fd);
      assert.is((await vfs.stat('/a/g')).size, 5, 'size right after the write');
      assert.is(await readAll(vfs, '/a/g'), '12345');
    } finally {
      await done(r);
    }
  });

  t.run();
}
