// --socket-path: a virtiofsd someone else started serves one session, so the
// device model must not probe it; the guest's own session is the one, and
// its queue count is taken from there. The daemon is this test's child.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { O_RDONLY } from '../../core/vfs';
import { mountShare } from '../../tools/guest/mount';
import { spawnVmm } from '../../tools/guest/spawn-vmm';

const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const t = suite('end to end: --socket-path to a daemon started by someone else');

t('the guest gets the daemon\'s one session (no probe used it up)', async () => {
  assert.ok(fs.existsSync(VIRTIOFSD), `${VIRTIOFSD} is missing: apt-get install -y qemu-system-common`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhost-attach-'));
  const share = path.join(dir, 'share');
  fs.mkdirSync(share);
  fs.writeFileSync(path.join(share, 'hello'), 'attached\n');
  const sock = path.join(dir, 'vfsd.sock');
  const daemon = spawn(VIRTIOFSD, [`--socket-path=${sock}`, '-o', `source=${share}`, '-o', 'cache=none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  daemon.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((r) => daemon.once('exit', (c) => r(c)));
  // Right away: the vmm connects only when a guest comes, retrying a socket that is not listening yet.
  const vmm = await spawnVmm(['--backend', 'vhost-user', '--socket-path', sock, '--cache-size', '0', '--memory', '32M']);
  try {
    const guest = await mountShare({ connect: vmm.address, token: vmm.token });
    try {
      const fd = await guest.vfs.open('/hello', O_RDONLY);
      assert.is(Buffer.from(await guest.vfs.read(fd, 100)).toString(), 'attached\n', stderr);
      await guest.vfs.close(fd);
    } finally { await guest.close(); }
    // Its one session over, the daemon exits by itself.
    assert.is(await exited, 0, stderr);
  } finally {
    await vmm.stop();
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
