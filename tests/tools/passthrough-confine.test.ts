import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Errno } from '../../core/errno';
import * as K from '../../fs/fuse';
import { encodeRequest, fuseName, nameToString } from '../../fs/fuse';
import { PassthroughServer } from '../../tools/vmm/passthrough';
import { PassthroughClient } from '../../tools/vmm/passthrough/client';

const t = suite('passthrough-confine');
const quiet = { warn: (_: string) => undefined };

async function setup() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ptc-'));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'SECRET');
  fs.mkdirSync(path.join(outside, 'b'));
  fs.writeFileSync(path.join(outside, 'b', 'f'), 'SECRET');
  fs.mkdirSync(path.join(root, 'sub'));
  fs.writeFileSync(path.join(root, 'sub', 'secret'), 'inside');
  fs.mkdirSync(path.join(root, 'a'));
  fs.mkdirSync(path.join(root, 'a', 'b'));
  fs.writeFileSync(path.join(root, 'a', 'b', 'f'), 'inside');
  fs.symlinkSync('/', path.join(root, 'toroot'));
  fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'tosecret'));
  fs.symlinkSync('../outside', path.join(root, 'up'));
  const server = new PassthroughServer({ root, daxPolicy: 'none', logger: quiet });
  const c = new PassthroughClient(server);
  await c.init();
  const done = async () => { await server.close(); fs.rmSync(base, { recursive: true, force: true }); };
  return { base, root, outside, server, c, done };
}

const lookup = (c: PassthroughClient, parent: bigint, name: string) => c.call(K.FUSE_LOOKUP, parent, { name: fuseName(name) });

function rawLookup(name: Uint8Array, unique: bigint): Uint8Array {
  // Build a valid LOOKUP, then put the forbidden bytes in its name.
  const placeholder = new Uint8Array(name.length).fill(0x61);
  const bytes = encodeRequest({ opcode: K.FUSE_LOOKUP, unique, nodeid: 1n, uid: 0, gid: 0, pid: 0, body: { name: placeholder } });
  bytes.set(name, K.FUSE_IN_HEADER_SIZE);
  return bytes;
}

function errnoOf(reply: Uint8Array | null): number {
  assert.ok(reply !== null);
  return -new DataView(reply!.buffer, reply!.byteOffset).getInt32(4, true);
}

t('. and .. as LOOKUP names are refused (EINVAL); names with / or NUL too', async () => {
  const { c, server, done } = await setup();
  try {
    assert.is((await lookup(c, 1n, '..')).errno, Errno.EINVAL);
    assert.is((await lookup(c, 1n, '.')).errno, Errno.EINVAL);
    const sub = (await lookup(c, 1n, 'sub')).body!.nodeid;
    assert.is((await lookup(c, sub, '..')).errno, Errno.EINVAL);
    const ctx = { queue: 1, replyCapacity: 4096 };
    assert.is(errnoOf(await server.handle(rawLookup(fuseName('../outside'), 5n), ctx)), Errno.EINVAL);
    assert.is(errnoOf(await server.handle(rawLookup(fuseName('sub/secret'), 6n), ctx)), Errno.EINVAL);
    assert.is(errnoOf(await server.handle(rawLookup(Uint8Array.of(0x73, 0, 0x62), 7n), ctx)), Errno.EINVAL);
  } finally { await done(); }
});

t('symlinks to / and to an outside file are returned as symlinks, never followed', async () => {
  const { c, done } = await setup();
  try {
    for (const [name, target] of [['toroot', '/'], ['tosecret', null], ['up', '../outside']] as const) {
      const e = await lookup(c, 1n, name);
      assert.is(e.errno, 0);
      assert.is(e.body!.attr.mode & 0o170000, 0o120000, `${name} is a symlink`);
      const id = e.body!.nodeid;
      const link = nameToString((await c.call(K.FUSE_READLINK, id, null)).body!.link);
      if (target !== null) assert.is(link, target);
      else assert.ok(link.endsWith('/outside/secret'));
      assert.is((await c.call(K.FUSE_OPEN, id, { flags: 0, open_flags: 0 })).errno, Errno.ELOOP);
      assert.is((await c.call(K.FUSE_OPENDIR, id, { flags: 0, open_flags: 0 })).errno, Errno.ENOTDIR);
      assert.is((await lookup(c, id, 'etc')).errno, Errno.ENOTDIR);
      assert.is((await lookup(c, id, 'secret')).errno, Errno.ENOTDIR);
    }
  } finally { await done(); }
});

t('a directory swapped for a symlink after lookup is refused (ESTALE), never served', async () => {
  const { c, root, outside, done } = await setup();
  try {
    const sub = (await lookup(c, 1n, 'sub')).body!.nodeid;
    const secret = (await lookup(c, sub, 'secret')).body!.nodeid;
    const fh0 = (await c.call(K.FUSE_OPEN, secret, { flags: 0, open_flags: 0 })).body!.fh;
    fs.renameSync(path.join(root, 'sub'), path.join(root, 'sub.old'));
    fs.symlinkSync(outside, path.join(root, 'sub'));
    assert.is((await lookup(c, sub, 'secret')).errno, Errno.ESTALE);
    assert.is((await c.call(K.FUSE_GETATTR, sub, { getattr_flags: 0, fh: 0n })).errno, Errno.ESTALE);
    assert.is((await c.call(K.FUSE_OPENDIR, sub, { flags: 0, open_flags: 0 })).errno, Errno.ESTALE);
    assert.is((await c.call(K.FUSE_GETATTR, secret, { getattr_flags: 0, fh: 0n })).errno, Errno.ESTALE);
    assert.is((await c.call(K.FUSE_OPEN, secret, { flags: 0, open_flags: 0 })).errno, Errno.ESTALE);
    // the handle opened before the swap still reads the file it opened
    const rd = await c.call(K.FUSE_READ, secret, { fh: fh0, offset: 0n, size: 100, read_flags: 0, lock_owner: 0n, flags: 0 });
    assert.is(nameToString(rd.body!.data), 'inside');
    // a fresh lookup sees the symlink, as a symlink
    const again = await lookup(c, 1n, 'sub');
    assert.is(again.body!.attr.mode & 0o170000, 0o120000);
  } finally { await done(); }
});

t('an intermediate directory swapped for a symlink (a -> outside, a/b/f) is refused', async () => {
  const { c, root, outside, done } = await setup();
  try {
    const a = (await lookup(c, 1n, 'a')).body!.nodeid;
    const b = (await lookup(c, a, 'b')).body!.nodeid;
    const f = (await lookup(c, b, 'f')).body!.nodeid;
    fs.renameSync(path.join(root, 'a'), path.join(root, 'a.old'));
    fs.symlinkSync(outside, path.join(root, 'a'));
    assert.is((await c.call(K.FUSE_OPEN, f, { flags: 0, open_flags: 0 })).errno, Errno.ESTALE);
    assert.is((await c.call(K.FUSE_GETATTR, f, { getattr_flags: 0, fh: 0n })).errno, Errno.ESTALE);
    assert.is((await c.call(K.FUSE_OPENDIR, b, { flags: 0, open_flags: 0 })).errno, Errno.ESTALE);
    assert.is((await lookup(c, b, 'f')).errno, Errno.ESTALE);
  } finally { await done(); }
});

t('a file swapped for a symlink after lookup cannot be opened', async () => {
  const { c, root, outside, done } = await setup();
  try {
    const sub = (await lookup(c, 1n, 'sub')).body!.nodeid;
    const s = (await lookup(c, sub, 'secret')).body!.nodeid;
    fs.rmSync(path.join(root, 'sub', 'secret'));
    fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'sub', 'secret'));
    const o = await c.call(K.FUSE_OPEN, s, { flags: 0, open_flags: 0 });
    assert.ok(o.errno === Errno.ESTALE || o.errno === Errno.ELOOP, `errno ${o.errno}`);
    assert.is((await c.call(K.FUSE_GETATTR, s, { getattr_flags: 0, fh: 0n })).errno, Errno.ESTALE);
  } finally { await done(); }
});

t('READDIRPLUS of a directory with symlinks: entries are symlinks, nothing outside is counted or listed', async () => {
  const { c, done } = await setup();
  try {
    const fh = (await c.call(K.FUSE_OPENDIR, 1n, { flags: 0, open_flags: 0 })).body!.fh;
    const r = await c.call(K.FUSE_READDIRPLUS, 1n, { fh, offset: 0n, size: 65536, read_flags: 0, lock_owner: 0n, flags: 0 });
    const names = r.body!.entries.map((e) => nameToString(e.dirent.name)).sort();
    assert.equal(names, ['.', '..', 'a', 'sub', 'toroot', 'tosecret', 'up']);
    for (const e of r.body!.entries) {
      if (['toroot', 'tosecret', 'up'].includes(nameToString(e.dirent.name))) {
        assert.is(e.dirent.type, K.DT_LNK);
        assert.is(e.entry_out.attr.mode & 0o170000, 0o120000);
      }
    }
  } finally { await done(); }
});

t.run();
