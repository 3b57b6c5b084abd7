import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Vfs, O_RDONLY } from '../../core/vfs';
import { connectVirtioFs, type RemoteVirtioFs } from '../../drivers/virtio-fs/connect.node';
import { VirtiofsFileSystemType, connectionOf, fuseDeviceOf } from '../../fs/virtiofs';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';
import { samplePattern as pattern } from '../../tools/guest/sample-tree';

const t = suite('end to end over TCP');
const MiB = 1024 * 1024;
const SIZES: Record<string, number> = {
  empty: 0, one: 1, p4095: 4095, p4096: 4096, p4097: 4097,
  m2minus: 2 * MiB - 1, m2: 2 * MiB, m2plus: 2 * MiB + 1, m9: 9 * MiB,
};

let dir = '';
let vmm: VmmChild | undefined;
let remote: RemoteVirtioFs | undefined;

t.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-share-'));
  let seed = 1;
  for (const [name, size] of Object.entries(SIZES)) fs.writeFileSync(path.join(dir, name), pattern(size, seed++));
  fs.mkdirSync(path.join(dir, 'a/b/c/d'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a/b/c/d/deep.txt'), 'deep\n');
  fs.symlinkSync('a/b/c/d/deep.txt', path.join(dir, 'link'));
  fs.mkdirSync(path.join(dir, 'many'));
  for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(dir, 'many', `f${i}`), `${i}\n`);
  // A window of 4 chunks (8 MiB): the 9 MiB file alone evicts.
  vmm = await spawnVmm(['--shared-dir', dir, '--cache-size', '8M', '--memory', '64M']);
  remote = await connectVirtioFs(vmm.address, { token: vmm.token });
});

t.after(async () => {
  await remote?.close();
  const code = await vmm?.stop();
  assert.is(code, 0, 'vmm exits cleanly on SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function readAll(vfs: Vfs, p: string, chunk: number): Promise<Buffer> {
  const fd = await vfs.open(p, O_RDONLY);
  const parts: Uint8Array[] = [];
  for (;;) {
    const b = await vfs.read(fd, chunk);
    if (b.length === 0) break;
    parts.push(b);
  }
  await vfs.close(fd);
  return Buffer.concat(parts);
}

t('the device is what QEMU presents: tag, one request queue, a window', () => {
  assert.is(remote!.driver.tag, 'myfs');
  assert.ok(remote!.driver.getDax(), 'shared-memory region 0');
  assert.is(remote!.driver.getDax()!.len, 8 * MiB);
});

t('every file read through DAX and through FUSE_READ equals the host bytes', async () => {
  const type = new VirtiofsFileSystemType();
  const dev = fuseDeviceOf(remote!.driver, remote!.memory);
  type.addDevice(dev);
  for (const dax of ['always', 'never']) {
    const vfs = new Vfs();
    await vfs.mount(type, 'myfs', '/', { dax });
    for (const name of Object.keys(SIZES)) {
      const host = fs.readFileSync(path.join(dir, name));
      for (const chunk of [4096, 128 * 1024 + 3]) {
        const got = await readAll(vfs, `/${name}`, chunk);
        assert.ok(host.equals(got), `${name} (dax=${dax}, reads of ${chunk})`);
      }
    }
    assert.is(Buffer.from(await readAll(vfs, '/link', 4096)).toString(), 'deep\n');
    assert.is(await vfs.readlink('/link'), 'a/b/c/d/deep.txt');
    const names = (await vfs.readdirAll('/many')).map((e) => e.name).filter((n) => n !== '.' && n !== '..');
    assert.is(names.length, 1000);
    if (dax === 'always') {
      const s = (await connectionOf(dev))!.dax!.stats;
      assert.ok(s.setupMappingSent > 0, 'SETUPMAPPING sent');
      assert.ok(s.chunksEvicted > 0, 'a window of 4 chunks evicts');
      assert.ok(s.hits > 0, 'hits');
      assert.ok(s.bytesDax > 0, 'bytes read through DAX');
    }
    await vfs.umount('/');
  }
});

t.run();
