// The read-only decorator over a fake filesystem that implements everything:
// EROFS for every mutating op, OPEN for writing and write mappings, before
// the inner filesystem is asked; everything else is the inner's, `this`
// included; an op the inner lacks stays absent (ENOSYS).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../core/errno';
import { O_APPEND, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '../../core/vfs';
import * as K from '../../fs/fuse';
import { fuseName } from '../../fs/fuse';
import { FuseClient, FuseContext, FuseFilesystem, FuseServer, MUTATING, readonlyFilesystem } from '../../tools/vmm/fuse';

const t = suite('fuse-readonly');

const attr: K.Attr = {
  ino: 2n, size: 0n, blocks: 0n, atime: 0n, mtime: 0n, ctime: 0n, atimensec: 0, mtimensec: 0, ctimensec: 0,
  mode: 0o100644, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 4096, flags: 0,
};
const entry: K.EntryOut = { nodeid: 2n, generation: 0n, entry_valid: 1n, attr_valid: 1n, entry_valid_nsec: 0, attr_valid_nsec: 0, attr };

/** Answers everything with success and records which op ran (and its `this`). */
class Everything implements FuseFilesystem {
  calls: string[] = [];
  private note(op: string): void {
    assert.ok(this instanceof Everything, `${op} runs on the inner filesystem`);
    this.calls.push(op);
  }
  lookup() { this.note('lookup'); return entry; }
  getattr() { this.note('getattr'); return { attr_valid: 1n, attr_valid_nsec: 0, attr }; }
  setattr() { this.note('setattr'); return { attr_valid: 1n, attr_valid_nsec: 0, attr }; }
  symlink() { this.note('symlink'); return entry; }
  mknod() { this.note('mknod'); return entry; }
  mkdir() { this.note('mkdir'); return entry; }
  unlink() { this.note('unlink'); return null; }
  rmdir() { this.note('rmdir'); return null; }
  rename() { this.note('rename'); return null; }
  rename2() { this.note('rename2'); return null; }
  link() { this.note('link'); return entry; }
  create() { this.note('create'); return { entry_out: entry, open_out: { fh: 1n, open_flags: 0, backing_id: 0 } }; }
  open() { this.note('open'); return { fh: 1n, open_flags: 0, backing_id: 0 }; }
  write() { this.note('write'); return { size: 0 }; }
  fallocate() { this.note('fallocate'); return null; }
  setxattr() { this.note('setxattr'); return null; }
  removexattr() { this.note('removexattr'); return null; }
  copyFileRange() { this.note('copyFileRange'); return { size: 0 }; }
  flush() { this.note('flush'); return null; }
  setupmapping() { this.note('setupmapping'); return null; }
  removemapping() { this.note('removemapping'); return null; }
  statfs() { this.note('statfs'); return { blocks: 1n, bfree: 0n, bavail: 0n, files: 1n, ffree: 0n, bsize: 4096, namelen: 255, frsize: 4096 }; }
}

async function rig(inner: FuseFilesystem) {
  const c = new FuseClient(new FuseServer(readonlyFilesystem(inner), { logger: { warn: () => undefined } }));
  await c.init();
  return c;
}

const name = fuseName('n');
const setup = (flags: bigint) => ({ fh: 1n, foffset: 0n, len: 4096n, moffset: 0n, flags });

t('every mutating op is EROFS and never reaches the inner filesystem', async () => {
  const inner = new Everything();
  const c = await rig(inner);
  const errnos = [
    (await c.call(K.FUSE_SETATTR, 2n, { valid: 0, fh: 0n, size: 0n, lock_owner: 0n, atime: 0n, mtime: 0n, ctime: 0n, atimensec: 0, mtimensec: 0, ctimensec: 0, mode: 0, uid: 0, gid: 0 })).errno,
    (await c.call(K.FUSE_SYMLINK, 1n, { name, link: fuseName('t') })).errno,
    (await c.call(K.FUSE_MKNOD, 1n, { mode: 0o100644, rdev: 0, umask: 0, name })).errno,
    (await c.call(K.FUSE_MKDIR, 1n, { mode: 0o755, umask: 0, name })).errno,
    (await c.call(K.FUSE_UNLINK, 1n, { name })).errno,
    (await c.call(K.FUSE_RMDIR, 1n, { name })).errno,
    (await c.call(K.FUSE_RENAME, 1n, { newdir: 1n, oldname: name, newname: fuseName('m') })).errno,
    (await c.call(K.FUSE_RENAME2, 1n, { newdir: 1n, flags: 0, oldname: name, newname: fuseName('m') })).errno,
    (await c.call(K.FUSE_LINK, 1n, { oldnodeid: 2n, newname: name })).errno,
    (await c.call(K.FUSE_CREATE, 1n, { flags: O_RDWR, mode: 0o644, umask: 0, open_flags: 0, name })).errno,
    (await c.call(K.FUSE_WRITE, 2n, { fh: 1n, offset: 0n, write_flags: 0, lock_owner: 0n, flags: 0, data: new Uint8Array(9) })).errno,
    (await c.call(K.FUSE_FALLOCATE, 2n, { fh: 1n, offset: 0n, length: 4096n, mode: 0 })).errno,
    (await c.call(K.FUSE_SETXATTR, 2n, { flags: 0, name: fuseName('user.a'), value: new Uint8Array(1) })).errno,
    (await c.call(K.FUSE_REMOVEXATTR, 2n, { name: fuseName('user.a') })).errno,
    (await c.call(K.FUSE_COPY_FILE_RANGE, 2n, { fh_in: 1n, off_in: 0n, nodeid_out: 2n, fh_out: 1n, off_out: 0n, len: 1n, flags: 0n })).errno,
  ];
  assert.is(errnos.length, MUTATING.length, 'each mutating op tried');
  assert.ok(errnos.every((e) => e === Errno.EROFS), String(errnos));
  assert.equal(inner.calls, []);
});

t('OPEN for writing or with O_TRUNC is EROFS; read-only opens pass', async () => {
  const inner = new Everything();
  const c = await rig(inner);
  for (const flags of [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_APPEND]) {
    assert.is((await c.call(K.FUSE_OPEN, 2n, { flags, open_flags: 0 })).errno, Errno.EROFS, `flags ${flags}`);
  }
  assert.equal(inner.calls, []);
  assert.is((await c.call(K.FUSE_OPEN, 2n, { flags: O_RDONLY, open_flags: 0 })).errno, 0);
  assert.is((await c.call(K.FUSE_OPEN, 2n, { flags: O_RDONLY | O_APPEND, open_flags: 0 })).errno, 0);
  assert.equal(inner.calls, ['open', 'open']);
});

t('a write SETUPMAPPING is EROFS; a read one and REMOVEMAPPING pass', async () => {
  const inner = new Everything();
  const c = await rig(inner);
  assert.is((await c.call(K.FUSE_SETUPMAPPING, 2n, setup(K.FUSE_SETUPMAPPING_FLAG_WRITE | K.FUSE_SETUPMAPPING_FLAG_READ))).errno, Errno.EROFS);
  assert.is((await c.call(K.FUSE_SETUPMAPPING, 2n, setup(K.FUSE_SETUPMAPPING_FLAG_READ))).errno, 0);
  assert.is((await c.call(K.FUSE_REMOVEMAPPING, 2n, { mappings: [{ moffset: 0n, len: 4096n }] })).errno, 0);
  assert.equal(inner.calls, ['setupmapping', 'removemapping']);
});

t('other ops are the inner filesystem\'s, errors included; absent ones stay ENOSYS', async () => {
  const inner = new Everything();
  const c = await rig(inner);
  assert.is((await c.call(K.FUSE_LOOKUP, 1n, { name })).body!.nodeid, 2n);
  assert.is((await c.call(K.FUSE_GETATTR, 2n, { getattr_flags: 0, fh: 0n })).errno, 0);
  assert.is((await c.call(K.FUSE_FLUSH, 2n, { fh: 1n, lock_owner: 0n })).errno, 0);
  assert.is((await c.call(K.FUSE_STATFS, 1n, null)).errno, 0);
  assert.equal(inner.calls, ['lookup', 'getattr', 'flush', 'statfs']);
  assert.is((await c.call(K.FUSE_READLINK, 2n, null)).errno, Errno.ENOSYS);
  assert.is((await c.call(K.FUSE_LSEEK, 2n, { fh: 1n, offset: 0n, whence: 0 })).errno, Errno.ENOSYS);
  const failing = await rig({ lookup: (_ctx: FuseContext) => { throw new ErrnoError(Errno.ENOENT); } });
  assert.is((await failing.call(K.FUSE_LOOKUP, 1n, { name })).errno, Errno.ENOENT);
  const bare = await rig({});
  assert.is((await bare.call(K.FUSE_OPEN, 2n, { flags: O_RDONLY, open_flags: 0 })).errno, Errno.ENOSYS);
  assert.is((await bare.call(K.FUSE_OPEN, 2n, { flags: O_RDWR, open_flags: 0 })).errno, Errno.EROFS);
  assert.is((await bare.call(K.FUSE_MKDIR, 1n, { mode: 0o755, umask: 0, name })).errno, Errno.EROFS);
});

t.run();
