import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { O_RDONLY } from '../../core/vfs';
import { mountShare, type GuestMount } from '../../tools/guest/mount';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';
import { samplePattern as pattern } from '../../tools/guest/sample-tree';

// The device model in front of the real virtiofsd (Debian's qemu-system-common).
const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const t = suite('end to end: vhost-user backend, real virtiofsd');

let dir = '';
let vmm: VmmChild | undefined;
let guest: GuestMount | undefined;

/** Live virtiofsd processes serving this test's own share (zombies awaiting
 *  their reaper don't count; other tests' daemons on the machine are not ours). */
function daemons(): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.startsWith(VIRTIOFSD) || !cmd.split('\0').includes(`source=${dir}`)) continue;
      const state = /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (state !== 'Z') found.push(`${pid}:${state}`);
    } catch { /* gone */ }
  }
  return found;
}

t.before(async () => {
  assert.ok(fs.existsSync(VIRTIOFSD), `${VIRTIOFSD} is missing: apt-get install -y qemu-system-common`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-vhost-'));
  fs.writeFileSync(path.join(dir, 'big'), pattern(3 * 1024 * 1024 + 17, 5));
  fs.writeFileSync(path.join(dir, 'small'), 'small\n');
  vmm = await spawnVmm(['--backend', 'vhost-user', '--shared-dir', dir, '--cache-size', '8M', '--memory', '64M']);
  guest = await mountShare({ connect: vmm.address, token: vmm.token, dax: 'always' });
});

t.after(async () => {
  await guest?.close();
  assert.is(await vmm?.stop(), 0, 'vmm exits cleanly');
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(daemons(), [], 'no virtiofsd left running');
});

t('reads through the real daemon equal the host bytes; SETUPMAPPING tried once (ENOSYS)', async () => {
  for (const name of ['big', 'small', 'big']) {
    const fd = await guest!.vfs.open(`/${name}`, O_RDONLY);
    const parts: Uint8Array[] = [];
    for (;;) { const b = await guest!.vfs.read(fd, 65536); if (!b.length) break; parts.push(b); }
    await guest!.vfs.close(fd);
    assert.ok(fs.readFileSync(path.join(dir, name)).equals(Buffer.concat(parts)), name);
  }
  const dax = await guest!.dax();
  assert.ok(dax, 'the device model still offers its window');
  assert.is(dax!.stats.setupMappingSent, 1, 'one SETUPMAPPING, then FUSE_READ only');
  assert.ok(dax!.stats.fallbacks.enosys >= 1, 'reads fell back for ENOSYS');
  assert.ok(dax!.stats.bytesFuseRead > 0);
  assert.ok(daemons().length >= 1, 'a virtiofsd serves this session');
});

t.run();
