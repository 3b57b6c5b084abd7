import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Errno, ErrnoError } from '../../core/errno';
import * as K from '../../fs/fuse';
import { fuseName, nameToString } from '../../fs/fuse';
import { DaxMapper, DaxMapping, DaxPolicy, DaxRange, FUSE_INODE_DAX_THRESH, PassthroughServer } from '../../tools/vmm/passthrough';
import { PassthroughClient } from '../../tools/vmm/passthrough/client';

const t = suite('passthrough-dax');
const quiet = { warn: (_: string) => undefined };
const MiB = 1 << 20;
const W = K.FUSE_SETUPMAPPING_FLAG_WRITE;
const R = K.FUSE_SETUPMAPPING_FLAG_READ;

class FakeMapper implements DaxMapper {
  maps: DaxMapping[] = [];
  unmaps: DaxRange[][] = [];
  failWith: number | undefined;
  gate: Promise<void> | undefined;
  constructor(readonly windowSize: number) {}
  async map(m: DaxMapping): Promise<void> {
    if (this.gate) await this.gate;
    if (this.failWith !== undefined) throw new ErrnoError(this.failWith);
    this.maps.push({ ...m });
  }
  async unmap(ranges: DaxRange[]): Promise<void> { this.unmaps.push(ranges.map((r) => ({ ...r }))); }
}

async function setup(opts: { dax?: DaxMapper; readonly?: boolean; policy?: DaxPolicy; root?: string; reader?: (p: string) => Promise<boolean> } = {}) {
  const root = opts.root ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ptx-'));
  if (!opts.root) {
    fs.writeFileSync(path.join(root, 'small'), Buffer.alloc(100));
    fs.writeFileSync(path.join(root, 'edge'), Buffer.alloc(FUSE_INODE_DAX_THRESH));
    fs.writeFileSync(path.join(root, 'edge1'), Buffer.alloc(FUSE_INODE_DAX_THRESH + 1));
    fs.writeFileSync(path.join(root, 'big'), Buffer.alloc(3 * MiB));
    fs.mkdirSync(path.join(root, 'dir'));
    fs.symlinkSync('big', path.join(root, 'lnk'));
  }
  const server = new PassthroughServer({
    root, daxPolicy: opts.policy ?? 'always', dax: opts.dax, readonly: opts.readonly, logger: quiet,
    daxFlagReader: opts.reader,
  });
  const c = new PassthroughClient(server);
  await c.init();
  const done = async () => { await server.close(); if (!opts.root) fs.rmSync(root, { recursive: true, force: true }); };
  return { root, server, c, done };
}

async function openFile(c: PassthroughClient, name: string, flags = 0) {
  const nodeid = (await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName(name) })).body!.nodeid;
  const o = await c.call(K.FUSE_OPEN, nodeid, { flags, open_flags: 0 });
  assert.is(o.errno, 0, `open ${name}`);
  return { nodeid, fh: o.body!.fh };
}

const setupIn = (fh: bigint, foffset: number, len: number, moffset: number, flags: bigint) =>
  ({ fh, foffset: BigInt(foffset), len: BigInt(len), moffset: BigInt(moffset), flags });

t('no window: SETUPMAPPING and REMOVEMAPPING answer EINVAL', async () => {
  const { c, done } = await setup();
  try {
    const { nodeid, fh } = await openFile(c, 'big');
    assert.is((await c.call(K.FUSE_SETUPMAPPING, nodeid, setupIn(fh, 0, 2 * MiB, 0, R))).errno, Errno.EINVAL);
    assert.is((await c.call(K.FUSE_REMOVEMAPPING, nodeid, { mappings: [{ moffset: 0n, len: 2n * BigInt(MiB) }] })).errno, Errno.EINVAL);
  } finally { await done(); }
});

t('SETUPMAPPING checks: unknown fh, alignment, len, window bounds; a read mapping reaches the mapper', async () => {
  const dax = new FakeMapper(8 * MiB);
  const { c, done } = await setup({ dax });
  try {
    const { nodeid, fh } = await openFile(c, 'big');
    const sm = (a: ReturnType<typeof setupIn>) => c.call(K.FUSE_SETUPMAPPING, nodeid, a).then((r) => r.errno);
    assert.is(await sm(setupIn(999n, 0, 2 * MiB, 0, R)), Errno.EBADF);
    assert.is(await sm(setupIn(fh, 100, 2 * MiB, 0, R)), Errno.EINVAL, 'foffset');
    assert.is(await sm(setupIn(fh, 0, 2 * MiB, 512, R)), Errno.EINVAL, 'moffset');
    assert.is(await sm(setupIn(fh, 0, 1000, 0, R)), Errno.EINVAL, 'len');
    assert.is(await sm(setupIn(fh, 0, 0, 0, R)), Errno.EINVAL, 'len 0');
    assert.is(await sm(setupIn(fh, 0, 2 * MiB, 7 * MiB, R)), Errno.EINVAL, 'past the window end');
    assert.is(await sm(setupIn(fh, 0, 2 * MiB, 8 * MiB, R)), Errno.EINVAL, 'at the window end');
    assert.is((await c.call(K.FUSE_SETUPMAPPING, nodeid, { ...setupIn(fh, 0, 4096, 0, R), moffset: 0xfffffffffffff000n })).errno, Errno.EINVAL, 'overflow');
    assert.is(dax.maps.length, 0);
    assert.is(await sm(setupIn(fh, 2 * MiB, 2 * MiB, 6 * MiB, R)), 0);
    assert.is(dax.maps.length, 1);
    const m = dax.maps[0]!;
    assert.equal({ moffset: m.moffset, len: m.len, foffset: m.foffset, writable: m.writable }, { moffset: 6 * MiB, len: 2 * MiB, foffset: 2 * MiB, writable: false });
    assert.ok(m.fd > 2);
    dax.failWith = Errno.ENOMEM;
    assert.is(await sm(setupIn(fh, 0, 4096, 0, R)), Errno.ENOMEM, 'the mapper\'s errno is the reply');
  } finally { await done(); }
});

t('SETUPMAPPING replies only after the mapper resolved', async () => {
  const dax = new FakeMapper(4 * MiB);
  const { c, done } = await setup({ dax });
  try {
    const { nodeid, fh } = await openFile(c, 'big');
    let open!: () => void;
    dax.gate = new Promise((r) => { open = r; });
    let replied = false;
    const p = c.call(K.FUSE_SETUPMAPPING, nodeid, setupIn(fh, 0, 2 * MiB, 0, R)).then((r) => { replied = true; return r; });
    await new Promise((r) => setTimeout(r, 30));
    assert.not.ok(replied);
    open();
    assert.is((await p).errno, 0);
    assert.is(dax.maps.length, 1);
  } finally { await done(); }
});

t('write mappings: EACCES on a read-only fh, EROFS on a read-only share, reserved then mapped on a RDWR fh', async () => {
  const dax = new FakeMapper(8 * MiB);
  const rw = await setup({ dax });
  try {
    const ro = await openFile(rw.c, 'big');
    assert.is((await rw.c.call(K.FUSE_SETUPMAPPING, ro.nodeid, setupIn(ro.fh, 0, 2 * MiB, 0, W | R))).errno, Errno.EACCES);
    const w = await openFile(rw.c, 'small', fs.constants.O_RDWR);
    assert.is((await rw.c.call(K.FUSE_SETUPMAPPING, w.nodeid, setupIn(w.fh, 0, 2 * MiB, 0, W | R))).errno, 0);
    assert.is(dax.maps.at(-1)!.writable, true);
    // KEEP_SIZE: blocks reserved, size unchanged
    const st = fs.statSync(path.join(rw.root, 'small'));
    assert.is(st.size, 100);
    assert.ok(st.blocks * 512 >= 2 * MiB, `reserved ${st.blocks * 512} bytes`);
  } finally { await rw.done(); }
  const dax2 = new FakeMapper(8 * MiB);
  const ro = await setup({ dax: dax2, readonly: true });
  try {
    const f = await openFile(ro.c, 'big');
    assert.is((await ro.c.call(K.FUSE_SETUPMAPPING, f.nodeid, setupIn(f.fh, 0, 2 * MiB, 0, W))).errno, Errno.EROFS);
    assert.is((await ro.c.call(K.FUSE_SETUPMAPPING, f.nodeid, setupIn(f.fh, 0, 2 * MiB, 0, R))).errno, 0);
    assert.is(dax2.maps.length, 1);
  } finally { await ro.done(); }
});

t('REMOVEMAPPING: batches go to the mapper in one call; 0, too many, or out-of-window ranges are EINVAL', async () => {
  const dax = new FakeMapper(16 * MiB);
  const { c, done } = await setup({ dax });
  try {
    const rm = (mappings: { moffset: bigint; len: bigint }[]) => c.call(K.FUSE_REMOVEMAPPING, 1n, { mappings }).then((r) => r.errno);
    const two = 2n * BigInt(MiB);
    assert.is(await rm([]), Errno.EINVAL);
    assert.is(await rm(Array.from({ length: 257 }, () => ({ moffset: 0n, len: 4096n }))), Errno.EINVAL);
    assert.is(await rm([{ moffset: 0n, len: two }, { moffset: 15n * BigInt(MiB), len: two }]), Errno.EINVAL);
    assert.is(await rm([{ moffset: 100n, len: two }]), Errno.EINVAL);
    assert.is(await rm([{ moffset: 0n, len: 0n }]), Errno.EINVAL);
    assert.is(dax.unmaps.length, 0);
    assert.is(await rm([{ moffset: 0n, len: two }, { moffset: two, len: two }, { moffset: 3n * two, len: two }]), 0);
    assert.equal(dax.unmaps, [[{ moffset: 0, len: 2 * MiB }, { moffset: 2 * MiB, len: 2 * MiB }, { moffset: 6 * MiB, len: 2 * MiB }]]);
    assert.is(await rm(Array.from({ length: 256 }, (_, k) => ({ moffset: BigInt(k * 4096), len: 4096n }))), 0);
    assert.is(dax.unmaps[1]!.length, 256);
    assert.is(await rm([{ moffset: 0n, len: 0xffffffffffffffffn }]), 0, 'len ~0: the whole window, as QEMU');
    assert.equal(dax.unmaps[2], [{ moffset: 0, len: 16 * MiB }]);
  } finally { await done(); }
});

async function daxFlags(c: PassthroughClient): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  for (const n of ['small', 'edge', 'edge1', 'big', 'dir', 'lnk']) {
    const e = await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName(n) });
    out.set(n, (e.body!.attr.flags & K.FUSE_ATTR_DAX) !== 0);
  }
  const fh = (await c.call(K.FUSE_OPENDIR, 1n, { flags: 0, open_flags: 0 })).body!.fh;
  const r = await c.call(K.FUSE_READDIRPLUS, 1n, { fh, offset: 0n, size: 65536, read_flags: 0, lock_owner: 0n, flags: 0 });
  for (const e of r.body!.entries) {
    const n = nameToString(e.dirent.name);
    if (n === '.' || n === '..') continue;
    assert.is((e.entry_out.attr.flags & K.FUSE_ATTR_DAX) !== 0, out.get(n), `READDIRPLUS agrees with LOOKUP on ${n}`);
  }
  return out;
}

t('DAX policies none, always, filesize: FUSE_ATTR_DAX in LOOKUP and READDIRPLUS, regular files only', async () => {
  const expect: Record<string, Record<string, boolean>> = {
    none: { small: false, edge: false, edge1: false, big: false, dir: false, lnk: false },
    always: { small: true, edge: true, edge1: true, big: true, dir: false, lnk: false },
    filesize: { small: false, edge: false, edge1: true, big: true, dir: false, lnk: false },
  };
  for (const policy of ['none', 'always', 'filesize'] as const) {
    const { c, done } = await setup({ policy });
    try {
      const got = await daxFlags(c);
      assert.equal(Object.fromEntries(got), expect[policy], policy);
    } finally { await done(); }
  }
});

t('inode policy: the flag reader is asked once per (dev, ino, ctime)', async () => {
  const asked: string[] = [];
  const { c, root, done } = await setup({ policy: 'inode', reader: async (p) => { asked.push(p); return p.endsWith('/big'); } });
  try {
    const look = async (n: string) => ((await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName(n) })).body!.attr.flags & K.FUSE_ATTR_DAX) !== 0;
    assert.is(await look('big'), true);
    assert.is(await look('small'), false);
    assert.is(await look('big'), true);
    assert.is(asked.length, 2);
    await new Promise((r) => setTimeout(r, 20));
    fs.chmodSync(path.join(root, 'big'), 0o600); // changes ctime
    assert.is(await look('big'), true);
    assert.is(asked.length, 3);
    assert.is(await look('dir'), false);
    assert.is(asked.length, 3, 'directories are never asked');
  } finally { await done(); }
});

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed (this test needs root and ${cmd}): ${err.stderr?.toString().trim() || err.message}`);
  }
}

function unmount(dir: string): void {
  try { execFileSync('umount', [dir], { stdio: 'ignore' }); } catch { /* not mounted */ }
}

t('inode policy on ext4: chattr +x (FS_DAX_FL) gives FUSE_ATTR_DAX, -x takes it away', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ptx-ext4-'));
  const img = path.join(base, 'img');
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  let mounted = false;
  try {
    run('truncate', ['-s', '64M', img]);
    run('mkfs.ext4', ['-q', img]);
    run('mount', ['-o', 'loop', img, mnt]);
    mounted = true;
    fs.writeFileSync(path.join(mnt, 'dax'), 'x'.repeat(10));
    fs.writeFileSync(path.join(mnt, 'plain'), Buffer.alloc(MiB));
    run('chattr', ['+x', path.join(mnt, 'dax')]);
    const { c, done } = await setup({ policy: 'inode', root: mnt });
    try {
      const flag = async (n: string) => ((await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName(n) })).body!.attr.flags & K.FUSE_ATTR_DAX) !== 0;
      assert.is(await flag('dax'), true);
      assert.is(await flag('plain'), false);
      const fh = (await c.call(K.FUSE_OPENDIR, 1n, { flags: 0, open_flags: 0 })).body!.fh;
      const r = await c.call(K.FUSE_READDIRPLUS, 1n, { fh, offset: 0n, size: 65536, read_flags: 0, lock_owner: 0n, flags: 0 });
      const byName = new Map(r.body!.entries.map((e) => [nameToString(e.dirent.name), (e.entry_out.attr.flags & K.FUSE_ATTR_DAX) !== 0]));
      assert.is(byName.get('dax'), true);
      assert.is(byName.get('plain'), false);
      await new Promise((res) => setTimeout(res, 20));
      run('chattr', ['-x', path.join(mnt, 'dax')]);
      assert.is(await flag('dax'), false, 'ctime changed: the flag is read again');
    } finally { await done(); }
  } finally {
    if (mounted) unmount(mnt);
    fs.rmSync(base, { recursive: true, force: true });
  }
});

t('a write mapping on a full filesystem fails with ENOSPC at SETUPMAPPING time', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ptx-tmpfs-'));
  let mounted = false;
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', base]);
    mounted = true;
    fs.writeFileSync(path.join(base, 'f'), 'data');
    const dax = new FakeMapper(16 * MiB);
    const { c, done } = await setup({ dax, root: base });
    try {
      const f = await openFile(c, 'f', fs.constants.O_RDWR);
      assert.is((await c.call(K.FUSE_SETUPMAPPING, f.nodeid, setupIn(f.fh, 0, 4 * MiB, 0, W | R))).errno, Errno.ENOSPC);
      assert.is(dax.maps.length, 0, 'nothing mapped');
      assert.is((await c.call(K.FUSE_SETUPMAPPING, f.nodeid, setupIn(f.fh, 0, 4 * MiB, 0, R))).errno, 0, 'a read mapping reserves nothing');
    } finally { await done(); }
  } finally {
    if (mounted) unmount(base);
    fs.rmSync(base, { recursive: true, force: true });
  }
});

t.run();
