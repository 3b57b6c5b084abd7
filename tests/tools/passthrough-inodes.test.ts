import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Errno } from '../../core/errno';
import * as K from '../../fs/fuse';
import { fuseName } from '../../fs/fuse';
import { PassthroughServer } from '../../tools/vmm/passthrough';
import { PassthroughClient } from '../../tools/vmm/passthrough/client';
import { InodeTable } from '../../tools/vmm/passthrough/inodes';

// A freed inode number is soon reused (ext4 hands it to the next file made):
// (dev, ino, birth time) is a file's identity, so a held entry never answers
// for another file that got its number.
const t = suite('passthrough: inode identity');

const st = (ino: bigint, btime: bigint, mode = 0o100644) => ({ dev: 7n, ino, birthtimeNs: btime, mode: BigInt(mode) }) as unknown as fs.BigIntStats;

t('InodeTable: the same (dev, ino) with another birth time is another inode; the old keeps its nodeid', () => {
  const tab = new InodeTable(7n, 2n, 0o040755);
  const a = tab.lookedUp(tab.root, Buffer.from('a'), Buffer.from('a'), st(10n, 100n));
  assert.is(tab.lookedUp(tab.root, Buffer.from('b'), Buffer.from('b'), st(10n, 100n)), a, 'a hard link: the same inode');
  const c = tab.lookedUp(tab.root, Buffer.from('c'), Buffer.from('c'), st(10n, 200n));
  assert.is.not(c.nodeid, a.nodeid);
  assert.equal([tab.get(a.nodeid)!.path.toString(), tab.get(c.nodeid)!.path.toString()], ['b', 'c']);
  assert.is(tab.byHost(7n, 10n), c);
});

t('a file removed behind the server and another made with its inode number: another nodeid, its own attributes', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-inodes-'));
  const server = new PassthroughServer({ root, daxPolicy: 'none', logger: { warn: () => undefined } });
  const c = new PassthroughClient(server);
  try {
    await c.init();
    fs.writeFileSync(path.join(root, 'f'), 'old file');
    const ino = fs.statSync(path.join(root, 'f'), { bigint: true }).ino;
    const f = await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('f') });
    assert.is(f.errno, 0);
    fs.rmSync(path.join(root, 'f'));
    // The next file made gets the freed number on ext4 and tmpfs alike; when
    // it does not, there is nothing to tell apart.
    fs.writeFileSync(path.join(root, 'g'), 'the new one');
    const reused = fs.statSync(path.join(root, 'g'), { bigint: true }).ino === ino;
    const g = await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('g') });
    assert.is(g.errno, 0);
    assert.is(Number(g.body!.attr.size), 11);
    if (reused) assert.is.not(g.body!.nodeid, f.body!.nodeid, 'not the removed file\'s nodeid');
    assert.is((await c.call(K.FUSE_GETATTR, f.body!.nodeid, { getattr_flags: 0, fh: 0n })).errno, Errno.ESTALE, 'the old nodeid is stale');
  } finally {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

t('hard links: when the name in use is unlinked or renamed over, the file is reached by another of its names', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-inodes-'));
  const server = new PassthroughServer({ root, daxPolicy: 'none', logger: { warn: () => undefined } });
  const c = new PassthroughClient(server);
  const getattr = async (id: bigint) => (await c.call(K.FUSE_GETATTR, id, { getattr_flags: 0, fh: 0n }));
  try {
    await c.init();
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'a'), 'abc');
    const a = (await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('a') })).body!.nodeid;
    const d = (await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('d') })).body!.nodeid;
    const l = await c.call(K.FUSE_LINK, d, { oldnodeid: a, newname: fuseName('b') });
    assert.is(l.body!.nodeid, a, 'one file, one nodeid');
    // b is the name in use now; unlinking it leaves a.
    assert.is((await c.call(K.FUSE_UNLINK, d, { name: fuseName('b') })).errno, 0);
    assert.is((await getattr(a)).errno, 0, 'reached by a');
    assert.is(Number((await getattr(a)).body!.attr.nlink), 1);
    // Again, with a rename over the name in use.
    await c.call(K.FUSE_LINK, d, { oldnodeid: a, newname: fuseName('c') });
    fs.writeFileSync(path.join(root, 'other'), 'x');
    await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('other') });
    assert.is((await c.call(K.FUSE_RENAME, 1n, { newdir: d, oldname: fuseName('other'), newname: fuseName('c') })).errno, 0);
    assert.is((await getattr(a)).errno, 0, 'reached by a after d/c was replaced');
    // The directory holding the name in use renamed: the reserve follows it.
    await c.call(K.FUSE_LINK, d, { oldnodeid: a, newname: fuseName('e') });
    assert.is((await c.call(K.FUSE_RENAME, 1n, { newdir: 1n, oldname: fuseName('d'), newname: fuseName('d2') })).errno, 0);
    assert.is((await c.call(K.FUSE_UNLINK, 1n, { name: fuseName('a') })).errno, 0);
    assert.is((await getattr(a)).errno, 0, 'reached by d2/e');
    const o = await c.call(K.FUSE_OPEN, a, { flags: 0, open_flags: 0 });
    assert.is(o.errno, 0);
    // The last name gone: stale, as it should be.
    const d2 = (await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('d2') })).body!.nodeid;
    assert.is((await c.call(K.FUSE_UNLINK, d2, { name: fuseName('e') })).errno, 0);
    await c.call(K.FUSE_RELEASE, a, { fh: o.body!.fh, flags: 0, release_flags: 0, lock_owner: 0n });
    assert.is((await getattr(a)).errno, Errno.ESTALE);
  } finally {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

t.run();
