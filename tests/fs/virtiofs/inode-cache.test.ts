// The inode cache alone, over a fake FORGET path and a fake window manager
// that write one shared event log: lookup counts over mounts, the idle LRU,
// revival of a dropped inode, READDIRPLUS batches, the root, and
// REMOVEMAPPING of a nodeid's chunks before its last FORGET.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import { S_IFDIR, S_IFREG, type Mount, type Vnode } from '../../../core/vfs';
import type { EntryOut, ForgetOne } from '../../../fs/fuse';
import { InodeCache, LookupBook, type VirtiofsInode } from '../../../fs/virtiofs';

function entry(nodeid: bigint, opts: { size?: number; mode?: number; generation?: bigint } = {}): EntryOut {
  const size = BigInt(opts.size ?? 10);
  return {
    nodeid, generation: opts.generation ?? 0n, entry_valid: 0n, attr_valid: 0n, entry_valid_nsec: 0, attr_valid_nsec: 0,
    attr: {
      ino: 1000n + nodeid, size, blocks: 1n, atime: 0n, mtime: 0n, ctime: 0n, atimensec: 0, mtimensec: 0, ctimensec: 0,
      mode: opts.mode ?? (S_IFREG | 0o644), nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 4096, flags: 0,
    },
  };
}

function rig(size = 0) {
  const events: string[] = [];
  const logs: string[] = [];
  const session = {
    async forget(nodeid: bigint, n: number) { if (n > 0) events.push(`forget ${nodeid} ${n}`); },
    async forgetMany(list: readonly ForgetOne[]) { events.push(`batch ${list.map((f) => `${f.nodeid}:${f.nlookup}`).join(',')}`); },
  };
  const dax = { async dropInode(nodeid: bigint) { events.push(`remove ${nodeid}`); } };
  const book = new LookupBook(session, dax, (m) => logs.push(m));
  const mount = { vnodes: new Map<bigint, Vnode>() } as unknown as Mount;
  const cache = new InodeCache(book, size, (m) => logs.push(m));
  /** The VFS's side: a vnode made for ip, then dropped (vnops.inactive). */
  const vnode = (ip: VirtiofsInode) => ({ ino: ip.nodeid, data: ip, mount }) as unknown as Vnode;
  const drop = (ip: VirtiofsInode) => cache.release(vnode(ip));
  return { events, logs, book, mount, cache, vnode, drop };
}

const tick = () => new Promise<void>((r) => setTimeout(r, 0));
const settle = async () => { for (let i = 0; i < 3; i++) await tick(); };

const t = suite('inode cache');

t('an entry counts one lookup; the held inode is the same object, its attributes refreshed', () => {
  const { cache, book } = rig();
  const a = cache.instantiate(entry(5n, { size: 10 }));
  const b = cache.instantiate(entry(5n, { size: 99 }));
  assert.is(a, b);
  assert.is(a.nlookup, 2);
  assert.is(a.size, 99);
  assert.is(book.count(5n), 2);
  assert.is(cache.inodes.get(5n), a);
});

t('bad attributes: EIO, and a new node\'s lookup is given back at once; a held one keeps it for its drop', async () => {
  const { cache, book, events } = rig();
  assert.throws(() => cache.instantiate(entry(6n, { mode: 0o644 })), (e: ErrnoError) => e.errno === Errno.EIO);
  assert.throws(() => cache.instantiate(entry(1n, { mode: S_IFDIR | 0o755, generation: 3n })), (e: ErrnoError) => e.errno === Errno.EIO);
  await settle();
  assert.equal(events, ['forget 6 1', 'forget 1 1']);
  assert.is(book.count(6n), 0);
  assert.not.ok(cache.inodes.has(6n));
  const ip = cache.instantiate(entry(7n));
  assert.throws(() => cache.instantiate(entry(7n, { mode: S_IFDIR | 0o755 })), /changed type/);
  assert.is(ip.nlookup, 2);
  assert.is(book.count(7n), 2);
});

t('dropped inodes wait in an LRU of `size`; past it the oldest is forgotten with all its lookups', async () => {
  const { cache, events, drop } = rig(2);
  const [a, b, c] = [cache.instantiate(entry(2n)), cache.instantiate(entry(3n)), cache.instantiate(entry(4n))];
  cache.instantiate(entry(2n));
  drop(a); drop(b);
  await settle();
  assert.is(cache.idleCount, 2);
  assert.equal(events, []);
  drop(c);
  await settle();
  assert.equal(events, ['forget 2 2'], 'the oldest, with both lookups');
  assert.equal([...cache.inodes.keys()], [3n, 4n]);
  assert.is(a.nlookup, 0);
  // A new entry for an idle node takes it out of the LRU: it is not the next to go.
  cache.instantiate(entry(3n));
  const d = cache.instantiate(entry(8n));
  drop(d);
  await settle();
  assert.equal(events, ['forget 2 2']);
  drop(cache.inodes.get(3n)!);
  await settle();
  assert.equal(events, ['forget 2 2', 'forget 4 1'], 'c was the oldest idle one');
});

t('size 0: forgotten once the drop settles, not at once; a walk that made a vnode meanwhile revives it', async () => {
  const { cache, events, drop, mount, vnode } = rig(0);
  const ip = cache.instantiate(entry(9n));
  drop(ip);
  assert.equal(events, [], 'deferred to a macrotask');
  // A LOOKUP answered just before the drop: the VFS made a vnode for the nodeid again.
  cache.instantiate(entry(9n));
  mount.vnodes.set(9n, vnode(ip));
  await settle();
  assert.equal(events, []);
  assert.is(ip.nlookup, 2);
  mount.vnodes.delete(9n);
  drop(ip);
  await settle();
  assert.equal(events, ['forget 9 2']);
  assert.is(cache.idleCount, 0);
});

t('the root: held with no lookup, never released, forgotten only for what READDIRPLUS counted', async () => {
  const { cache, events, drop } = rig(0);
  let getattrs = 0;
  const getattr = async () => { getattrs++; return { attr_valid: 0n, attr_valid_nsec: 0, attr: entry(1n, { mode: S_IFDIR | 0o755 }).attr }; };
  const root = await cache.root(getattr);
  assert.is(await cache.root(getattr), root);
  assert.is(getattrs, 1);
  assert.is(root.nlookup, 0);
  drop(root);
  await settle();
  assert.is(cache.idleCount, 0);
  await cache.forgetAll();
  assert.equal(events, []);
});

t('READDIRPLUS entries: a held node takes the lookup, the others are kept idle, past the cache size the oldest go in one batch', async () => {
  const { cache, book, events } = rig(4);
  const held = cache.instantiate(entry(2n));
  const kept = cache.adopt([entry(2n, { size: 77 }), entry(3n), entry(0n), entry(4n), entry(3n)]);
  assert.is(kept[0], held);
  assert.is(held.nlookup, 2);
  assert.is(held.size, 77, 'the entry refreshed its attributes');
  assert.is(kept[1], kept[4], 'a node named twice (hard links) is one inode');
  assert.is(kept[1]!.nlookup, 2);
  assert.is(kept[2], undefined, 'nodeid 0 is no entry');
  assert.is(cache.idleCount, 2);
  assert.is(book.count(3n), 2);
  await settle();
  assert.equal(events, [], 'nothing to forget yet');
  // Three more: five idle, one over the size: the oldest (3) goes.
  const more = cache.adopt([entry(5n), entry(6n), entry(7n)]);
  assert.ok(more.every((ip) => ip !== undefined));
  await settle();
  assert.equal(events, ['batch 4:1'], 'the oldest: 3 was named again after 4');
  assert.is(book.count(4n), 0);
  assert.is(book.count(3n), 2);
  assert.is(cache.idleCount, 4);
  // An adopted inode is what a later lookup revives.
  assert.ok(cache.revive(more[0]!));
  assert.is(cache.idleCount, 3);
});

t('READDIRPLUS entries with inode-cache 0, or bad attributes: every lookup given back in one batch, merged per nodeid', async () => {
  const { cache, events } = rig(0);
  const kept = cache.adopt([entry(3n), entry(4n), entry(3n)]);
  assert.equal(kept, [undefined, undefined, undefined]);
  await settle();
  assert.equal(events, ['batch 3:2,4:1']);
  const r = rig(8);
  assert.equal(r.cache.adopt([entry(5n, { mode: 0o644 })]), [undefined]);
  await settle();
  assert.equal(r.events, ['batch 5:1']);
});

t('REMOVEMAPPING before the last FORGET of a nodeid that went through the window, and only then', async () => {
  const { cache, events, drop, book } = rig(0);
  // A second mount of the same device: its own cache over the same book.
  const mount2 = { vnodes: new Map<bigint, Vnode>() } as unknown as Mount;
  const cache2 = new InodeCache(book, 0, () => {});
  const ip = cache.instantiate(entry(5n));
  const ip2 = cache2.instantiate(entry(5n));
  cache.noteDax(ip);
  drop(ip);
  await settle();
  assert.equal(events, ['forget 5 1'], 'mount 2 still holds it: no REMOVEMAPPING');
  cache2.release({ ino: 5n, data: ip2, mount: mount2 } as unknown as Vnode);
  await settle();
  assert.equal(events, ['forget 5 1', 'remove 5', 'forget 5 1']);
  // A node that never used the window: no REMOVEMAPPING.
  drop(cache.instantiate(entry(6n)));
  await settle();
  assert.equal(events.slice(3), ['forget 6 1']);
  // READDIRPLUS batches count in the same book: the batch (sent at once)
  // is not the last lookup, the deferred drop is.
  const w = cache.instantiate(entry(7n));
  cache.noteDax(w);
  drop(w);
  cache2.adopt([entry(7n)]);
  await settle();
  assert.equal(events.slice(4), ['batch 7:1', 'remove 7', 'forget 7 1']);
});

t('forgetAll forgets every held inode and waits for every FORGET, READDIRPLUS batches included', async () => {
  const { cache, events, drop } = rig(8);
  let release: () => void = () => {};
  const slow = new Promise<void>((r) => { release = r; });
  const book = new LookupBook({
    async forget(nodeid, n) { events.push(`forget ${nodeid} ${n}`); },
    async forgetMany(list) { await slow; events.push(`batch ${list.length}`); },
  }, null, () => {});
  const c = new InodeCache(book, 0, () => {});
  const a = c.instantiate(entry(2n));
  c.instantiate(entry(3n));
  c.adopt([entry(4n)]);
  const done = c.forgetAll();
  let finished = false;
  void done.then(() => { finished = true; });
  await settle();
  assert.not.ok(finished, 'waits for the batch');
  release();
  await done;
  assert.equal(events, ['forget 2 1', 'forget 3 1', 'batch 1']);
  assert.is(a.nlookup, 0);
  assert.is(c.inodes.size, 0);
  // The first rig's cache, for completeness: idle ones are forgotten too.
  drop(cache.instantiate(entry(9n)));
  await settle();
  await cache.forgetAll();
  assert.equal(events.slice(3), ['forget 9 1']);
});

t('a failed FORGET is logged, not thrown', async () => {
  const logs: string[] = [];
  const book = new LookupBook({
    async forget() { throw new ErrnoError(Errno.EIO, 'lost'); },
    async forgetMany() { throw new ErrnoError(Errno.EIO, 'lost'); },
  }, null, () => {});
  const c = new InodeCache(book, 0, (m) => logs.push(m));
  c.instantiate(entry(2n));
  c.adopt([entry(3n)]);
  await c.forgetAll();
  assert.equal(logs.map((l) => l.replace(/:.*/, '')), ['virtiofs', 'virtiofs']);
  assert.match(logs.join('\n'), /FORGET failed/);
  assert.match(logs.join('\n'), /FORGET 2 failed/);
});

t.run();
