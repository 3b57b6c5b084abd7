// Per-session caps in the device model: open handles (EMFILE), inodes held
// (ENFILE, the lookup given back), requests served at once (the rest wait in
// the ring). One guest at its cap does not hurt another.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Errno } from '../../core/errno';
import * as K from '../../fs/fuse';
import { fuseName } from '../../fs/fuse';
import { FuseClient, FuseServer, type FuseFilesystem } from '../../tools/vmm/fuse';
import { FuseQueueBackend } from '../../tools/vmm/fuse-queues';
import { MemFs } from '../../tools/vmm/memfs';
import { PassthroughServer } from '../../tools/vmm/passthrough';
import { inProcessDevice, mountInProcess } from './in-process-share';

const t = suite('session caps');
const lookup = (c: FuseClient, name: string, parent = K.FUSE_ROOT_ID) => c.call(K.FUSE_LOOKUP, parent, { name: fuseName(name) });
const open = (c: FuseClient, nodeid: bigint) => c.call(K.FUSE_OPEN, nodeid, { flags: 0, open_flags: 0 });
const release = (c: FuseClient, nodeid: bigint, fh: bigint) => c.call(K.FUSE_RELEASE, nodeid, { fh, flags: 0, release_flags: 0, lock_owner: 0n });

t('open handles past the cap: EMFILE before the filesystem opens anything; a release makes room', async () => {
  const memfs = new MemFs({ a: 'a', b: 'b', d: {} });
  const server = new FuseServer(memfs, { limits: { maxHandles: 2, maxInodes: 100 }, logger: { warn: () => {} } });
  const c = new FuseClient(server);
  await c.init();
  const a = (await lookup(c, 'a')).body!.nodeid;
  const d = (await lookup(c, 'd')).body!.nodeid;
  const fh1 = (await open(c, a)).body!.fh;
  const dh = (await c.call(K.FUSE_OPENDIR, d, { flags: 0, open_flags: 0 })).body!.fh;
  assert.is((await open(c, a)).errno, Errno.EMFILE);
  assert.is((await c.call(K.FUSE_OPENDIR, d, { flags: 0, open_flags: 0 })).errno, Errno.EMFILE);
  assert.is(memfs.handleCount, 2, 'nothing opened past the cap');
  assert.is(server.limited!.refusedHandles, 2);
  await release(c, a, fh1);
  assert.is((await open(c, a)).errno, 0);
  await c.call(K.FUSE_RELEASEDIR, d, { fh: dh, flags: 0, release_flags: 0, lock_owner: 0n });
  assert.is(server.limited!.handles.size, 1);
});

t('inodes past the cap: ENFILE and the lookup given back; READDIRPLUS entries past it carry nodeid 0; FORGET makes room', async () => {
  const memfs = new MemFs({ a: 'a', b: 'b', c: 'c', e: 'e' });
  const server = new FuseServer(memfs, { limits: { maxHandles: 10, maxInodes: 2 }, logger: { warn: () => {} } });
  const c = new FuseClient(server);
  await c.init();
  const a = (await lookup(c, 'a')).body!.nodeid;
  assert.is((await lookup(c, 'a')).errno, 0, 'the same inode again is not a new one');
  const b = (await lookup(c, 'b')).body!.nodeid;
  const r = await lookup(c, 'c');
  assert.is(r.errno, Errno.ENFILE);
  assert.is(server.limited!.inodes.size, 2);
  // What the filesystem counted for the refused lookup was given back.
  for (const id of [a, b]) assert.ok(memfs.nlookup(id)! >= 1n);
  const known = [...Array(10).keys()].map((i) => BigInt(i + 1)).filter((id) => id !== a && id !== b && id !== 1n);
  for (const id of known) assert.is(memfs.nlookup(id), undefined, `nodeid ${id} not held`);
  // READDIRPLUS: held entries keep their nodeid, new ones come as 0.
  const dh = (await c.call(K.FUSE_OPENDIR, K.FUSE_ROOT_ID, { flags: 0, open_flags: 0 })).body!.fh;
  const rd = await c.call(K.FUSE_READDIRPLUS, K.FUSE_ROOT_ID, { fh: dh, offset: 0n, size: 8192, read_flags: 0, lock_owner: 0n, flags: 0 });
  const byName = new Map(rd.body!.entries.map((e) => [Buffer.from(e.dirent.name).toString(), e.entry_out.nodeid]));
  assert.is(byName.get('a'), a);
  assert.is(byName.get('c'), 0n);
  assert.is(byName.get('e'), 0n);
  assert.is(server.limited!.inodes.size, 2);
  for (const id of known) assert.is(memfs.nlookup(id), undefined, `nodeid ${id} given back`);
  await c.send(K.FUSE_FORGET, b, { nlookup: 2n }); // LOOKUP and READDIRPLUS
  assert.is((await lookup(c, 'c')).errno, 0, 'room again');
});

t('one guest at its handle cap (real files) does not stop another guest', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'caps-'));
  for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(root, `f${i}`), `${i}`);
  const mk = () => new PassthroughServer({ root, daxPolicy: 'none', limits: { maxHandles: 16, maxInodes: 1000 }, logger: { warn: () => {} } });
  const greedy = mk();
  const other = mk();
  try {
    const g = new FuseClient(greedy);
    const o = new FuseClient(other);
    await g.init();
    await o.init();
    let opened = 0;
    let refused = 0;
    for (let i = 0; i < 40; i++) {
      const id = (await lookup(g, `f${i}`)).body!.nodeid;
      const r = await open(g, id);
      if (r.errno === 0) opened++; else { assert.is(r.errno, Errno.EMFILE); refused++; }
    }
    assert.is(opened, 16);
    assert.is(refused, 24);
    assert.is(greedy.handleCount, 16, 'no host fd opened past the cap');
    const id = (await lookup(o, 'f7')).body!.nodeid;
    const fh = (await open(o, id)).body!.fh;
    const rd = await o.call(K.FUSE_READ, id, { fh, offset: 0n, size: 10, read_flags: 0, lock_owner: 0n, flags: 0 });
    assert.is(Buffer.from(rd.body!.data).toString(), '7');
  } finally {
    await greedy.close();
    await other.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

t('requests served at once stop at the cap; the rest wait in the ring and are all answered', async () => {
  const releases: (() => void)[] = [];
  let hold = false;
  const inner = new MemFs({ 'x.txt': 'x', d: Object.fromEntries([...Array(20).keys()].map((i) => [`n${i}`, `${i}`])) });
  const gated = new Proxy(inner as unknown as FuseFilesystem, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop !== 'lookup' || typeof v !== 'function') return v;
      return (...args: unknown[]) => (hold ? new Promise((r) => releases.push(() => r(v.apply(target, args)))) : v.apply(target, args));
    },
  });
  const host = inProcessDevice(gated, 'caps', { maxHandles: 100, maxInodes: 1000, maxRequests: 3 });
  try {
    const { driver, vfs } = await mountInProcess(host);
    await vfs.stat('/d');
    hold = true;
    const stats = [...Array(20).keys()].map((i) => vfs.stat(`/d/n${i}`));
    const backend = host.queueBackend as FuseQueueBackend;
    for (let i = 0; i < 200 && releases.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    assert.is(releases.length, 3, 'three served, the rest wait');
    assert.is(backend.peakRunning, 3);
    hold = false;
    while (releases.length) releases.shift()!();
    const sizes = (await Promise.all(stats)).map((s) => s.size);
    assert.equal(sizes, [...Array(20).keys()].map((i) => String(i).length));
    assert.ok(backend.peakRunning <= 3, `peak ${backend.peakRunning}`);
    await vfs.umount('/');
    await driver.close();
  } finally {
    await host.close();
  }
});

t.run();
