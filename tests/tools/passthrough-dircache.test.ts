import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Errno } from '../../core/errno';
import * as K from '../../fs/fuse';
import { fuseName, nameToString } from '../../fs/fuse';
import { PassthroughServer } from '../../tools/vmm/passthrough';
import { PassthroughClient } from '../../tools/vmm/passthrough/client';
import { DirCache, DirFd } from '../../tools/vmm/passthrough/dir-cache';
import { HUNG_FACTOR, MAX_RECOVER, RECOVER, SLOW_RUN, SlowGuard } from '../../tools/vmm/passthrough/slow-guard';

const t = suite('passthrough-dircache');
const quiet = { warn: (_: string) => undefined };
const fdCount = () => fs.readdirSync('/proc/self/fd').length;

async function setup(opts: { dirCacheSize?: number; slowSyncMs?: number; clock?: () => number; warn?: (m: string) => void } = {}) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ptdc-'));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'f'), 'SECRET');
  for (let k = 0; k < 5; k++) {
    fs.mkdirSync(path.join(root, `d${k}`), { recursive: true });
    fs.writeFileSync(path.join(root, `d${k}`, 'f'), `inside${k}`);
  }
  const server = new PassthroughServer({
    root, daxPolicy: 'none', logger: { warn: opts.warn ?? quiet.warn },
    dirCacheSize: opts.dirCacheSize, slowSyncMs: opts.slowSyncMs, clock: opts.clock,
  });
  const c = new PassthroughClient(server);
  await c.init();
  const done = async () => { await server.close(); fs.rmSync(base, { recursive: true, force: true }); };
  return { root, outside, server, c, done };
}

const lookup = (c: PassthroughClient, parent: bigint, name: string) => c.call(K.FUSE_LOOKUP, parent, { name: fuseName(name) });
const getattr = (c: PassthroughClient, id: bigint) => c.call(K.FUSE_GETATTR, id, { getattr_flags: 0, fh: 0n });

t('a cached directory swapped for a symlink to outside is ESTALE and its fd is dropped', async () => {
  const { c, server, root, outside, done } = await setup();
  try {
    const d = (await lookup(c, 1n, 'd0')).body!.nodeid;
    const f = (await lookup(c, d, 'f')).body!.nodeid; // opens and caches d0's fd
    assert.is(server.cachedDirCount, 1);
    const before = fdCount();
    // Swap: the cached fd still holds the real d0 (now d0.old), but the
    // recorded path leads outside; the fd is used only after the path is
    // shown to lead to it, so nothing is served and nothing outside is read.
    fs.renameSync(path.join(root, 'd0'), path.join(root, 'd0.old'));
    fs.symlinkSync(outside, path.join(root, 'd0'));
    assert.is((await lookup(c, d, 'f')).errno, Errno.ESTALE);
    assert.is(server.cachedDirCount, 0, 'the stale fd left the cache');
    assert.is(fdCount(), before - 1, 'and was closed');
    assert.is((await getattr(c, f)).errno, Errno.ESTALE);
    assert.is((await c.call(K.FUSE_OPEN, f, { flags: 0, open_flags: 0 })).errno, Errno.ESTALE);
    // renamed back: the same nodeid is served again (reopened, reverified)
    fs.rmSync(path.join(root, 'd0'));
    fs.renameSync(path.join(root, 'd0.old'), path.join(root, 'd0'));
    const o = await c.call(K.FUSE_OPEN, f, { flags: 0, open_flags: 0 });
    assert.is(o.errno, 0);
    const rd = await c.call(K.FUSE_READ, f, { fh: o.body!.fh, offset: 0n, size: 100, read_flags: 0, lock_owner: 0n, flags: 0 });
    assert.is(nameToString(rd.body!.data), 'inside0');
  } finally { await done(); }
});

t('a cached directory renamed inside the root: ESTALE under the old path, the same nodeid after a new lookup', async () => {
  const { c, root, done } = await setup();
  try {
    const d = (await lookup(c, 1n, 'd1')).body!.nodeid;
    assert.is((await lookup(c, d, 'f')).errno, 0);
    fs.renameSync(path.join(root, 'd1'), path.join(root, 'moved'));
    assert.is((await lookup(c, d, 'f')).errno, Errno.ESTALE);
    assert.is((await lookup(c, 1n, 'moved')).body!.nodeid, d);
    assert.is((await lookup(c, d, 'f')).errno, 0);
  } finally { await done(); }
});

t('the cache is bounded: the least recently used fd is closed first', async () => {
  const { c, server, done } = await setup({ dirCacheSize: 2 });
  try {
    const ids: bigint[] = [];
    for (let k = 0; k < 3; k++) ids.push((await lookup(c, 1n, `d${k}`)).body!.nodeid);
    const base = fdCount();
    await lookup(c, ids[0]!, 'f');
    await lookup(c, ids[1]!, 'f');
    assert.is(fdCount(), base + 2);
    await lookup(c, ids[0]!, 'f'); // d0 is now the most recent
    await lookup(c, ids[2]!, 'f'); // evicts d1
    assert.is(server.cachedDirCount, 2);
    assert.is(fdCount(), base + 2);
    const cache = server.passthrough.state.dirs;
    assert.ok(cache.get(ids[0]!) !== undefined && cache.get(ids[2]!) !== undefined);
    assert.is(cache.get(ids[1]!), undefined);
  } finally { await done(); }
});

t('FORGET, BATCH_FORGET and DESTROY close the cached fds: no fd leak', async () => {
  const { c, server, done } = await setup();
  try {
    const base = fdCount();
    const ids: bigint[] = [];
    for (let k = 0; k < 5; k++) {
      const id = (await lookup(c, 1n, `d${k}`)).body!.nodeid;
      ids.push(id);
      await lookup(c, id, 'f');
      await getattr(c, id);
    }
    assert.is(fdCount(), base + 5);
    await c.send(K.FUSE_FORGET, ids[0]!, { nlookup: 1n });
    assert.is(fdCount(), base + 4);
    await c.send(K.FUSE_BATCH_FORGET, 0n, { forgets: [{ nodeid: ids[1]!, nlookup: 1n }, { nodeid: ids[2]!, nlookup: 1n }] });
    assert.is(fdCount(), base + 2);
    assert.is(server.cachedDirCount, 2);
    // an open directory handle keeps its fd past DESTROY's cache clear until it is closed too
    const fh = (await c.call(K.FUSE_OPENDIR, ids[3]!, { flags: 0, open_flags: 0 })).body!.fh;
    assert.ok(fh > 0n);
    assert.is(fdCount(), base + 2, 'OPENDIR shares the cached fd');
    assert.is((await c.call(K.FUSE_DESTROY, 0n, null)).errno, 0);
    assert.is(server.cachedDirCount, 0);
    assert.is(fdCount(), base);
  } finally { await done(); }
});

t('an fd in use is closed only when its last user is done; close() runs each close once', () => {
  const closed: number[] = [];
  const st = fs.statSync(os.tmpdir(), { bigint: true });
  const cache = new DirCache(1);
  const a = new DirFd(1001, st, (fd) => { closed.push(fd); });
  cache.put(1n, a);
  a.acquire();
  cache.put(2n, new DirFd(1002, st, (fd) => { closed.push(fd); })); // evicts a, in use
  assert.equal(closed, []);
  a.release();
  assert.equal(closed, [1001]);
  a.drop();
  cache.drop(2n);
  cache.drop(2n);
  assert.equal(closed, [1001, 1002]);
});

t('slow blocking calls send the filesystem to the thread pool, logged once; fast calls bring it back', async () => {
  let now = 0;
  let step = 0;
  const warnings: string[] = [];
  // every clock reading advances by `step` ms
  const { c, server, root, done } = await setup({ slowSyncMs: 2, clock: () => (now += step), warn: (m) => { warnings.push(m); } });
  try {
    const dev = fs.statSync(root, { bigint: true }).dev;
    const d = (await lookup(c, 1n, 'd2')).body!.nodeid;
    assert.not.ok(server.slowFilesystem(dev));
    step = 5;
    for (let k = 0; k < SLOW_RUN; k++) assert.is((await getattr(c, d)).errno, 0, 'a slow call still answers');
    assert.ok(server.slowFilesystem(dev));
    assert.is(warnings.length, 1);
    assert.match(warnings[0]!, /thread pool/);
    // still slow in the thread pool: stays there, no new warning
    for (let k = 0; k < RECOVER + 2; k++) assert.is((await getattr(c, d)).errno, 0);
    assert.ok(server.slowFilesystem(dev));
    assert.is(warnings.length, 1);
    // fast in the thread pool RECOVER times in a row: back to blocking calls
    step = 0;
    for (let k = 0; k < RECOVER; k++) assert.is((await getattr(c, d)).errno, 0);
    assert.not.ok(server.slowFilesystem(dev));
    // a listing works both ways
    step = 5;
    const fh = (await c.call(K.FUSE_OPENDIR, d, { flags: 0, open_flags: 0 })).body!.fh;
    assert.ok(server.slowFilesystem(dev));
    const r = await c.call(K.FUSE_READDIRPLUS, d, { fh, offset: 0n, size: 4096, read_flags: 0, lock_owner: 0n, flags: 0 });
    assert.equal(r.body!.entries.map((e) => nameToString(e.dirent.name)), ['.', '..', 'f']);
  } finally { await done(); }
});

function guard() {
  let now = 0;
  const trips: number[] = [];
  const g = new SlowGuard<string>(2, () => now, new Map(), (_k, _ms, n) => { trips.push(n); });
  return {
    g, trips,
    blocking: (ms: number) => g.run('a', () => { now += ms; }),
    pool: (ms: number) => { const t0 = g.start(); now += ms; g.asyncDone('a', t0); },
  };
}

t('SlowGuard: a slow call now and then (a preempted process) never leaves blocking calls', () => {
  const { g, trips, blocking } = guard();
  for (let k = 0; k < 1000; k++) {
    blocking(k % SLOW_RUN === 0 ? 10 : 0.01); // one slow call in every SLOW_RUN
    assert.ok(g.fast('a'));
  }
  blocking(2); // at the threshold is not slow
  assert.ok(g.fast('a'));
  assert.equal(trips, []);
});

t('SlowGuard: SLOW_RUN slow calls in a row, or one hung call, send the key to the thread pool', () => {
  const a = guard();
  for (let k = 1; k < SLOW_RUN; k++) { a.blocking(10); assert.ok(a.g.fast('a'), `after ${k} slow calls`); }
  a.blocking(10);
  assert.not.ok(a.g.fast('a'));
  assert.ok(a.g.fast('b'), 'other keys are not touched');
  assert.equal(a.trips, [1]);
  const h = guard();
  h.blocking(2 * HUNG_FACTOR + 1);
  assert.not.ok(h.g.fast('a'));
});

t('SlowGuard: never slow for good: each trip doubles the fast pool calls needed to come back, up to MAX_RECOVER', () => {
  const { g, trips, blocking, pool } = guard();
  for (let trip = 1; trip <= 12; trip++) {
    for (let k = 0; k < SLOW_RUN; k++) blocking(10);
    assert.not.ok(g.fast('a'));
    const need = Math.min(MAX_RECOVER, RECOVER * 2 ** (trip - 1));
    for (let k = 0; k < need - 1; k++) pool(0.2);
    pool(5); // a slow pool call restarts the count
    assert.not.ok(g.fast('a'));
    for (let k = 0; k < need - 1; k++) pool(0.2);
    assert.not.ok(g.fast('a'), `trip ${trip}: ${need - 1} fast calls are not enough`);
    pool(0.2);
    assert.ok(g.fast('a'), `trip ${trip}: back after ${need}`);
  }
  assert.equal(trips, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
});

t.run();
