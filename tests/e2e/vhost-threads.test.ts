import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { O_RDONLY } from '../../core/vfs';
import { mountShare, type GuestMount } from '../../tools/guest/mount';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';
import { samplePattern as pattern } from '../../tools/guest/sample-tree';

// The real virtiofsd with a thread pool completes requests out of order and
// from several threads at once. Its workers once got the daemon killed by its
// own seccomp filter (glibc counting CPUs for a new malloc arena), and every
// request after that failed with EIO.
const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const STATS = 64;
const SIZES = [1, 4097, 128 * 1024 + 3, 1024 * 1024, 3 * 1024 * 1024 + 17, 300_000];
const t = suite('end to end: real virtiofsd with --thread-pool-size');

let dir = '';
let vmm: VmmChild | undefined;
let guest: GuestMount | undefined;

t.before(async () => {
  assert.ok(fs.existsSync(VIRTIOFSD), `${VIRTIOFSD} is missing: apt-get install -y qemu-system-common`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-vhost-threads-'));
  for (let i = 0; i < STATS; i++) fs.writeFileSync(path.join(dir, `f${i}`), 'x'.repeat(i));
  SIZES.forEach((size, i) => fs.writeFileSync(path.join(dir, `d${i}`), pattern(size, 40 + i)));
  vmm = await spawnVmm(['--backend', 'vhost-user', '--shared-dir', dir, '--cache-size', '8M', '--memory', '64M',
    '--virtiofsd-arg=--thread-pool-size=4']);
  guest = await mountShare({ connect: vmm.address, token: vmm.token, dax: 'never' });
});

t.after(async () => {
  await guest?.close();
  assert.is(await vmm?.stop(), 0, 'vmm exits cleanly');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function readAll(name: string, chunk: number): Promise<Buffer> {
  const fd = await guest!.vfs.open(name, O_RDONLY);
  try {
    const parts: Uint8Array[] = [];
    for (;;) { const b = await guest!.vfs.read(fd, chunk); if (!b.length) break; parts.push(b); }
    return Buffer.concat(parts);
  } finally {
    await guest!.vfs.close(fd);
  }
}

t('64 concurrent stats and concurrent reads, several rounds: right answers, session intact', async () => {
  let reordered = false;
  for (let round = 0; round < 5; round++) {
    const order: number[] = [];
    const stats = Promise.all(Array.from({ length: STATS }, async (_, i) => {
      const st = await guest!.vfs.stat(`/f${i}`);
      order.push(i);
      assert.is(Number(st.size), i, `f${i} size (round ${round})`);
    }));
    const reads = Promise.all(SIZES.flatMap((size, i) => [4096, 65536, 128 * 1024 + 3].map(async (chunk) => {
      const got = await readAll(`/d${i}`, chunk);
      assert.ok(got.equals(pattern(size, 40 + i)), `d${i} (${size} bytes) read in ${chunk}-byte calls (round ${round})`);
    })));
    try {
      await Promise.all([stats, reads]);
    } catch (e) {
      throw new Error(`round ${round}: ${e instanceof Error ? e.message : String(e)}\nvmm stderr:\n${vmm!.stderr()}`);
    }
    reordered ||= order.some((v, k) => v !== k);
  }
  assert.ok(reordered, 'the daemon completed some requests out of order (else this test proves nothing)');
  assert.not.match(vmm!.stderr(), /virtiofsd lost|needs reset/, 'the daemon stayed up');
});

t.run();
