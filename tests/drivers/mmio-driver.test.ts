// The register protocol end to end: MmioDriver -> InProcessTransport ->
// MmioDeviceRegisters.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MmioTransport, RegisterWidth } from '../../drivers/transport';
import { MmioDeviceRegisters, type MmioDeviceOptions, type MmioQueueConfig } from '../../drivers/virtio-mmio/device-registers';
import { MmioDriver, MmioDriverError, MmioProbeError } from '../../drivers/virtio-mmio/driver';
import { InProcessTransport, TransportClosedError } from '../../drivers/virtio-mmio/in-process-transport';
import * as R from '../../drivers/virtio-mmio/registers';
import { VIRTIO_F_RING_RESET, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, feature } from '../../drivers/virtio/features';
import { VIRTIO_ID_FS } from '../../drivers/virtio/ids';
import * as S from '../../drivers/virtio/status';

const t = suite('mmio-driver');

const V1 = feature(VIRTIO_F_VERSION_1);
const EVENT_IDX = feature(VIRTIO_RING_F_EVENT_IDX);

// virtio-fs config: tag[36] then le32 num_request_queues.
function fsConfig(tag: string, queues: number): Uint8Array {
  const c = new Uint8Array(40);
  c.set(new TextEncoder().encode(tag));
  new DataView(c.buffer).setUint32(36, queues, true);
  return c;
}

function setup(over: Partial<MmioDeviceOptions> = {}) {
  const readies: Array<[number, MmioQueueConfig]> = [];
  const notifies: number[] = [];
  const log: string[] = [];
  const device = new MmioDeviceRegisters({
    deviceId: VIRTIO_ID_FS,
    features: V1 | EVENT_IDX | feature(VIRTIO_F_RING_RESET),
    queueSizes: [128, 1024],
    shm: new Map([[0, { base: 0x2_0000_0000n, len: 0x4000_0000n }]]),
    config: fsConfig('myfs', 1),
    logger: (m) => log.push(m),
    ...over,
  }, {
    onQueueReady: (i, q) => readies.push([i, q]),
    onNotify: (i) => notifies.push(i),
  });
  const transport = new InProcessTransport(device);
  const driver = new MmioDriver(transport);
  return { device, transport, driver, readies, notifies, log };
}

async function rejects(p: Promise<unknown>, type: Function, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, type);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected rejection matching ${pattern}`);
}

/** A transport that answers fixed values for the identity registers. */
function fakeIdentity(magic: number, version: number, deviceId: number): MmioTransport {
  return {
    read: async (offset) => ({ [R.VIRTIO_MMIO_MAGIC_VALUE]: magic, [R.VIRTIO_MMIO_VERSION]: version,
      [R.VIRTIO_MMIO_DEVICE_ID]: deviceId } as Record<number, number>)[offset] ?? 0,
    write: () => {}, onInterrupt: () => {}, onClose: () => {}, close: () => {},
  };
}

t('probe: magic, version 2, device id, vendor', async () => {
  const { driver } = setup();
  assert.equal(await driver.probe(VIRTIO_ID_FS), { version: 2, deviceId: 26, vendorId: R.VIRTIO_MMIO_VENDOR_QEMU });
  await rejects(driver.probe(1), MmioProbeError, /DeviceID 26, expected 1/);
});

t('probe: a clear error for bad magic, legacy or unknown version, no device', async () => {
  await rejects(new MmioDriver(fakeIdentity(0x12345678, 2, 26)).probe(), MmioProbeError, /bad MagicValue 0x12345678/);
  await rejects(new MmioDriver(fakeIdentity(R.VIRTIO_MMIO_MAGIC, 1, 26)).probe(), MmioProbeError, /legacy/);
  await rejects(new MmioDriver(fakeIdentity(R.VIRTIO_MMIO_MAGIC, 3, 26)).probe(), MmioProbeError, /Version 3/);
  await rejects(new MmioDriver(fakeIdentity(R.VIRTIO_MMIO_MAGIC, 2, 0)).probe(), MmioProbeError, /DeviceID 0/);
});

t('feature words: 64-bit device features read through both selector values', async () => {
  const { driver } = setup({ features: V1 | 0x8000_0001n | (1n << 63n) });
  assert.is(await driver.readDeviceFeatures(), V1 | 0x8000_0001n | (1n << 63n));
});

t('negotiate: accepts the offered subset plus VERSION_1 and sets FEATURES_OK', async () => {
  const { driver, device } = setup();
  await driver.reset();
  await driver.addStatus(S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER);
  const accepted = await driver.negotiate(EVENT_IDX | feature(3));
  assert.is(accepted, V1 | EVENT_IDX);
  assert.is(device.driverFeatures, V1 | EVENT_IDX);
  assert.is(await driver.getStatus(), S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER | S.VIRTIO_STATUS_FEATURES_OK);
});

t('negotiate: fails clearly when the device refuses, or offers no VERSION_1', async () => {
  const veto = new MmioDeviceRegisters({ deviceId: 26, features: V1 | EVENT_IDX, queueSizes: [8] },
    { validateFeatures: (f) => (f & EVENT_IDX) === 0n });
  const driver = new MmioDriver(new InProcessTransport(veto));
  await driver.addStatus(S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER);
  await rejects(driver.negotiate(EVENT_IDX), MmioDriverError, /refused features 0x120000000.*ACKNOWLEDGE\|DRIVER\)/);
  assert.is(await driver.negotiate(0n), V1, 'a smaller set still goes through');

  const old = new MmioDriver(new InProcessTransport(
    new MmioDeviceRegisters({ deviceId: 26, features: EVENT_IDX, queueSizes: [8] })));
  await rejects(old.negotiate(EVENT_IDX), MmioDriverError, /VIRTIO_F_VERSION_1/);
});

t('queue setup: size and ring addresses reach the device; QueueNumMax 0 beyond the last queue', async () => {
  const { driver, readies } = setup();
  assert.is(await driver.queueNumMax(0), 128);
  assert.is(await driver.queueNumMax(1), 1024);
  assert.is(await driver.queueNumMax(2), 0);
  await driver.setupQueue(1, { num: 256, desc: 0x1000, driver: 0x5000, device: 0x3_0000_6000 });
  assert.equal(readies, [[1, { num: 256, desc: 0x1000, driver: 0x5000, device: 0x3_0000_6000 }]]);
  await rejects(driver.setupQueue(1, { num: 256, desc: 0, driver: 0, device: 0 }), MmioDriverError, /already in use/);
  await rejects(driver.setupQueue(2, { num: 8, desc: 0, driver: 0, device: 0 }), MmioDriverError, /not available/);
  await rejects(driver.setupQueue(0, { num: 256, desc: 0, driver: 0, device: 0 }), MmioDriverError, /above QueueNumMax 128/);
  await rejects(driver.setupQueue(0, { num: 96, desc: 0, driver: 0, device: 0 }), MmioDriverError, /power of two/);
  await rejects(driver.setupQueue(0, { num: 8, desc: -1, driver: 0, device: 0 }), MmioDriverError, /bad desc/);
  await rejects(driver.setupQueue(-1, { num: 8, desc: 0, driver: 0, device: 0 }), MmioDriverError, /bad queue index/);
  assert.is(readies.length, 1);
});

t('concurrent queue setups do not interleave their QueueSel sequences', async () => {
  const { driver, readies } = setup();
  await Promise.all([
    driver.setupQueue(0, { num: 64, desc: 0x1000, driver: 0x2000, device: 0x3000 }),
    driver.setupQueue(1, { num: 512, desc: 0x8000, driver: 0x9000, device: 0xa000 }),
  ]);
  assert.equal(readies, [
    [0, { num: 64, desc: 0x1000, driver: 0x2000, device: 0x3000 }],
    [1, { num: 512, desc: 0x8000, driver: 0x9000, device: 0xa000 }],
  ]);
});

t('notify reaches the device for a ready queue', async () => {
  const { driver, notifies } = setup();
  await driver.setupQueue(0, { num: 64, desc: 0x1000, driver: 0x2000, device: 0x3000 });
  driver.notify(0);
  driver.notify(1);
  assert.equal(notifies, [0]);
});

t('reset: Status reads back 0 and queues and features are cleared', async () => {
  const { driver, device } = setup();
  await driver.addStatus(S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER);
  await driver.negotiate(0n);
  await driver.setupQueue(0, { num: 64, desc: 0x1000, driver: 0x2000, device: 0x3000 });
  await driver.reset();
  assert.is(await driver.getStatus(), 0);
  assert.is(device.queue(0), undefined);
  assert.is(device.driverFeatures, 0n);
  await driver.setupQueue(0, { num: 64, desc: 0x1000, driver: 0x2000, device: 0x3000 });
});

t('reset gives up, boundedly, on a device whose Status never reads 0', async () => {
  let reads = 0;
  const stuck: MmioTransport = {
    read: async () => { reads++; return S.VIRTIO_STATUS_ACKNOWLEDGE; },
    write: () => {}, onInterrupt: () => {}, onClose: () => {}, close: () => {},
  };
  await rejects(new MmioDriver(stuck, { resetPollLimit: 5 }).reset(), MmioDriverError, /did not reset after 5/);
  assert.is(reads, 5);
});

t('shared memory: region 0 found, others absent (length ~0)', async () => {
  const { driver } = setup({ shm: new Map([[0, { base: 0x2_0000_0000n, len: 0x4000_0000n }], [3, { base: 8, len: 0 }]]) });
  assert.equal(await driver.sharedMemoryRegion(0), { base: 0x2_0000_0000, len: 0x4000_0000 });
  assert.equal(await driver.sharedMemoryRegion(3), { base: 8, len: 0 });
  assert.is(await driver.sharedMemoryRegion(1), undefined);
  assert.is(await new MmioDriver(new InProcessTransport(new MmioDeviceRegisters(
    { deviceId: 26, features: V1, queueSizes: [8] }))).sharedMemoryRegion(0), undefined);
  await rejects(driver.sharedMemoryRegion(256), MmioDriverError, /bad shared-memory id/);
});

t('shared memory: a region ending beyond 2^53 is rejected', async () => {
  const { driver } = setup({ shm: new Map([[0, { base: 1n << 60n, len: 4096n }]]) });
  await rejects(driver.sharedMemoryRegion(0), MmioDriverError, /beyond 2\^53/);
});

t('config reads of each width, bytes and a 64-bit field', async () => {
  const cfg = new Uint8Array(16);
  const dv = new DataView(cfg.buffer);
  dv.setUint8(0, 0xab);
  dv.setUint16(2, 0xbeef, true);
  dv.setUint32(4, 0xfeedf00d, true);
  dv.setBigUint64(8, 0x0123_4567_89ab_cdefn, true);
  const { driver } = setup({ config: cfg });
  assert.is(await driver.readConfig8(0), 0xab);
  assert.is(await driver.readConfig16(2), 0xbeef);
  assert.is(await driver.readConfig32(4), 0xfeedf00d);
  assert.is(await driver.readConfig64(8), 0x0123_4567_89ab_cdefn);
  assert.equal(await driver.readConfigBytes(2, 4), Uint8Array.of(0xef, 0xbe, 0x0d, 0xf0));
  assert.is(await driver.readConfig32(14), 0xffffffff, 'beyond the config reads all ones');
  await rejects(driver.readConfig32(-1), MmioDriverError, /bad config access/);
});

t('virtio-fs config: tag and num_request_queues', async () => {
  const { driver } = setup({ config: fsConfig('shared', 4) });
  const tag = await driver.readConfigBytes(0, 36);
  assert.is(new TextDecoder().decode(tag.subarray(0, tag.indexOf(0))), 'shared');
  assert.is(await driver.readConfig32(36), 4);
});

/** Wraps a transport: the device rewrites its config on the first `n` field reads. */
function racing(device: MmioDeviceRegisters, inner: MmioTransport, n: number) {
  let changes = 0;
  const transport: MmioTransport = {
    read(offset: number, width: RegisterWidth) {
      if (offset >= R.VIRTIO_MMIO_CONFIG && changes < n) {
        const result = inner.read(offset, width);
        changes++;
        const v = new Uint8Array(8);
        new DataView(v.buffer).setBigUint64(0, BigInt(changes) * 0x1_0000_0001n, true);
        device.writeConfig(0, v);
        return result;
      }
      return inner.read(offset, width);
    },
    write: (o, w, v) => inner.write(o, w, v),
    onInterrupt: (h) => inner.onInterrupt(h), onClose: (h) => inner.onClose(h), close: () => inner.close(),
  };
  return { transport, changes: () => changes };
}

t('config generation retry: a field torn by a concurrent change is read again', async () => {
  const { device, transport } = setup({ config: new Uint8Array(8) });
  const r = racing(device, transport, 2);
  const driver = new MmioDriver(r.transport);
  // The first two attempts see a config change between the two halves.
  assert.is(await driver.readConfig64(0), 2n * 0x1_0000_0001n);
  assert.is(r.changes(), 2);
});

t('config generation retry is bounded', async () => {
  const { device, transport } = setup({ config: new Uint8Array(8) });
  const driver = new MmioDriver(racing(device, transport, 1000).transport, { configRetryLimit: 3 });
  await rejects(driver.readConfig32(0), MmioDriverError, /kept changing over 3/);
});

t('config writes reach the device model', async () => {
  const seen: string[] = [];
  const device = new MmioDeviceRegisters({ deviceId: 26, features: V1, queueSizes: [8], config: new Uint8Array(8) },
    { onConfigWrite: (o, w, v) => seen.push(`${o}:${w}:${v}`) });
  const driver = new MmioDriver(new InProcessTransport(device));
  driver.writeConfig8(1, 0x1ff);
  driver.writeConfig16(2, 0x12345);
  driver.writeConfig32(4, -1);
  assert.equal(seen, ['1:1:255', '2:2:9029', '4:4:4294967295']);
});

t('interrupts: raised asynchronously, coalesced, read and acked', async () => {
  const { device, transport, driver } = setup();
  let calls = 0;
  transport.onInterrupt(() => { calls++; });
  device.raise(R.VIRTIO_MMIO_INT_VRING);
  device.raise(R.VIRTIO_MMIO_INT_VRING);
  assert.is(calls, 0, 'never inside the device call');
  await Promise.resolve();
  assert.is(calls, 1);
  assert.is(await driver.takeInterrupt(), 1);
  assert.is(await driver.readInterruptStatus(), 0);
  assert.is(await driver.takeInterrupt(), 0);
  device.raise(R.VIRTIO_MMIO_INT_VRING);
  await Promise.resolve();
  assert.is(calls, 2);
});

t('a config change after DRIVER_OK interrupts the driver with both ISR bits', async () => {
  const { device, transport, driver } = setup();
  let calls = 0;
  transport.onInterrupt(() => { calls++; });
  await driver.addStatus(S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER);
  await driver.negotiate(0n);
  await driver.addStatus(S.VIRTIO_STATUS_DRIVER_OK);
  const g0 = await driver.readConfigGeneration();
  device.writeConfig(36, Uint8Array.of(2, 0, 0, 0));
  await Promise.resolve();
  assert.is(calls, 1);
  assert.is(await driver.takeInterrupt(), R.VIRTIO_MMIO_INT_VRING | R.VIRTIO_MMIO_INT_CONFIG);
  assert.is(await driver.readConfigGeneration(), g0 + 1);
  assert.is(await driver.readConfig32(36), 2);
});

t('close: reads reject, writes are dropped, close handlers hear the reason, interrupts stop', async () => {
  const { device, transport, driver } = setup();
  const reasons: Error[] = [];
  let calls = 0;
  transport.onClose((e) => reasons.push(e));
  transport.onInterrupt(() => { calls++; });
  device.raise(1);
  transport.close();
  transport.close();
  await Promise.resolve();
  assert.is(calls, 0, 'a pending interrupt is not delivered after close');
  assert.is(reasons.length, 1);
  assert.instance(reasons[0], TransportClosedError);
  await rejects(driver.getStatus(), TransportClosedError, /closed/);
  driver.setStatus(S.VIRTIO_STATUS_ACKNOWLEDGE);
  assert.is(device.status, 0);
});

t('bad accesses through the transport are ignored without throwing', async () => {
  const { transport, log } = setup();
  assert.is(await transport.read(0x0f0, 4), 0);
  assert.is(await transport.read(R.VIRTIO_MMIO_STATUS + 1, 4), 0);
  assert.is(await transport.read(R.VIRTIO_MMIO_STATUS, 2), 0);
  transport.write(R.VIRTIO_MMIO_MAGIC_VALUE, 4, 0);
  transport.write(R.VIRTIO_MMIO_STATUS, 1, 1);
  assert.is(await transport.read(R.VIRTIO_MMIO_MAGIC_VALUE, 4), R.VIRTIO_MMIO_MAGIC);
  assert.is(await transport.read(R.VIRTIO_MMIO_STATUS, 4), 0);
  assert.is(log.length, 5);
});

t.run();
