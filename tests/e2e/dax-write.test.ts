// DAX writes across two processes (docs/PROTOCOL.md, "The DAX window across
// two processes"), with a spawned virtiofs-vmm and its passthrough: a write
// through the window is in the host file at once (a host reader sees it
// before any fsync or close); a read mapping is upgraded in place (the
// device re-maps the range for writing and the guest re-opens it read-
// write); and, on a 1 MiB tmpfs (read and write DAX mappings, Liu Bo, 2019,
// its two reproducers): reading a 100 GiB sparse file uses no host space,
// and writing more than fits fails early with ENOSPC, nothing half-written.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Errno, ErrnoError } from '../../core/errno';
import { O_RDONLY, O_RDWR } from '../../core/vfs';
import { mountShare, type GuestMount } from '../../tools/guest/mount';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

interface Rig { vmm: VmmChild; guest: GuestMount; dir: string }

async function rig(dir: string, cacheSize: string, chunkSize: string, options: Record<string, string> = {}): Promise<Rig> {
  const vmm = await spawnVmm(['--shared-dir', dir, '--cache-size', cacheSize, '--memory', '32M']);
  try {
    const guest = await mountShare({ connect: vmm.address, token: vmm.token, dax: 'always', chunkSize, options });
    return { vmm, guest, dir };
  } catch (e) {
    await vmm.stop();
    throw e;
  }
}

async function done(r: Rig | undefined): Promise<void> {
  if (!r) return;
  await r.guest.close().catch(() => undefined);
  await r.vmm.stop();
}

/** Blocks of the filesystem holding dir in use (statfs), in bytes. */
function used(dir: string): number {
  const s = fs.statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

/** The access modes ('r' or 'rw') of this process's (the guest's) descriptors of host file f. */
function guestOpens(f: string): string[] {
  const modes: string[] = [];
  for (const n of fs.readdirSync('/proc/self/fd')) {
    let target = '';
    try { target = fs.readlinkSync(`/proc/self/fd/${n}`); } catch { continue; }
    if (target !== f) continue;
    const flags = parseInt(/^flags:\s+([0-7]+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${n}`, 'utf8'))![1]!, 8);
    modes.push((flags & 3) === 2 ? 'rw' : (flags & 3) === 0 ? 'r' : 'w');
  }
  return modes.sort();
}

const t = suite('DAX writes across two processes');

for (const placement of ['lifo', 'lru']) {
  t(`(${placement}) a write through the window is in the host file at once; a read mapping is upgraded in place`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dax-write-'));
    let r: Rig | undefined;
    try {
      const host = path.join(dir, 'f');
      fs.writeFileSync(host, Buffer.alloc(4 * MiB, 0x61));
      r = await rig(dir, '16M', '1M', { 'dax-placement': placement });
      const { vfs } = r.guest;
      const m = (await r.guest.dax())!;
      const fd = await vfs.open('/f', O_RDWR);
      assert.is((await vfs.pread(fd, 4, MiB + 10))[0], 0x61); // maps chunk 1 read-only
      assert.is(m.stats.setupMappingSent, 1);
      assert.equal(guestOpens(fs.realpathSync(host)), ['r'], 'a read mapping: the guest opens the file read-only');
      assert.is(await vfs.pwrite(fd, Buffer.from('hello'), MiB + 10), 5);
      assert.equal(guestOpens(fs.realpathSync(host)), ['rw'], 'upgraded: re-opened read-write, the read-only one closed');
      assert.is(m.stats.upgrades, 1, 'the read mapping upgraded');
      assert.is(m.stats.setupMappingSent, 2, 'one SETUPMAPPING for it');
      assert.is(m.stats.chunksMapped, 1, 'no second chunk');
      // The host reader sees it now: no fsync, no close.
      const fdh = fs.openSync(host, 'r');
      const b = Buffer.alloc(5);
      fs.readSync(fdh, b, 0, 5, MiB + 10);
      assert.is(b.toString(), 'hello');
      // A fresh range is mapped for writing at once; the host sees that too.
      await vfs.pwrite(fd, Buffer.from('world'), 3 * MiB);
      assert.is(m.stats.writeMappings, 1);
      fs.readSync(fdh, b, 0, 5, 3 * MiB);
      assert.is(b.toString(), 'world');
      fs.closeSync(fdh);
      // And the guest reads its writes back through the window.
      assert.is(Buffer.from(await vfs.pread(fd, 5, MiB + 10)).toString(), 'hello');
      assert.is(m.snapshot().mappings.filter((x) => x.writable).length, 2);
      await vfs.fsync(fd);
      await vfs.close(fd);
      assert.is(fs.statSync(host).size, 4 * MiB, 'writes inside the file do not move its size');
      assert.is(m.stats.fallbacks.copy, 0);
    } finally {
      await done(r);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

t('a 1 MiB tmpfs: reading 100 GiB of sparse file uses no space; writing more than fits fails early, nothing half-written', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dax-enospc-'));
  let mountedFs = false;
  let r: Rig | undefined;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    mountedFs = true;
    fs.chmodSync(dir, 0o755);
    const sparse = path.join(dir, 'sparse');
    fs.writeFileSync(sparse, '');
    fs.truncateSync(sparse, 100 * GiB);
    fs.writeFileSync(path.join(dir, 'small'), '');
    fs.truncateSync(path.join(dir, 'small'), 4 * MiB);
    const before = used(dir);
    // The sampled reads evict with a low yield: the adaptive rule would send
    // the writes below to FUSE_WRITE (which fails as early); off, they map.
    r = await rig(dir, '8M', '256k', { 'dax-adaptive': 'off' });
    const { vfs } = r.guest;
    const m = (await r.guest.dax())!;
    // Reproducer 1 (od -x of the whole file), sampled: chunks all over the 100 GiB, read-only mappings.
    const fd = await vfs.open('/sparse', O_RDONLY);
    for (let i = 0; i < 64; i++) {
      const off = Math.floor((i / 64) * 100 * GiB / 4096) * 4096;
      const got = await vfs.pread(fd, 4096, off);
      assert.is(got.length, 4096);
      assert.ok(got.every((x) => x === 0), `zeros at ${off}`);
    }
    await vfs.close(fd);
    assert.ok(m.stats.setupMappingSent >= 64 && m.stats.writeMappings === 0, 'read mappings only');
    // Nothing reserved: a read mapping never fallocates (64 chunks of 256 KiB
    // would not fit in the 1 MiB). When the window is really mmapped (the
    // addon built), tmpfs backs the pages the reads touched with its own
    // space (shmem has no zero page for shared mappings): at most those.
    assert.ok(used(dir) - before <= 64 * 4096, `no host space used by reading beyond the pages read: ${used(dir) - before}`);
    // Reproducer 2 (pwrite 0 100G), on a 4 MiB sparse file: ENOSPC early, at SETUPMAPPING.
    const w = await vfs.open('/small', O_RDWR);
    const chunk = Buffer.alloc(64 * KiB, 0x5a);
    let written = 0;
    let error: unknown;
    for (let off = 0; off < 4 * MiB; off += chunk.length) {
      try {
        const n = await vfs.pwrite(w, chunk, off);
        written += n;
        if (n < chunk.length) break;
      } catch (e) { error = e; break; }
    }
    assert.instance(error, ErrnoError, 'the writer got an error');
    assert.is((error as ErrnoError).errno, Errno.ENOSPC);
    assert.ok(written > 0 && written <= 1 * MiB, `what fitted went: ${written} bytes`);
    assert.ok(m.stats.enospc >= 1, 'refused at SETUPMAPPING');
    assert.is(m.stats.writeMappings, written / (256 * KiB), 'one write mapping per chunk that fitted');
    await vfs.close(w);
    // Nothing past what was reported: every written byte is 0x5a, everything after it 0.
    const host = fs.readFileSync(path.join(dir, 'small'));
    assert.is(host.length, 4 * MiB);
    assert.ok(host.subarray(0, written).every((x) => x === 0x5a), 'what was reported is there');
    assert.ok(host.subarray(written).every((x) => x === 0), 'nothing half-written after it');
  } finally {
    await done(r);
    if (mountedFs) execFileSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
