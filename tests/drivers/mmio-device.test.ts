// The device-side register file on its own: QEMU's virtio-mmio semantics for
// every guest access, good and bad.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  MmioDeviceRegisters, type MmioDeviceCallbacks, type MmioDeviceOptions, type MmioQueueConfig,
} from '../../drivers/virtio-mmio/device-registers';
import * as R from '../../drivers/virtio-mmio/registers';
import {
  VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_RING_RESET, VIRTIO_F_VERSION_1, feature,
} from '../../drivers/virtio/features';
import { VIRTIO_ID_FS } from '../../drivers/virtio/ids';
import * as S from '../../drivers/virtio/status';

const t = suite('mmio-device');

const V1 = feature(VIRTIO_F_VERSION_1);

interface Harness {
  dev: MmioDeviceRegisters;
  log: string[];
  events: string[];
  readies: Array<[number, MmioQueueConfig]>;
  interrupts: number;
}

function make(over: Partial<MmioDeviceOptions> = {}, cb: MmioDeviceCallbacks = {}): Harness {
  const h: Harness = { log: [], events: [], readies: [], interrupts: 0 } as unknown as Harness;
  h.dev = new MmioDeviceRegisters({
    deviceId: VIRTIO_ID_FS,
    features: V1 | feature(VIRTIO_F_RING_RESET) | 1n,
    queueSizes: [128, 256],
    config: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
    logger: (m) => h.log.push(m),
    ...over,
  }, {
    onNotify: (i) => h.events.push(`notify ${i}`),
    onStatusChange: (s, p) => h.events.push(`status ${p}->${s}`),
    onReset: () => h.events.push('reset'),
    onQueueReady: (i, q) => { h.events.push(`ready ${i}`); h.readies.push([i, q]); },
    onQueueDisabled: (i) => h.events.push(`disabled ${i}`),
    onQueueReset: (i) => h.events.push(`queue-reset ${i}`),
    ...cb,
  });
  h.dev.setInterruptHandler(() => { h.interrupts++; });
  return h;
}

/** Drive the device to FEATURES_OK with `features` accepted. */
function negotiate(dev: MmioDeviceRegisters, features: bigint): number {
  dev.write(R.VIRTIO_MMIO_STATUS, 4, S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER);
  dev.write(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 0);
  dev.write(R.VIRTIO_MMIO_DRIVER_FEATURES, 4, Number(features & 0xffffffffn));
  dev.write(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 1);
  dev.write(R.VIRTIO_MMIO_DRIVER_FEATURES, 4, Number(features >> 32n));
  dev.write(R.VIRTIO_MMIO_STATUS, 4, S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER | S.VIRTIO_STATUS_FEATURES_OK);
  return dev.read(R.VIRTIO_MMIO_STATUS, 4);
}

function setupQueue(dev: MmioDeviceRegisters, index: number, num: number, base: number): void {
  dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, index);
  dev.write(R.VIRTIO_MMIO_QUEUE_NUM, 4, num);
  dev.write(R.VIRTIO_MMIO_QUEUE_DESC_LOW, 4, base);
  dev.write(R.VIRTIO_MMIO_QUEUE_DESC_HIGH, 4, 0);
  dev.write(R.VIRTIO_MMIO_QUEUE_DRIVER_LOW, 4, base + 0x1000);
  dev.write(R.VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 4, 0);
  dev.write(R.VIRTIO_MMIO_QUEUE_DEVICE_LOW, 4, base + 0x2000);
  dev.write(R.VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 4, 1);
  dev.write(R.VIRTIO_MMIO_QUEUE_READY, 4, 1);
}

t('identity registers: magic, version 2, device id, QEMU vendor', () => {
  const { dev } = make();
  assert.is(dev.read(R.VIRTIO_MMIO_MAGIC_VALUE, 4), 0x74726976);
  assert.is(dev.read(R.VIRTIO_MMIO_VERSION, 4), 2);
  assert.is(dev.read(R.VIRTIO_MMIO_DEVICE_ID, 4), 26);
  assert.is(dev.read(R.VIRTIO_MMIO_VENDOR_ID, 4), 0x554d4551);
  assert.is(make({ vendorId: 0x1234 }).dev.read(R.VIRTIO_MMIO_VENDOR_ID, 4), 0x1234);
});

t('DeviceFeatures: word 0, word 1, and 0 beyond the 64 bits', () => {
  const { dev } = make({ features: 0xdead_beef_1234_5678n });
  dev.write(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 0);
  assert.is(dev.read(R.VIRTIO_MMIO_DEVICE_FEATURES, 4), 0x12345678);
  dev.write(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 1);
  assert.is(dev.read(R.VIRTIO_MMIO_DEVICE_FEATURES, 4), 0xdeadbeef);
  dev.write(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 2);
  assert.is(dev.read(R.VIRTIO_MMIO_DEVICE_FEATURES, 4), 0);
});

t('FEATURES_OK sticks for an offered subset and fixes the negotiated set', () => {
  const h = make();
  const status = negotiate(h.dev, V1 | 1n);
  assert.ok(status & S.VIRTIO_STATUS_FEATURES_OK);
  assert.is(h.dev.driverFeatures, V1 | 1n);
  // Late DriverFeatures writes cannot change it (QEMU: -EINVAL after FEATURES_OK).
  h.dev.write(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 0);
  h.dev.write(R.VIRTIO_MMIO_DRIVER_FEATURES, 4, 0);
  h.dev.write(R.VIRTIO_MMIO_STATUS, 4, status | S.VIRTIO_STATUS_DRIVER_OK);
  assert.is(h.dev.driverFeatures, V1 | 1n);
  assert.is(h.dev.read(R.VIRTIO_MMIO_STATUS, 4), status | S.VIRTIO_STATUS_DRIVER_OK);
  assert.ok(h.log.some((m) => m.includes('after FEATURES_OK')));
});

t('FEATURES_OK does not stick for unoffered bits, missing VERSION_1, dropped ACCESS_PLATFORM, or a device veto', () => {
  const ack = S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER;
  const unoffered = make();
  assert.is(negotiate(unoffered.dev, V1 | feature(5)), ack);
  assert.is(unoffered.dev.driverFeatures, 0n);
  assert.not.ok(unoffered.events.some((e) => e.endsWith(`->${ack | S.VIRTIO_STATUS_FEATURES_OK}`)));

  assert.is(negotiate(make().dev, 1n), ack);

  const platform = make({ features: V1 | feature(VIRTIO_F_ACCESS_PLATFORM) });
  assert.is(negotiate(platform.dev, V1), ack);
  assert.is(negotiate(platform.dev, V1 | feature(VIRTIO_F_ACCESS_PLATFORM)) & S.VIRTIO_STATUS_FEATURES_OK, 8);

  const seen: bigint[] = [];
  const veto = make({}, { validateFeatures: (f) => { seen.push(f); return false; } });
  assert.is(negotiate(veto.dev, V1), ack);
  assert.equal(seen, [V1]);
});

t('queue setup: QueueNumMax per queue, 0 beyond the last queue; rings handed over on QueueReady', () => {
  const h = make();
  h.dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, 0);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 128);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, 1);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 256);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, 2);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 0);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_READY, 4, 1);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4), 0, 'absent queue cannot become ready');

  setupQueue(h.dev, 1, 64, 0x10000);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4), 1);
  assert.equal(h.readies, [[1, { num: 64, desc: 0x10000, driver: 0x11000, device: 0x1_0000_0000 + 0x12000 }]]);
  assert.equal(h.dev.queue(1), h.readies[0]![1]);
  assert.is(h.dev.queue(0), undefined);
});

t('QueueNum: 0, above QueueNumMax, or not a power of two is ignored; default is the max', () => {
  const h = make();
  h.dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, 0);
  for (const bad of [0, 256, 100]) h.dev.write(R.VIRTIO_MMIO_QUEUE_NUM, 4, bad);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_READY, 4, 1);
  assert.is(h.readies[0]![1].num, 128);
  assert.is(h.log.filter((m) => m.includes('QueueNum')).length, 3);
});

t('queue registers written while the queue is ready do not move live rings', () => {
  const h = make();
  setupQueue(h.dev, 0, 32, 0x4000);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_DESC_LOW, 4, 0x9000);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_NUM, 4, 16);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_READY, 4, 1);
  assert.equal(h.dev.queue(0), { num: 32, desc: 0x4000, driver: 0x5000, device: 0x1_0000_6000 });
  assert.is(h.readies.length, 1);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_READY, 4, 0);
  assert.is(h.dev.queue(0), undefined);
  assert.ok(h.events.includes('disabled 0'));
});

t('QueueNotify reaches the device only for ready queues of a healthy device', () => {
  const h = make();
  h.dev.write(R.VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
  setupQueue(h.dev, 0, 32, 0x4000);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_NOTIFY, 4, 7);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0xffffffff);
  assert.equal(h.events.filter((e) => e.startsWith('notify')), ['notify 0']);
});

t('QueueSel beyond VIRTIO_QUEUE_MAX is ignored', () => {
  const { dev } = make();
  dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, 1);
  dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, 5000);
  assert.is(dev.read(R.VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 256);
});

t('QueueReset: only with RING_RESET; resets the queue and reads 1 until QueueReady', () => {
  const plain = make();
  negotiate(plain.dev, V1);
  setupQueue(plain.dev, 0, 32, 0x4000);
  plain.dev.write(R.VIRTIO_MMIO_QUEUE_RESET, 4, 1);
  assert.is(plain.dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4), 1, 'ignored without RING_RESET');
  assert.is(plain.dev.read(R.VIRTIO_MMIO_QUEUE_RESET, 4), 0);

  const h = make();
  negotiate(h.dev, V1 | feature(VIRTIO_F_RING_RESET));
  setupQueue(h.dev, 0, 32, 0x4000);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_RESET, 4, 1);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_RESET, 4), 1);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4), 0);
  assert.ok(h.events.includes('queue-reset 0'));
  assert.ok(h.events.includes('disabled 0'));
  // Defaults again: re-enabling without rewriting QueueNum gives the max size and no rings.
  h.dev.write(R.VIRTIO_MMIO_QUEUE_READY, 4, 1);
  assert.equal(h.dev.queue(0), { num: 128, desc: 0, driver: 0, device: 0 });
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_RESET, 4), 0);
});

t('interrupts: raise sets InterruptStatus and signals; InterruptACK clears the acked bits', () => {
  const h = make();
  h.dev.raise(R.VIRTIO_MMIO_INT_VRING);
  assert.is(h.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4), 1);
  assert.is(h.interrupts, 1);
  h.dev.raise(0x80);
  assert.is(h.interrupts, 1, 'no defined bit, no interrupt');
  h.dev.write(R.VIRTIO_MMIO_INTERRUPT_ACK, 4, 2);
  assert.is(h.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4), 1);
  h.dev.write(R.VIRTIO_MMIO_INTERRUPT_ACK, 4, 1);
  assert.is(h.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4), 0);
});

t('config change: generation always bumps; the interrupt (ISR 3, as QEMU) only after DRIVER_OK', () => {
  const h = make();
  h.dev.writeConfig(0, Uint8Array.of(9));
  assert.is(h.dev.read(R.VIRTIO_MMIO_CONFIG_GENERATION, 4), 1);
  assert.is(h.interrupts, 0);
  const st = negotiate(h.dev, V1);
  h.dev.write(R.VIRTIO_MMIO_STATUS, 4, st | S.VIRTIO_STATUS_DRIVER_OK);
  h.dev.writeConfig(1, Uint8Array.of(9));
  assert.is(h.dev.read(R.VIRTIO_MMIO_CONFIG_GENERATION, 4), 2);
  assert.is(h.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4), 3);
  assert.is(h.interrupts, 1);
  assert.throws(() => h.dev.writeConfig(7, Uint8Array.of(1, 2)), RangeError);
});

t('needsReset: DEVICE_NEEDS_RESET, config interrupt, then silence until reset (QEMU virtio_error)', () => {
  const h = make();
  const st = negotiate(h.dev, V1);
  h.dev.write(R.VIRTIO_MMIO_STATUS, 4, st | S.VIRTIO_STATUS_DRIVER_OK);
  setupQueue(h.dev, 0, 32, 0x4000);
  h.dev.needsReset('bad ring');
  assert.ok(h.dev.read(R.VIRTIO_MMIO_STATUS, 4) & S.VIRTIO_STATUS_DEVICE_NEEDS_RESET);
  assert.is(h.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4), 3);
  assert.is(h.interrupts, 1);
  assert.ok(h.dev.isBroken);
  h.dev.raise(R.VIRTIO_MMIO_INT_VRING);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
  assert.is(h.interrupts, 1);
  assert.not.ok(h.events.includes('notify 0'));
  h.dev.write(R.VIRTIO_MMIO_STATUS, 4, 0);
  assert.not.ok(h.dev.isBroken);
  assert.is(h.dev.read(R.VIRTIO_MMIO_STATUS, 4), 0);
});

t('a ring address beyond 2^53 breaks the device instead of becoming ready', () => {
  const h = make();
  const st = negotiate(h.dev, V1);
  h.dev.write(R.VIRTIO_MMIO_STATUS, 4, st | S.VIRTIO_STATUS_DRIVER_OK);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, 0);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_DESC_HIGH, 4, 0xffffffff);
  h.dev.write(R.VIRTIO_MMIO_QUEUE_READY, 4, 1);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4), 0);
  assert.is(h.readies.length, 0);
  assert.ok(h.dev.read(R.VIRTIO_MMIO_STATUS, 4) & S.VIRTIO_STATUS_DEVICE_NEEDS_RESET);
});

t('reset (Status 0) clears queues, features, interrupt status and selectors, then calls back', () => {
  const h = make();
  const st = negotiate(h.dev, V1);
  h.dev.write(R.VIRTIO_MMIO_STATUS, 4, st | S.VIRTIO_STATUS_DRIVER_OK);
  setupQueue(h.dev, 1, 64, 0x4000);
  h.dev.raise(1);
  h.dev.write(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 1);
  h.dev.write(R.VIRTIO_MMIO_STATUS, 4, 0);
  assert.is(h.dev.read(R.VIRTIO_MMIO_STATUS, 4), 0);
  assert.is(h.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4), 0);
  assert.is(h.dev.driverFeatures, 0n);
  assert.is(h.dev.queue(1), undefined);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 128, 'QueueSel back to 0');
  assert.is(h.dev.read(R.VIRTIO_MMIO_DEVICE_FEATURES, 4), 1, 'DeviceFeaturesSel back to 0');
  assert.is(h.events.at(-1), 'reset');
  assert.is(h.events.at(-2), `status ${st | S.VIRTIO_STATUS_DRIVER_OK}->0`);
});

t('SHM registers: present regions, and ~0 length for absent ones', () => {
  const { dev } = make({ shm: new Map([[0, { base: 0x1_0000_0000n, len: 0x4000_0000 }]]) });
  dev.write(R.VIRTIO_MMIO_SHM_SEL, 4, 0);
  assert.is(dev.read(R.VIRTIO_MMIO_SHM_LEN_LOW, 4), 0x4000_0000);
  assert.is(dev.read(R.VIRTIO_MMIO_SHM_LEN_HIGH, 4), 0);
  assert.is(dev.read(R.VIRTIO_MMIO_SHM_BASE_LOW, 4), 0);
  assert.is(dev.read(R.VIRTIO_MMIO_SHM_BASE_HIGH, 4), 1);
  dev.write(R.VIRTIO_MMIO_SHM_SEL, 4, 1);
  assert.is(dev.read(R.VIRTIO_MMIO_SHM_LEN_LOW, 4), 0xffffffff);
  assert.is(dev.read(R.VIRTIO_MMIO_SHM_LEN_HIGH, 4), 0xffffffff);
});

t('config space: widths 1, 2, 4 little-endian; out of range reads all ones; writes go to the device', () => {
  const writes: string[] = [];
  const h = make({}, { onConfigWrite: (o, w, v) => writes.push(`${o}/${w}/${v.toString(16)}`) });
  const c = R.VIRTIO_MMIO_CONFIG;
  assert.is(h.dev.read(c + 1, 1), 2);
  assert.is(h.dev.read(c + 2, 2), 0x0403);
  assert.is(h.dev.read(c + 4, 4), 0x08070605);
  assert.is(h.dev.read(c + 8, 1), 0xff);
  assert.is(h.dev.read(c + 7, 2), 0xffff);
  assert.is(h.dev.read(c + 6, 4), 0xffffffff);
  assert.is(h.dev.read(c, 3), 0);
  h.dev.write(c + 2, 2, 0x1_beef);
  h.dev.write(c + 7, 4, 1);
  assert.equal(writes, ['2/2/beef']);
  assert.is(h.dev.read(c + 2, 2), 0x0403, 'bytes change only when the device says so');
  // Without a config-write handler, writes are logged and dropped.
  const ro = make();
  ro.dev.write(c, 1, 0x55);
  assert.is(ro.dev.read(c, 1), 1);
});

t('bad guest accesses are logged and ignored: wrong width, misaligned, unknown, read-only, write-only', () => {
  const h = make();
  assert.is(h.dev.read(R.VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
  assert.is(h.dev.read(R.VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
  assert.is(h.dev.read(R.VIRTIO_MMIO_VERSION + 1, 4), 0);
  assert.is(h.dev.read(0x0f0, 4), 0);
  assert.is(h.dev.read(R.VIRTIO_MMIO_QUEUE_NOTIFY, 4), 0);
  assert.is(h.dev.read(-4, 4), 0);
  assert.is(h.dev.read(Number.NaN, 4), 0);
  h.dev.write(R.VIRTIO_MMIO_STATUS, 2, 0xff);
  h.dev.write(R.VIRTIO_MMIO_STATUS + 2, 4, 0xff);
  h.dev.write(R.VIRTIO_MMIO_DEVICE_ID, 4, 99);
  h.dev.write(0x0f0, 4, 1);
  h.dev.write(R.VIRTIO_MMIO_STATUS, 4, Number.NaN);
  assert.is(h.dev.read(R.VIRTIO_MMIO_STATUS, 4), 0);
  assert.is(h.dev.read(R.VIRTIO_MMIO_DEVICE_ID, 4), 26);
  assert.is(h.log.length, 12);
});

t('property: arbitrary guest accesses never throw and reads stay 32-bit', () => {
  const offsets = fc.oneof(
    fc.integer({ min: 0, max: 0x110 }).map((o) => o & ~3),
    fc.integer({ min: -8, max: 0x300 }),
  );
  const access = fc.record({
    write: fc.boolean(), offset: offsets,
    width: fc.constantFrom(1, 2, 3, 4, 8), value: fc.integer({ min: 0, max: 0xffffffff }),
  });
  fc.assert(fc.property(fc.array(access, { maxLength: 60 }), (accesses) => {
    const h = make();
    for (const a of accesses) {
      if (a.write) h.dev.write(a.offset, a.width, a.value);
      else {
        const v = h.dev.read(a.offset, a.width);
        if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) return false;
      }
    }
    // The identity never changes whatever the guest did.
    return h.dev.read(R.VIRTIO_MMIO_MAGIC_VALUE, 4) === R.VIRTIO_MMIO_MAGIC
      && h.dev.read(R.VIRTIO_MMIO_DEVICE_ID, 4) === 26;
  }), { numRuns: 200 });
});

t('constructor rejects a bad device description', () => {
  assert.throws(() => make({ queueSizes: [100] }), RangeError);
  assert.throws(() => make({ queueSizes: [65536] }), RangeError);
  assert.throws(() => make({ features: -1n }), RangeError);
  assert.throws(() => make({ shm: [[0, { base: 0, len: (1n << 64n) - 1n }]] }), RangeError);
});

t.run();
