// A caller that gives up: the session answers EINTR at once, sends
// FUSE_INTERRUPT on hiprio, and settles a reply that still comes (a lookup
// given back with FORGET through the lookup book, a handle released), as
// Linux does.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import type { FuseDevice } from '../../../fs/virtiofs';
import { FuseSession } from '../../../fs/virtiofs/session';
import { LookupBook } from '../../../fs/virtiofs/inode-cache';
import * as K from '../../../fs/fuse';

const t = suite('session: interrupted calls');

const attr: K.Attr = {
  ino: 5n, size: 0n, blocks: 0n, atime: 0n, mtime: 0n, ctime: 0n, atimensec: 0, mtimensec: 0, ctimensec: 0,
  mode: 0o100644, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 4096, flags: 0,
};
const entry = (nodeid: bigint): K.EntryOut => ({ nodeid, generation: 0n, entry_valid: 0n, attr_valid: 0n, entry_valid_nsec: 0, attr_valid_nsec: 0, attr });

/** A device whose replies the test releases; hiprio messages recorded. */
class HeldDevice implements FuseDevice {
  readonly id = {};
  readonly memory = undefined as never;
  readonly requests: { req: K.AnyRequest; resolve: (b: Uint8Array) => void }[] = [];
  readonly hiprio: K.AnyRequest[] = [];
  request(bytes: Uint8Array): Promise<Uint8Array> {
    const d = K.decodeRequest(bytes);
    if (!d.ok) throw new Error(d.reason);
    return new Promise((resolve) => this.requests.push({ req: d.value, resolve }));
  }
  send(bytes: Uint8Array): void {
    const d = K.decodeRequest(bytes);
    if (!d.ok) throw new Error(d.reason);
    this.hiprio.push(d.value);
  }
  getDax() { return undefined; }
  /** Answers request k (its opcode's reply body, or an errno). */
  answer<O extends K.Opcode>(k: number, body: K.ReplyBodies[O] | number): void {
    const { req, resolve } = this.requests[k]!;
    resolve(K.encodeReply(req.opcode as O, req.unique, body));
  }
}

const settle = () => new Promise((r) => setImmediate(r));

/** A session as a connection has it: a lookup book over it. */
function session(dev: FuseDevice, dax: LookupBookDax = null, log: (m: string) => void = () => undefined): { s: FuseSession; book: LookupBook } {
  const s = new FuseSession(dev, log);
  return { s, book: new LookupBook(s, dax, log) };
}
type LookupBookDax = ConstructorParameters<typeof LookupBook>[1];

/** A LOOKUP whose caller gives up, answered afterwards with `nodeid`. */
async function lateLookup(dev: HeldDevice, s: FuseSession, nodeid: bigint): Promise<void> {
  const ac = new AbortController();
  s.call(K.FUSE_LOOKUP, 1n, { name: K.fuseName('x') }, undefined, { signal: ac.signal }).catch(() => undefined);
  ac.abort();
  await settle();
  dev.answer<typeof K.FUSE_LOOKUP>(dev.requests.length - 1, entry(nodeid));
  await settle();
}

t('an abort rejects with EINTR at once and sends INTERRUPT of the request on hiprio', async () => {
  const dev = new HeldDevice();
  const { s, book } = session(dev);
  const ac = new AbortController();
  const p = s.call(K.FUSE_LOOKUP, 1n, { name: K.fuseName('x') }, undefined, { cred: { uid: 7, gid: 8, pid: 9 }, signal: ac.signal });
  const got = p.then(() => undefined, (e) => e);
  assert.is(dev.requests.length, 1);
  const req = dev.requests[0]!.req;
  assert.equal([req.uid, req.gid, req.pid], [7, 8, 9], 'the caller is in the header');
  ac.abort();
  const e = await got;
  assert.instance(e, ErrnoError);
  assert.is((e as ErrnoError).errno, Errno.EINTR);
  await settle();
  assert.is(dev.hiprio.length, 1);
  const intr = dev.hiprio[0]!;
  assert.is(intr.opcode, K.FUSE_INTERRUPT);
  assert.is((intr.body as K.InterruptIn).unique, req.unique);
  assert.is(intr.unique, req.unique | 1n, 'its own unique has bit 0 set');
  // The server answers after all: the lookup it counted is given back.
  dev.answer<typeof K.FUSE_LOOKUP>(0, entry(42n));
  await settle();
  const forgets = dev.hiprio.filter((r) => r.opcode === K.FUSE_FORGET);
  assert.equal(forgets.map((r) => [r.nodeid, (r.body as K.ForgetIn).nlookup]), [[42n, 1n]], 'one FORGET of the one lookup');
  assert.is(book.count(42n), 0, 'counted and given back in the book');
});

t('a late LOOKUP of a nodeid a mount holds through the window: FORGET 1, its count and mappings kept', async () => {
  const dev = new HeldDevice();
  const dropped: bigint[] = [];
  const { s, book } = session(dev, { dropInode: async (n: bigint) => { dropped.push(n); } });
  book.note(42n, 2);
  book.noteDax(42n);
  await lateLookup(dev, s, 42n);
  const forgets = dev.hiprio.filter((r) => r.opcode === K.FUSE_FORGET);
  assert.equal(forgets.map((r) => [r.nodeid, (r.body as K.ForgetIn).nlookup]), [[42n, 1n]]);
  assert.is(book.count(42n), 2, 'the mount keeps its share');
  assert.equal(dropped, [], 'no REMOVEMAPPING: the mount still reads through the window');
  // The mount's last lookups go: the chunks are removed before its FORGET.
  await book.forget(42n, 2);
  assert.equal(dropped, [42n]);
});

t('a session without a lookup book says it could not give a late lookup back', async () => {
  const dev = new HeldDevice();
  const logs: string[] = [];
  const s = new FuseSession(dev, (m) => logs.push(m));
  await lateLookup(dev, s, 43n);
  assert.not.ok(dev.hiprio.some((r) => r.opcode === K.FUSE_FORGET), 'only the book sends FORGET');
  assert.ok(logs.some((m) => m.includes('nodeid 43') && m.includes('no lookup book')), logs.join('\n'));
});

t('a late CREATE is released and forgotten; a late error needs nothing', async () => {
  const dev = new HeldDevice();
  const { s, book } = session(dev);
  const ac = new AbortController();
  const p = s.call(K.FUSE_CREATE, 1n, { flags: 1, mode: 0o100644, umask: 0, open_flags: 0, name: K.fuseName('f') }, undefined, { signal: ac.signal });
  p.catch(() => undefined);
  ac.abort();
  await settle();
  dev.answer<typeof K.FUSE_CREATE>(0, { entry_out: entry(50n), open_out: { fh: 77n, open_flags: 0, backing_id: 0 } });
  await settle();
  const releases = dev.requests.filter((r) => r.req.opcode === K.FUSE_RELEASE);
  assert.equal(releases.map((r) => (r.req.body as K.ReleaseIn).fh), [77n], 'one RELEASE of the late handle');
  assert.is(dev.hiprio.filter((r) => r.opcode === K.FUSE_FORGET && r.nodeid === 50n).length, 1, 'one FORGET');
  assert.is(book.count(50n), 0);
  const ac2 = new AbortController();
  const q = s.call(K.FUSE_MKDIR, 1n, { mode: 0o755, umask: 0, name: K.fuseName('d') }, undefined, { signal: ac2.signal });
  q.catch(() => undefined);
  ac2.abort();
  await settle();
  const before = dev.hiprio.length;
  dev.answer<typeof K.FUSE_MKDIR>(dev.requests.length - 1, Errno.EEXIST);
  await settle();
  assert.is(dev.hiprio.length, before, 'nothing to settle after an error');
});

t('an already aborted signal: EINTR and nothing is sent; a call that completes is not interrupted', async () => {
  const dev = new HeldDevice();
  const s = new FuseSession(dev, () => undefined);
  const ac = new AbortController();
  ac.abort();
  await s.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n }, undefined, { signal: ac.signal }).then(
    () => assert.unreachable('resolved'), (e) => assert.is((e as ErrnoError).errno, Errno.EINTR));
  assert.is(dev.requests.length, 0);
  const ac2 = new AbortController();
  const p = s.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n }, undefined, { signal: ac2.signal });
  dev.answer<typeof K.FUSE_GETATTR>(0, { attr_valid: 0n, attr_valid_nsec: 0, attr });
  assert.is((await p).attr.ino, 5n);
  ac2.abort(); // after the reply: nothing happens
  await settle();
  assert.is(dev.hiprio.length, 0);
});

t.run();
