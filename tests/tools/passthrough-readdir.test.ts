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

const t = suite('passthrough-readdir');
const quiet = { warn: (_: string) => undefined };
const N = 1000;

async function setup() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ptd-'));
  const dir = path.join(root, 'many');
  fs.mkdirSync(dir);
  for (let k = 0; k < N; k++) fs.writeFileSync(path.join(dir, `file-${k}`), `${k}`);
  const server = new PassthroughServer({ root, daxPolicy: 'none', logger: quiet });
  const c = new PassthroughClient(server);
  await c.init();
  const many = (await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('many') })).body!.nodeid;
  const done = async () => { await server.close(); fs.rmSync(root, { recursive: true, force: true }); };
  return { root, dir, server, c, many, done };
}

t('READDIR over 1000 entries in several calls: every name once, . and .. included, stable offsets', async () => {
  const { c, many, dir, done } = await setup();
  try {
    const fh = (await c.call(K.FUSE_OPENDIR, many, { flags: 0, open_flags: 0 })).body!.fh;
    // a file created after OPENDIR is not in the snapshot
    fs.writeFileSync(path.join(dir, 'late'), 'x');
    const seen = new Map<string, number>();
    let offset = 0n;
    let calls = 0;
    for (;;) {
      const r = await c.call(K.FUSE_READDIR, many, { fh, offset, size: 4096, read_flags: 0, lock_owner: 0n, flags: 0 });
      assert.is(r.errno, 0);
      const ents = r.body!.entries;
      if (ents.length === 0) break;
      calls++;
      for (const e of ents) {
        const n = nameToString(e.name);
        seen.set(n, (seen.get(n) ?? 0) + 1);
        assert.ok(e.off > offset, 'offsets grow');
        offset = e.off;
        if (n.startsWith('file-')) {
          assert.is(e.type, K.DT_REG);
          assert.is(e.ino, BigInt(fs.statSync(path.join(dir, n)).ino));
        }
      }
      // re-reading from a remembered offset gives the same entry again
      if (calls === 3) {
        const again = await c.call(K.FUSE_READDIR, many, { fh, offset: ents[0]!.off - 1n, size: 100, read_flags: 0, lock_owner: 0n, flags: 0 });
        assert.is(nameToString(again.body!.entries[0]!.name), nameToString(ents[0]!.name));
      }
    }
    assert.ok(calls > 5, `several calls (${calls})`);
    assert.is(seen.size, N + 2);
    assert.ok([...seen.values()].every((v) => v === 1));
    assert.ok(seen.has('.') && seen.has('..'));
    assert.not.ok(seen.has('late'));
    assert.is((await c.call(K.FUSE_READDIR, many, { fh, offset: 0n, size: 8, read_flags: 0, lock_owner: 0n, flags: 0 })).errno, Errno.EINVAL);
    assert.is((await c.call(K.FUSE_RELEASEDIR, many, { fh, flags: 0, release_flags: 0, lock_owner: 0n })).errno, 0);
    assert.is((await c.call(K.FUSE_READDIR, many, { fh, offset: 0n, size: 4096, read_flags: 0, lock_owner: 0n, flags: 0 })).errno, Errno.EBADF);
  } finally { await done(); }
});

t('READDIRPLUS over 1000 entries: a lookup counted for each returned entry except . and ..', async () => {
  const { c, many, server, done } = await setup();
  try {
    const fh = (await c.call(K.FUSE_OPENDIR, many, { flags: 0, open_flags: 0 })).body!.fh;
    const seen = new Map<string, bigint>();
    let offset = 0n;
    let calls = 0;
    for (;;) {
      // reply capacity smaller than size: clamped
      const r = await c.call(K.FUSE_READDIRPLUS, many, { fh, offset, size: 65536, read_flags: 0, lock_owner: 0n, flags: 0 }, 16 + 8192);
      const ents = r.body!.entries;
      if (ents.length === 0) break;
      calls++;
      for (const e of ents) {
        const n = nameToString(e.dirent.name);
        assert.not.ok(seen.has(n));
        seen.set(n, e.entry_out.nodeid);
        offset = e.dirent.off;
        if (n === '.' || n === '..') assert.is(e.entry_out.nodeid, 0n);
        else {
          assert.ok(e.entry_out.nodeid > 1n);
          assert.is(e.entry_out.attr.size, BigInt(n.slice(5).length));
        }
      }
    }
    assert.ok(calls > 5);
    assert.is(seen.size, N + 2);
    for (const [n, id] of seen) if (id !== 0n) assert.is(server.nlookup(id), 1n, n);
    assert.is(server.inodeCount, 2 + N);
    // a LOOKUP after READDIRPLUS adds to the same count
    const id = (await c.call(K.FUSE_LOOKUP, many, { name: fuseName('file-7') })).body!.nodeid;
    assert.is(id, seen.get('file-7'));
    assert.is(server.nlookup(id), 2n);
    await c.send(K.FUSE_BATCH_FORGET, 0n, { forgets: [...seen.values()].filter((v) => v !== 0n).map((nodeid) => ({ nodeid, nlookup: 1n })) });
    assert.is(server.nlookup(id), 1n);
    assert.is(server.inodeCount, 3);
  } finally { await done(); }
});

t('READDIR of the root: .. is the root itself', async () => {
  const { c, root, done } = await setup();
  try {
    const fh = (await c.call(K.FUSE_OPENDIR, 1n, { flags: 0, open_flags: 0 })).body!.fh;
    const r = await c.call(K.FUSE_READDIR, 1n, { fh, offset: 0n, size: 4096, read_flags: 0, lock_owner: 0n, flags: 0 });
    const dotdot = r.body!.entries.find((e) => nameToString(e.name) === '..')!;
    assert.is(dotdot.ino, BigInt(fs.statSync(root).ino));
    assert.is((await c.call(K.FUSE_OPENDIR, (await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('many') })).body!.nodeid, { flags: 0, open_flags: 0 })).errno, 0);
  } finally { await done(); }
});

t.run();
