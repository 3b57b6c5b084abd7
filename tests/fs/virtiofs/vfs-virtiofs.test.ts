// virtiofs under the VFS: INIT negotiation, lookups and FORGETs, getattr,
// readdir, readlink, statfs, the per-device connection, and replies that
// break the protocol.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import { DT_DIR, DT_LNK, DT_REG, O_DIRECTORY, O_RDONLY, S_IFMT, S_IFREG, Vfs } from '../../../core/vfs';
import { FuseSession, VirtiofsFileSystemType, connectionOf, INIT_FLAGS } from '../../../fs/virtiofs';
import * as K from '../../../fs/fuse';
import { FakeFuseDevice, content, settle } from './fs-fake-device';
import { mounted } from './fs-helpers';

const t = suite('virtiofs vfs');

async function rejects(p: Promise<unknown>, errno: number): Promise<ErrnoError> {
  try { await p; } catch (e) {
    assert.instance(e, ErrnoError);
    assert.is((e as ErrnoError).errno, errno, (e as Error).message);
    return e as ErrnoError;
  }
  assert.unreachable(`expected errno ${errno}`);
  throw new Error();
}

t('FUSE_INIT asks 7.36 with the client flags; FUSE_HAS_INODE_DAX only for dax=inode', async () => {
  for (const dax of [undefined, 'always', 'never', 'inode'] as const) {
    const { dev } = await mounted({}, dax ? { dax } : {});
    const init = dev.log.find((r) => r.opcode === K.FUSE_INIT)!;
    assert.ok(init && init.opcode === K.FUSE_INIT);
    if (init.opcode !== K.FUSE_INIT) return;
    assert.is(init.body.major, 7);
    assert.is(init.body.minor, 36);
    for (const f of [K.FUSE_MAP_ALIGNMENT, K.FUSE_INIT_EXT, K.FUSE_DO_READDIRPLUS, K.FUSE_ASYNC_READ,
      K.FUSE_MAX_PAGES, K.FUSE_PARALLEL_DIROPS]) assert.ok(init.body.flags & f, `flag ${f}`);
    assert.is(init.body.flags, dax === 'inode' ? INIT_FLAGS | K.FUSE_HAS_INODE_DAX : INIT_FLAGS, `dax=${dax}`);
  }
});

t('a server at 7.31 is accepted, 7.30 refused with EPROTO', async () => {
  const { vfs } = await mounted({ minor: 31 });
  assert.is((await vfs.stat('/')).mode & S_IFMT, 0o040000);
  const dev = new FakeFuseDevice({ minor: 30 });
  const type = new VirtiofsFileSystemType({ log: () => {} });
  type.addDevice(dev);
  await rejects(new Vfs().mount(type, 'fake', '/', {}), Errno.EPROTO);
  assert.is(await connectionOf(dev), undefined);
  await rejects(new Vfs().mount(type, 'nope', '/', {}), Errno.ENODEV);
});

t('unknown options and bad values are EINVAL before anything is sent', async () => {
  const dev = new FakeFuseDevice();
  const type = new VirtiofsFileSystemType({ log: () => {} });
  type.addDevice(dev);
  await rejects(new Vfs().mount(type, 'fake', '/', { bogus: '1' }), Errno.EINVAL);
  await rejects(new Vfs().mount(type, 'fake', '/', { dax: 'sometimes' }), Errno.EINVAL);
  await rejects(new Vfs().mount(type, 'fake', '/', { 'chunk-size': 'big' }), Errno.EINVAL);
  assert.is(dev.log.length, 0);
  // chunk-size not a multiple of the map alignment: EINVAL, and DESTROY.
  await rejects(new Vfs().mount(type, 'fake', '/', { 'chunk-size': '6000' }), Errno.EINVAL);
  assert.is(dev.count(K.FUSE_DESTROY), 1);
  // dax=always on a device without a window, as Linux.
  const nowin = new FakeFuseDevice({ windowSize: 0 });
  type.addDevice(nowin, 'nowin');
  await rejects(new Vfs().mount(type, 'nowin', '/', { dax: 'always' }), Errno.EINVAL);
});

t('each lookup is counted and forgotten, with the total, once the vnode drops', async () => {
  const { dev, vfs } = await mounted({}, { 'inode-cache': '0' }, (d) => { const a = d.dir(1n, 'a'); d.file(a, 'f', content(1, 10)); });
  await vfs.stat('/a/f');
  await settle();
  assert.equal(dev.liveLookups(), [], 'a stat leaves nothing looked up');
  assert.is(dev.count(K.FUSE_FORGET), 2);

  const fd = await vfs.open('/a/f');
  await vfs.stat('/a/f');
  await vfs.stat('/a/f');
  await settle();
  const f = dev.nodes.get(1n)!.children!.get('a')!;
  const file = dev.nodes.get(f)!.children!.get('f')!;
  assert.is(dev.lookups.get(file), 3, 'the open file keeps its three lookups');
  const before = dev.forgets.length;
  await vfs.close(fd);
  await settle();
  const mine = dev.forgets.slice(before).filter((x) => x.nodeid === file);
  assert.equal(mine, [{ nodeid: file, nlookup: 3n }], 'one FORGET with the accumulated count');
  assert.equal(dev.liveLookups(), []);
});

t('lookup of a missing name is ENOENT; a negative entry (nodeid 0) too', async () => {
  const { vfs, dev } = await mounted({}, {}, (d) => d.file(1n, 'x', content(1, 1)));
  await rejects(vfs.stat('/nope'), Errno.ENOENT);
  dev.tamper = { opcode: K.FUSE_LOOKUP, fn: (b) => { const c = b.slice(); new DataView(c.buffer).setBigUint64(16, 0n, true); return c; } };
  await rejects(vfs.stat('/x'), Errno.ENOENT);
});

t('getattr asks the server, not the LOOKUP copy', async () => {
  const { dev, vfs } = await mounted({}, {}, (d) => d.file(1n, 'g', content(2, 100)));
  const fd = await vfs.open('/g');
  assert.is((await vfs.fstat(fd)).size, 100);
  dev.nodes.get(dev.nodes.get(1n)!.children!.get('g')!)!.data = content(2, 5000);
  const st = await vfs.fstat(fd);
  assert.is(st.size, 5000);
  assert.is(st.mode & S_IFMT, S_IFREG);
  assert.equal([st.uid, st.gid, st.mtime.sec, st.mtime.nsec], [7, 8, 2, 5]);
  await vfs.close(fd);
});

const bigDir = (d: FakeFuseDevice, count = 1000) => {
  const big = d.dir(1n, 'big');
  for (let i = 0; i < count; i++) d.file(big, `entry-with-a-longish-name-${String(i).padStart(4, '0')}`, content(i, 1));
};

t('readdir of 1000 entries nobody stats: READDIRPLUS for the first batch only (READDIRPLUS_AUTO), every lookup forgotten', async () => {
  const { dev, vfs } = await mounted({}, { 'inode-cache': '0' }, bigDir);
  const entries = await vfs.readdirAll('/big');
  assert.is(entries.length, 1002);
  assert.equal(entries.slice(0, 2).map((e) => e.name), ['.', '..']);
  assert.is(entries[2]!.name, 'entry-with-a-longish-name-0000');
  assert.is(entries[1001]!.type, DT_REG);
  assert.is(new Set(entries.map((e) => e.name)).size, 1002);
  assert.is(dev.count(K.FUSE_READDIRPLUS), 1);
  assert.ok(dev.count(K.FUSE_READDIR) > 1, `${dev.count(K.FUSE_READDIR)} READDIR calls`);
  await settle();
  assert.equal(dev.liveLookups(), [], 'READDIRPLUS lookups are given back');
  assert.ok(dev.count(K.FUSE_BATCH_FORGET) > 0);
});

t('without READDIRPLUS_AUTO granted, every batch is READDIRPLUS', async () => {
  const { dev, vfs } = await mounted({ readdirplusAuto: false }, { 'inode-cache': '0' }, bigDir);
  assert.is((await vfs.readdirAll('/big')).length, 1002);
  assert.ok(dev.count(K.FUSE_READDIRPLUS) > 2, `${dev.count(K.FUSE_READDIRPLUS)} READDIRPLUS calls`);
  assert.is(dev.count(K.FUSE_READDIR), 0);
});

t('names looked up during a listing make the next batch READDIRPLUS again (Linux\'s advise)', async () => {
  // 4000 names: a READDIR batch of 64 KiB holds some 1000 of them.
  const { dev, vfs } = await mounted({}, {}, (d) => bigDir(d, 4000));
  const fd = await vfs.open('/big', O_RDONLY | O_DIRECTORY);
  const first = await vfs.readdir(fd);
  assert.is(dev.count(K.FUSE_READDIRPLUS), 1);
  await vfs.readdir(fd);
  assert.is(dev.count(K.FUSE_READDIR), 1, 'nobody looked: plain READDIR');
  await vfs.stat(`/big/${first[5]!.name}`); // entry_valid 0: a LOOKUP
  await vfs.readdir(fd);
  assert.is(dev.count(K.FUSE_READDIRPLUS), 2, 'a lookup in the directory: READDIRPLUS');
  await vfs.readdir(fd);
  assert.is(dev.count(K.FUSE_READDIR), 2);
  await vfs.close(fd);
});

t('ls -l: a listing then a stat of every name sends no LOOKUP and no GETATTR while the entries are valid', async () => {
  const { dev, vfs } = await mounted({ validSeconds: 60n }, {}, bigDir);
  const fd = await vfs.open('/big', O_RDONLY | O_DIRECTORY);
  let n = 0;
  for (let batch = await vfs.readdir(fd); batch.length > 0; batch = await vfs.readdir(fd)) {
    for (const e of batch) {
      if (e.name === '.' || e.name === '..') continue;
      assert.is((await vfs.stat(`/big/${e.name}`)).size, 1);
      n++;
    }
  }
  await vfs.close(fd);
  assert.is(n, 1000);
  assert.is(dev.count(K.FUSE_LOOKUP), 1, 'only /big itself');
  assert.is(dev.count(K.FUSE_GETATTR), 1, 'only the root at mount');
  assert.is(dev.count(K.FUSE_READDIR), 0, 'each batch served a stat: all READDIRPLUS');
});

t('READDIRPLUS counts merge into a node held open', async () => {
  const { dev, vfs } = await mounted({}, { 'inode-cache': '0' }, (d) => { d.file(1n, 'a', content(1, 1)); d.file(1n, 'b', content(2, 1)); });
  const fd = await vfs.open('/a');
  await vfs.readdirAll('/');
  await settle();
  const a = dev.nodes.get(1n)!.children!.get('a')!;
  assert.is(dev.lookups.get(a), 2);
  await vfs.close(fd);
  await settle();
  assert.equal(dev.liveLookups(), []);
});

t('without READDIRPLUS granted, READDIR', async () => {
  const { dev, vfs } = await mounted({ readdirplus: false }, {}, (d) => { d.dir(1n, 'd'); d.symlink(1n, 'l', 'd'); });
  const e = await vfs.readdirAll('/');
  assert.equal(e.map((x) => [x.name, x.type]), [['.', DT_DIR], ['..', DT_DIR], ['d', DT_DIR], ['l', DT_LNK]]);
  assert.is(dev.count(K.FUSE_READDIRPLUS), 0);
  assert.ok(dev.count(K.FUSE_READDIR) >= 1);
});

t('readlink, and symlinks followed by the walk', async () => {
  const { vfs } = await mounted({}, {}, (d) => { const s = d.dir(1n, 'sub'); d.file(s, 'f', content(3, 9)); d.symlink(1n, 'link', 'sub/f'); });
  assert.is(await vfs.readlink('/link'), 'sub/f');
  assert.is((await vfs.stat('/link')).size, 9);
  await rejects(vfs.readlink('/sub'), Errno.EINVAL);
});

t('statfs is FUSE_STATFS', async () => {
  const { vfs } = await mounted();
  assert.equal(await vfs.statfs('/'), { bsize: 4096, frsize: 4096, blocks: 1000, bfree: 500, bavail: 400, files: 100, ffree: 50, namelen: 255 });
});

t('two mounts of one device share one connection and manager; the last unmount releases it', async () => {
  const { dev, vfs, type } = await mounted({}, { 'chunk-size': '64k' }, (d) => { const s = d.dir(1n, 'sub'); d.file(s, 'f', content(4, 200_000)); d.dir(1n, 'other'); });
  await vfs.mount(type, 'fake', '/sub', {});
  assert.is(dev.count(K.FUSE_INIT), 1, 'one INIT per device');
  const conn = (await connectionOf(dev))!;
  assert.is(conn.mounts, 2);
  assert.is(conn.dax!.chunkSize, 64 * 1024);
  await rejects(vfs.mount(type, 'fake', '/other', { 'chunk-size': '128k' }), Errno.EINVAL);
  assert.is(conn.mounts, 2);
  // Read through the second mount: the shared manager maps it.
  const fd = await vfs.open('/sub/sub/f'); // the second mount shows the device's root
  assert.is((await vfs.read(fd, 100_000)).length, 100_000);
  await vfs.close(fd);
  assert.ok(conn.dax!.stats.chunksMapped > 0);
  await vfs.umount('/sub');
  await settle();
  assert.is(conn.mounts, 1);
  assert.is(dev.count(K.FUSE_DESTROY), 0);
  assert.is(await connectionOf(dev), conn);
  await vfs.umount('/');
  assert.is(conn.mounts, 0);
  assert.is(await connectionOf(dev), undefined);
  assert.is(dev.count(K.FUSE_DESTROY), 1, 'DESTROY with the last unmount, as Linux virtio-fs');
  assert.is(dev.window!.mappings().length, 0, 'the window is empty on the device');
  assert.equal(dev.liveLookups(), []);
  assert.is(dev.openHandles.size, 0);
  // Mounting again starts a new connection: INIT again.
  await new Vfs().mount(type, 'fake', '/', {});
  assert.is(dev.count(K.FUSE_INIT), 2);
});

t('replies that break the protocol are EIO and logged', async () => {
  const { dev, vfs, logs } = await mounted({}, {}, (d) => d.file(1n, 'f', content(5, 50_000)));
  dev.badUniqueFor = K.FUSE_LOOKUP;
  await rejects(vfs.stat('/f'), Errno.EIO);
  assert.match(logs.join('\n'), /unique/);
  // A header len that disagrees with the bytes.
  dev.tamper = { opcode: K.FUSE_GETATTR, fn: (b) => { const c = b.slice(); new DataView(c.buffer).setUint32(0, c.length + 8, true); return c; } };
  await rejects(vfs.stat('/f'), Errno.EIO);
  // An error that is positive, or past MAX_ERRNO.
  for (const error of [5, -5000]) {
    dev.tamper = { opcode: K.FUSE_GETATTR, fn: () => { const c = new Uint8Array(16); const v = new DataView(c.buffer); v.setUint32(0, 16, true); v.setInt32(4, error, true); v.setBigUint64(8, (dev.log.at(-1)!).unique, true); return c; } };
    await rejects(vfs.stat('/f'), Errno.EIO);
  }
  // A READ reply longer than asked (within a buffer larger than the READ).
  const session = new FuseSession(dev, (m) => logs.push(m));
  const fd = await vfs.open('/f');
  const fh = [...dev.openHandles][0]!;
  const nodeid = dev.nodes.get(1n)!.children!.get('f')!;
  dev.shortRead = undefined;
  const read = (size: number, cap: number) => session.call(K.FUSE_READ, nodeid, { fh, offset: 0n, size, read_flags: 0, lock_owner: 0n, flags: 0 }, cap);
  assert.is((await read(50, 16 + 50)).data.length, 50);
  dev.tamper = { opcode: K.FUSE_READ, fn: (b) => {
    const c = new Uint8Array(b.length + 10); c.set(b); new DataView(c.buffer).setUint32(0, c.length, true); return c; } };
  await rejects(read(50, 1000), Errno.EIO);
  assert.match(logs.join('\n'), /READ reply of 60 bytes for 50 asked/);
  await vfs.close(fd);
  // The server's own errno passes through.
  await rejects(vfs.open('/missing'), Errno.ENOENT);
});

t.run();
