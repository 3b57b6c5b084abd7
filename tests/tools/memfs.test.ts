// The in-memory FuseFilesystem through the FuseServer and the in-process
// client: lookups and their counts, attributes, reads, directories,
// symlinks, statfs, and what it does not do (ENOSYS).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno } from '../../core/errno';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../core/vfs';
import * as K from '../../fs/fuse';
import { fuseName, nameToString } from '../../fs/fuse';
import { FuseClient, FuseServer, readonlyFilesystem } from '../../tools/vmm/fuse';
import { MemFs, symlink } from '../../tools/vmm/memfs';

const t = suite('memfs');

const tree = () => ({
  'hello.txt': 'hello\n',
  sub: { 'bytes.bin': new Uint8Array([1, 2, 3, 4, 5]), deeper: {} },
  link: symlink('sub/bytes.bin'),
});

async function rig(opts: { readonly?: boolean } = {}) {
  const fs = new MemFs(tree(), { uid: 1000, gid: 100, time: 1_700_000_000 });
  const c = new FuseClient(new FuseServer(opts.readonly ? readonlyFilesystem(fs) : fs, { logger: { warn: () => undefined } }));
  await c.init();
  return { fs, c };
}
const lookup = (c: FuseClient, parent: bigint, name: string) => c.call(K.FUSE_LOOKUP, parent, { name: fuseName(name) });
const readIn = (fh: bigint, size: number, offset = 0n) => ({ fh, offset, size, read_flags: 0, lock_owner: 0n, flags: 0 });

t('LOOKUP and GETATTR: types, sizes, owner, times; ENOENT, ENOTDIR, EINVAL for . and ..', async () => {
  const { c } = await rig();
  const h = (await lookup(c, 1n, 'hello.txt')).body!;
  assert.is(h.attr.mode & S_IFMT, S_IFREG);
  assert.is(h.attr.size, 6n);
  assert.is(h.attr.uid, 1000);
  assert.is(h.attr.gid, 100);
  assert.is(h.attr.mtime, 1_700_000_000n);
  assert.is(h.attr.ino, h.nodeid);
  const sub = (await lookup(c, 1n, 'sub')).body!;
  assert.is(sub.attr.mode & S_IFMT, S_IFDIR);
  assert.is(sub.attr.nlink, 3, 'two links plus one subdirectory');
  assert.is((await lookup(c, 1n, 'link')).body!.attr.mode & S_IFMT, S_IFLNK);
  const root = await c.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n });
  assert.is(root.body!.attr.nlink, 3);
  assert.is((await lookup(c, 1n, 'nope')).errno, Errno.ENOENT);
  assert.is((await lookup(c, h.nodeid, 'x')).errno, Errno.ENOTDIR);
  assert.is((await lookup(c, 1n, '..')).errno, Errno.EINVAL);
});

t('lookup counts: exact through FORGET and BATCH_FORGET; a forgotten nodeid is EBADF until looked up again', async () => {
  const { fs, c } = await rig();
  const a = (await lookup(c, 1n, 'hello.txt')).body!.nodeid;
  await lookup(c, 1n, 'hello.txt');
  assert.is(fs.nlookup(a), 2n);
  assert.is(await c.send(K.FUSE_FORGET, a, { nlookup: 1n }), null);
  assert.is(fs.nlookup(a), 1n);
  await c.send(K.FUSE_BATCH_FORGET, 0n, { forgets: [{ nodeid: a, nlookup: 5n }] });
  assert.is(fs.nlookup(a), undefined, 'clamped, dropped at 0');
  assert.is((await c.call(K.FUSE_GETATTR, a, { getattr_flags: 0, fh: 0n })).errno, Errno.EBADF);
  assert.is((await lookup(c, 1n, 'hello.txt')).body!.nodeid, a, 'the tree is fixed: the same nodeid again');
  await c.send(K.FUSE_FORGET, 1n, { nlookup: 10n });
  assert.is(fs.nlookup(1n), 1n, 'the root is never dropped');
  assert.is((await c.call(K.FUSE_GETATTR, 4242n, { getattr_flags: 0, fh: 0n })).errno, Errno.EBADF);
});

t('OPEN, READ (short at EOF, clamped to the buffer), FLUSH, RELEASE; EISDIR, ELOOP, EBADF', async () => {
  const { fs, c } = await rig();
  const sub = (await lookup(c, 1n, 'sub')).body!.nodeid;
  const b = (await lookup(c, sub, 'bytes.bin')).body!.nodeid;
  const fh = (await c.call(K.FUSE_OPEN, b, { flags: 0, open_flags: 0 })).body!.fh;
  assert.equal([...(await c.call(K.FUSE_READ, b, readIn(fh, 4096, 1n))).body!.data], [2, 3, 4, 5]);
  assert.equal([...(await c.call(K.FUSE_READ, b, readIn(fh, 4096), 16 + 2)).body!.data], [1, 2]);
  assert.is((await c.call(K.FUSE_READ, b, readIn(fh, 4096, 99n))).body!.data.length, 0);
  assert.is((await c.call(K.FUSE_FLUSH, b, { fh, lock_owner: 0n })).errno, 0);
  assert.is((await c.call(K.FUSE_FSYNC, b, { fh, fsync_flags: 0 })).errno, 0);
  assert.is(fs.handleCount, 1);
  assert.is((await c.call(K.FUSE_RELEASEDIR, b, { fh, flags: 0, release_flags: 0, lock_owner: 0n })).errno, Errno.EBADF, 'a file fh is not a directory fh');
  assert.is((await c.call(K.FUSE_RELEASE, b, { fh, flags: 0, release_flags: 0, lock_owner: 0n })).errno, 0);
  assert.is(fs.handleCount, 0);
  assert.is((await c.call(K.FUSE_READ, b, readIn(fh, 10))).errno, Errno.EBADF);
  assert.is((await c.call(K.FUSE_OPEN, sub, { flags: 0, open_flags: 0 })).errno, Errno.EISDIR);
  const l = (await lookup(c, 1n, 'link')).body!.nodeid;
  assert.is((await c.call(K.FUSE_OPEN, l, { flags: 0, open_flags: 0 })).errno, Errno.ELOOP);
});

t('OPENDIR, READDIR in small batches, READDIRPLUS counting lookups but for . and ..', async () => {
  const { fs, c } = await rig();
  const fh = (await c.call(K.FUSE_OPENDIR, 1n, { flags: 0, open_flags: 0 })).body!.fh;
  const names: string[] = [];
  let off = 0n;
  for (;;) {
    const r = await c.call(K.FUSE_READDIR, 1n, readIn(fh, K.direntSize(9) + 8, off));
    if (r.body!.entries.length === 0) break;
    for (const e of r.body!.entries) { names.push(nameToString(e.name)); off = e.off; }
  }
  assert.equal(names, ['.', '..', 'hello.txt', 'sub', 'link']);
  assert.is((await c.call(K.FUSE_READDIR, 1n, readIn(fh, 10))).errno, Errno.EINVAL, 'too small for one entry: not EOF');
  const plus = await c.call(K.FUSE_READDIRPLUS, 1n, readIn(fh, 65536));
  const ents = plus.body!.entries;
  assert.equal(ents.map((e) => nameToString(e.dirent.name)), names);
  assert.equal(ents.slice(0, 2).map((e) => e.entry_out.nodeid), [0n, 0n]);
  const sub = ents[3]!.entry_out.nodeid;
  assert.is(fs.nlookup(sub), 1n);
  assert.is(ents[3]!.dirent.type, K.DT_DIR);
  assert.is(ents[4]!.dirent.type, K.DT_LNK);
  assert.is((await c.call(K.FUSE_RELEASEDIR, 1n, { fh, flags: 0, release_flags: 0, lock_owner: 0n })).errno, 0);
  assert.is((await c.call(K.FUSE_OPENDIR, ents[2]!.entry_out.nodeid, { flags: 0, open_flags: 0 })).errno, Errno.ENOTDIR);
  // '..' of a subdirectory is its parent.
  const sfh = (await c.call(K.FUSE_OPENDIR, sub, { flags: 0, open_flags: 0 })).body!.fh;
  const inSub = (await c.call(K.FUSE_READDIR, sub, readIn(sfh, 4096))).body!.entries;
  assert.equal(inSub.map((e) => [nameToString(e.name), e.ino]), [['.', sub], ['..', 1n], ['bytes.bin', sub + 1n], ['deeper', sub + 2n]]);
});

t('READLINK, STATFS, DESTROY; no DAX, no writes (ENOSYS), EROFS behind the decorator', async () => {
  const { fs, c } = await rig();
  const l = (await lookup(c, 1n, 'link')).body!.nodeid;
  assert.is(nameToString((await c.call(K.FUSE_READLINK, l, null)).body!.link), 'sub/bytes.bin');
  assert.is((await c.call(K.FUSE_READLINK, 1n, null)).errno, Errno.EINVAL);
  const s = (await c.call(K.FUSE_STATFS, 1n, null)).body!;
  assert.is(s.files, 6n);
  assert.is(s.blocks, 2n);
  const h = (await lookup(c, 1n, 'hello.txt')).body!.nodeid;
  const fh = (await c.call(K.FUSE_OPEN, h, { flags: 0, open_flags: 0 })).body!.fh;
  assert.is((await c.call(K.FUSE_SETUPMAPPING, h, { fh, foffset: 0n, len: 4096n, moffset: 0n, flags: K.FUSE_SETUPMAPPING_FLAG_READ })).errno, Errno.ENOSYS);
  assert.is((await c.call(K.FUSE_MKDIR, 1n, { mode: 0o755, umask: 0, name: fuseName('d') })).errno, Errno.ENOSYS);
  assert.is((await c.call(K.FUSE_DESTROY, 0n, null)).errno, 0);
  assert.is(fs.handleCount, 0);
  assert.is(fs.nlookup(h), undefined);
  const ro = await rig({ readonly: true });
  assert.is((await ro.c.call(K.FUSE_MKDIR, 1n, { mode: 0o755, umask: 0, name: fuseName('d') })).errno, Errno.EROFS);
});

t('tree descriptions a directory could not hold are refused', () => {
  assert.throws(() => new MemFs({ 'a/b': 'x' }), /bad name/);
  assert.throws(() => new MemFs({ '..': 'x' }), /bad name/);
  assert.throws(() => new MemFs({ ['n'.repeat(256)]: 'x' }), /bad name/);
  assert.throws(() => new MemFs({ l: symlink('') }), /bad symlink target/);
});

t.run();
