// The README's embedding example, as written there: device model and guest
// in one process on one buffer, the transport a function call.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Allocator } from '../../core/allocator';
import { Vfs, O_RDONLY } from '../../core/vfs';
import { InProcessTransport } from '../../drivers/virtio-mmio/in-process-transport';
import { VirtioFsDriver } from '../../drivers/virtio-fs/driver';
import { VirtiofsFileSystemType, connectionOf, fuseDeviceOf } from '../../fs/virtiofs';
import { DeviceInstance } from '../../tools/vmm/instance';

const t = suite('embedding in one process (the README example)');

t('mount, open, read through the DAX window', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'embed-'));
  fs.writeFileSync(path.join(dir, 'hello.txt'), 'hello, virtio-fs\n');
  const host = DeviceInstance.create({ sharedDir: dir, tag: 'myfs', cacheSize: 64 << 20,
    queueSize: 256, numRequestQueues: 1, memory: 64 << 20, daxPolicy: 'always', readonly: true },
  { ram: 'buffer' });
  try {
    const driver = await VirtioFsDriver.probe(new InProcessTransport(host.device.registers),
      host.memory, new Allocator(0, 64 << 20));
    const fsType = new VirtiofsFileSystemType();
    const dev = fuseDeviceOf(driver, host.memory);
    fsType.addDevice(dev);

    const vfs = new Vfs({ firstFd: 3 });
    assert.is(driver.getMapAlignment(), undefined, 'no FUSE_INIT yet');
    await vfs.mount(fsType, 'myfs', '/', { dax: 'always', 'chunk-size': '2m' });
    // As OSv's get_map_alignment(): what FUSE_INIT negotiated, owned by the connection.
    assert.is(driver.getMapAlignment(), (await connectionOf(dev))!.info.mapAlignment);
    assert.is(driver.getMapAlignment(), 12);
    const fd = await vfs.open('/hello.txt', O_RDONLY);
    const bytes = await vfs.read(fd, 4096);
    assert.is(Buffer.from(bytes).toString(), 'hello, virtio-fs\n');
    const dax = (await connectionOf(dev))!.dax!;
    assert.is(dax.stats.setupMappingSent, 1, 'read through the window');
    assert.is(dax.stats.bytesDax, 17);
    await vfs.close(fd);
    await vfs.umount('/');
    assert.is(driver.getMapAlignment(), undefined, 'DESTROY sent with the last unmount');
    await driver.close();
  } finally {
    await host.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
