// The virtio-fs device model (registers, config, queues, backend) against the
// guest driver, in one process.
import { MockSplitQueue } from '../drivers/mock-queue';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import * as os from 'node:os';
import * as fsNode from 'node:fs';
import { Errno, ErrnoError } from '../../core/errno';
import { BufferBacking, GuestMemory } from '../../core/memory';
import { ShmFileBacking } from '../../core/shm-file.node';
import { MmioDriver } from '../../drivers/virtio-mmio/driver';
import { InProcessTransport } from '../../drivers/virtio-mmio/in-process-transport';
import * as R from '../../drivers/virtio-mmio/registers';
import {
  VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, feature,
} from '../../drivers/virtio/features';
import { VIRTIO_STATUS_DEVICE_NEEDS_RESET } from '../../drivers/virtio/status';
import { VirtioFsDriver } from '../../drivers/virtio-fs/driver';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../drivers/virtqueue';
import { FuseQueueBackend } from '../../tools/vmm/fuse-queues';
import { VIRTIO_FS_DEVICE_FEATURES, VirtioFsDevice } from '../../tools/vmm/virtio-fs-device';
import {
  ManualHandler, RAM_SIZE, echoHandler, makeRig, replyFor, requestBytes, settle, shuffle, until,
} from './device-virtio-fs-harness';

const t = suite('device-virtio-fs');

const V1 = feature(VIRTIO_F_VERSION_1);
const EVENT_IDX = feature(VIRTIO_RING_F_EVENT_IDX);
const INDIRECT = feature(VIRTIO_RING_F_INDIRECT_DESC);

function isEio(e: unknown): boolean {
  return e instanceof ErrnoError && e.errno === Errno.EIO;
}

/** Settle every promise; returns what each gave, errors included. */
function outcomes<T>(ps: Promise<T>[]): Promise<Array<T | Error>> {
  return Promise.all(ps.map((p) => p.then((v) => v, (e: Error) => e)));
}

// --- registers and config ------------------------------------------------------

t('registers: magic, version 2, device 26, QEMU vendor, features, queue sizes', async () => {
  const rig = await makeRig({ device: { numRequestQueues: 3, queueSize: 256 } });
  const m = new MmioDriver(new InProcessTransport(rig.device.registers));
  assert.equal(await m.probe(), { version: 2, deviceId: 26, vendorId: 0x554d4551 });
  assert.is(await m.readDeviceFeatures(), V1 | INDIRECT | EVENT_IDX);
  assert.is(VIRTIO_FS_DEVICE_FEATURES, V1 | INDIRECT | EVENT_IDX);
  for (let q = 0; q <= 3; q++) assert.is(await m.queueNumMax(q), 256, `queue ${q}`);
  assert.is(await m.queueNumMax(4), 0, 'no queue past hiprio + 3');
  assert.is(rig.driver.requestQueues, 3);
  assert.is(rig.driver.features, V1 | INDIRECT | EVENT_IDX);
});

t('config: tag NUL-padded, num_request_queues le32; driver reads both', async () => {
  const rig = await makeRig({ device: { tag: 'share-ü', numRequestQueues: 2 } });
  const m = new MmioDriver(new InProcessTransport(rig.device.registers));
  const tag = await m.readConfigBytes(0, 36);
  assert.equal([...tag.subarray(0, 8)], [...new TextEncoder().encode('share-ü')]);
  assert.ok(tag.subarray(8).every((b) => b === 0), 'NUL padding');
  assert.is(await m.readConfig32(36), 2);
  assert.is(await m.readConfig8(40), 0xff, 'nothing past the 40 bytes');
  assert.is(rig.driver.tag, 'share-ü');
  assert.is(rig.driver.numRequestQueues, 2);
});

t('config: a 36-byte tag fills the field and reads back whole', async () => {
  const tag = 'é'.repeat(18); // 36 bytes of UTF-8
  const rig = await makeRig({ device: { tag } });
  assert.is(rig.driver.tag, tag);
});

t('construction refuses what QEMU refuses', () => {
  const memory = new GuestMemory([{ name: 'ram', base: 0, size: 1 << 16, backing: new BufferBacking(1 << 16) }]);
  const make = (o: object) => new VirtioFsDevice({
    memory, tag: 'x', backend: (sink) => new FuseQueueBackend(memory, echoHandler, sink), logger: () => {}, ...o,
  });
  assert.throws(() => make({ tag: 'a'.repeat(37) }), /at most 36/);
  assert.throws(() => make({ tag: 'é'.repeat(19) }), /at most 36/);
  assert.throws(() => make({ tag: '' }), /empty/);
  assert.throws(() => make({ queueSize: 1000 }), /power of 2/);
  assert.throws(() => make({ queueSize: 65536 }), /32768 or smaller/);
  assert.throws(() => make({ numRequestQueues: 0 }), /larger than 0/);
  assert.throws(() => make({ window: { base: 1 << 32, len: 3 << 20 } }), /power of 2/);
  assert.throws(() => make({ window: { base: 12345, len: 1 << 21 } }), /page-aligned/);
  make({ tag: 'a'.repeat(36), queueSize: 1, numRequestQueues: 1 });
});

t('shared-memory region 0: the cache window when present, ~0 when absent', async () => {
  const base = 2 ** 33;
  const len = 2 ** 31;
  const withWindow = await makeRig({ device: { window: { base, len } } });
  assert.equal(withWindow.driver.getDax(), { base, len });
  const m = new MmioDriver(new InProcessTransport(withWindow.device.registers));
  assert.equal(await m.sharedMemoryRegion(0), { base, len });
  assert.is(await m.sharedMemoryRegion(1), undefined);

  const without = await makeRig();
  assert.is(without.driver.getDax(), undefined);
  const zero = await makeRig({ device: { window: { base, len: 0 } } });
  assert.is(zero.driver.getDax(), undefined);
  const m2 = new MmioDriver(new InProcessTransport(without.device.registers));
  assert.is(await m2.sharedMemoryRegion(0), undefined);
});

// --- requests ------------------------------------------------------------------

t('a request gets its reply; hiprio sends with no reply resolve on completion', async () => {
  const h = new ManualHandler();
  const rig = await makeRig({ handler: h });
  const reply = rig.driver.request(requestBytes(7, 40), 100);
  const forget = rig.driver.send(requestBytes(8), { hiprio: true });
  await until(() => h.calls.length === 2, 'two calls');
  const [a, b] = h.take();
  const req = a!.ctx.queue === 0 ? b! : a!;
  const fg = a!.ctx.queue === 0 ? a! : b!;
  assert.equal(fg.ctx, { queue: 0, replyCapacity: 0 });
  assert.equal(req.ctx, { queue: 1, replyCapacity: 100 });
  assert.equal(fg.request, requestBytes(8));
  fg.resolve(null);
  await forget;
  req.resolve(replyFor(req.request));
  assert.equal(await reply, replyFor(requestBytes(7, 40)));
  assert.is(rig.driver.pending, 0);
});

t('many concurrent requests over 4 queues, completed in random order: each caller gets its own reply', async () => {
  const h = new ManualHandler();
  const rig = await makeRig({ handler: h, device: { numRequestQueues: 4, queueSize: 128 } });
  const N = 300;
  const ps = Array.from({ length: N }, (_, i) => rig.driver.request(requestBytes(i, 8 + (i % 50)), 128));
  await until(() => h.calls.length === N, 'all requests at the device');
  const queues = new Set(h.calls.map((c) => c.ctx.queue));
  assert.equal([...queues].sort(), [1, 2, 3, 4], 'spread over every request queue');
  for (const c of shuffle(h.take(), 42)) { c.resolve(replyFor(c.request)); if (c.request[0]! % 3 === 0) await settle(); }
  const replies = await Promise.all(ps);
  replies.forEach((r, i) => assert.equal(r, replyFor(requestBytes(i, 8 + (i % 50))), `request ${i}`));
  assert.is(rig.backend.inFlight, 0);
  assert.is(rig.driver.pending, 0);
});

t('property: any completion order and sizes, every caller gets its own reply', async () => {
  const h = new ManualHandler();
  const rig = await makeRig({ handler: h, device: { numRequestQueues: 2, queueSize: 16 } });
  await fc.assert(fc.asyncProperty(
    fc.array(fc.integer({ min: 4, max: 300 }), { minLength: 1, maxLength: 60 }),
    fc.integer(), fc.boolean(),
    async (sizes, seed, stagger) => {
      const ps = sizes.map((len, i) => rig.driver.request(requestBytes(i, len), 512));
      let done = 0;
      void Promise.all(ps).then(() => { done = 1; });
      // Queues of 16 hold fewer than 60: complete what arrives until all are done.
      for (let turn = 0; turn < 500 && !done; turn++) {
        await settle();
        for (const c of shuffle(h.take(), seed + turn)) {
          c.resolve(replyFor(c.request));
          if (stagger) await settle();
        }
      }
      const replies = await Promise.all(ps);
      replies.forEach((r, i) => assert.equal(r, replyFor(requestBytes(i, sizes[i]!))));
    }), { numRuns: 25 });
  assert.is(rig.allocator.allocations, 3, "only the three rings remain: buffers and indirect tables were freed");
});

t('a queue smaller than the requests in flight: callers wait in FIFO order, none fails', async () => {
  for (const features of [V1, V1 | INDIRECT]) {
    const h = new ManualHandler();
    const rig = await makeRig({ handler: h, device: { queueSize: 4 }, driver: { features } });
    const perChain = features & INDIRECT ? 1 : 2;
    const N = 30;
    const ps = Array.from({ length: N }, (_, i) => rig.driver.request(requestBytes(i), 32));
    const order: number[] = [];
    while (order.length < N) {
      await settle();
      const calls = h.take();
      assert.ok(calls.length <= 4 / perChain, `at most ${4 / perChain} at once, got ${calls.length}`);
      assert.ok(calls.length > 0 || order.length === N, 'progress');
      for (const c of calls) { order.push(new DataView(c.request.buffer).getUint32(0, true)); c.resolve(replyFor(c.request)); }
    }
    assert.equal(order, Array.from({ length: N }, (_, i) => i), 'FIFO');
    const replies = await Promise.all(ps);
    replies.forEach((r, i) => assert.equal(r, replyFor(requestBytes(i))));
  }
});

/** The descriptor flags of the first `n` ring descriptors of queue `q`. */
function descFlags(dev: VirtioFsDevice, mem: GuestMemory, q: number, n: number): number[] {
  const cfg = dev.registers.queue(q)!;
  return Array.from({ length: n }, (_, i) => mem.u16(cfg.desc + 16 * i + 12));
}

t('indirect on: one ring descriptor per request; off: a direct chain of two', async () => {
  for (const indirect of [true, false]) {
    const h = new ManualHandler();
    const rig = await makeRig({ handler: h, driver: { features: indirect ? INDIRECT : 0n } });
    const p = rig.driver.request(requestBytes(1), 64);
    await until(() => h.calls.length === 1, 'the call');
    if (indirect) assert.is(descFlags(rig.device, rig.mem, 1, 1)[0], VIRTQ_DESC_F_INDIRECT);
    else assert.equal(descFlags(rig.device, rig.mem, 1, 2), [VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE]);
    h.take()[0]!.resolve(replyFor(requestBytes(1)));
    assert.equal(await p, replyFor(requestBytes(1)));
  }
});

t('negotiation: every subset of EVENT_IDX and INDIRECT_DESC works; a driver wanting none gets VERSION_1 only', async () => {
  for (const features of [0n, EVENT_IDX, INDIRECT, EVENT_IDX | INDIRECT]) {
    const rig = await makeRig({ device: { queueSize: 8, numRequestQueues: 2 }, driver: { features } });
    assert.is(rig.driver.features, V1 | features);
    assert.is(rig.device.registers.driverFeatures, V1 | features);
    const N = 64;
    const replies = await Promise.all(Array.from({ length: N }, (_, i) => rig.driver.request(requestBytes(i, 20), 64)));
    replies.forEach((r, i) => assert.equal(r, replyFor(requestBytes(i, 20))));
    await rig.driver.send(requestBytes(99), { hiprio: true });
  }
});

t('EVENT_IDX: the device publishes avail_event and the driver used_event', async () => {
  const rig = await makeRig({ device: { queueSize: 8 } });
  for (let i = 0; i < 5; i++) await rig.driver.request(requestBytes(i), 32);
  const cfg = rig.device.registers.queue(1)!;
  const size = cfg.num;
  assert.is(rig.mem.u16(cfg.device + 4 + 8 * size), 5, 'avail_event follows the popped chains');
  assert.is(rig.mem.u16(cfg.driver + 4 + 2 * size), 5, 'used_event asks for the next completion');
});

t('a reply longer than the reply buffer is cut to it and logged', async () => {
  const rig = await makeRig({ handler: { handle: async () => new Uint8Array(100).fill(7) } });
  const r = await rig.driver.request(requestBytes(1), 10);
  assert.equal(r, new Uint8Array(10).fill(7));
  assert.ok(rig.log.some((m) => /cut to 10/.test(m)));
});

t('a handler that throws or rejects: logged, its chain completed with len 0, others unaffected', async () => {
  const rig = await makeRig({
    handler: {
      handle: (req) => {
        if (req[0] === 1) throw new Error('sync boom');
        if (req[0] === 2) return Promise.reject(new Error('async boom'));
        return Promise.resolve(replyFor(req));
      },
    },
  });
  const [a, b, c] = await Promise.all([1, 2, 3].map((n) => rig.driver.request(requestBytes(n), 64)));
  assert.is(a!.length, 0);
  assert.is(b!.length, 0);
  assert.equal(c, replyFor(requestBytes(3)));
  assert.ok(rig.log.some((m) => /sync boom/.test(m)) && rig.log.some((m) => /async boom/.test(m)));
});

t('a bad chain written by hand breaks the device; the driver fails everything with EIO', async () => {
  const h = new ManualHandler();
  const rig = await makeRig({ handler: h, device: { queueSize: 8 } });
  const inflight = rig.driver.request(requestBytes(1), 64);
  await until(() => h.calls.length === 1, 'the call');
  // Publish head 8 (>= queue size) behind the driver's back and kick.
  const cfg = rig.device.registers.queue(1)!;
  new MockSplitQueue(rig.mem, { size: cfg.num, desc: cfg.desc, avail: cfg.driver, used: cfg.device }).offer([8]);
  rig.device.registers.write(R.VIRTIO_MMIO_QUEUE_NOTIFY, 4, 1);
  assert.ok(rig.device.registers.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 'DEVICE_NEEDS_RESET');
  const e = await inflight.then(() => undefined, (err) => err);
  assert.ok(isEio(e), String(e));
  const later = await rig.driver.request(requestBytes(2), 64).then(() => undefined, (err) => err);
  assert.ok(isEio(later), 'later requests fail at once');
  // The request started before still completes at the backend: nothing is written.
  const usedIdx = rig.mem.u16(cfg.device + 2);
  h.take()[0]!.resolve(replyFor(requestBytes(1)));
  await settle();
  assert.is(rig.mem.u16(cfg.device + 2), usedIdx, 'no used entry on a broken device');
  assert.ok(rig.log.some((m) => /needs reset/.test(m)));
  await rig.driver.close();
  assert.is(rig.device.registers.status, 0, 'close resets the broken device');
  assert.is(rig.allocator.allocations, 0);
});

t('reset with requests in flight: they fail with EIO, late completions never reach the new rings', async () => {
  const h = new ManualHandler();
  const rig = await makeRig({ handler: h, device: { queueSize: 8 } });
  const old = Array.from({ length: 4 }, (_, i) => rig.driver.request(requestBytes(i), 64));
  await until(() => h.calls.length === 4, 'old calls');
  const oldCalls = h.take();
  const oldOutcomes = outcomes(old);
  await rig.driver.close();
  for (const r of await oldOutcomes) assert.ok(isEio(r), String(r));
  assert.is(rig.allocator.allocations, 0, 'close freed every ring and buffer');
  assert.is(rig.backend.inFlight, 0);

  // A new driver on the same device: the same memory gets reused for its rings.
  const transport = new InProcessTransport(rig.device.registers);
  const drv = await VirtioFsDriver.probe(transport, rig.mem, rig.allocator, { logger: () => {} });
  const fresh = Array.from({ length: 4 }, (_, i) => drv.request(requestBytes(100 + i), 64));
  await until(() => h.calls.length === 4, 'new calls');
  const cfg = rig.device.registers.queue(1)!;
  for (const c of oldCalls) c.resolve(new Uint8Array(64).fill(0xee));
  await settle();
  assert.is(rig.mem.u16(cfg.device + 2), 0, 'no used entry from before the reset');
  for (const c of h.take()) c.resolve(replyFor(c.request));
  const replies = await Promise.all(fresh);
  replies.forEach((r, i) => assert.equal(r, replyFor(requestBytes(100 + i))));
  await drv.close();
});

t('transport closed: everything in flight and every later request fails with EIO at once', async () => {
  const h = new ManualHandler();
  const rig = await makeRig({ handler: h, device: { queueSize: 4 } });
  const ps = Array.from({ length: 10 }, (_, i) => rig.driver.request(requestBytes(i), 64)); // some wait for room
  ps.push(rig.driver.send(requestBytes(50), { hiprio: true }) as Promise<never>);
  await until(() => h.calls.length >= 2, 'calls');
  const all = outcomes(ps);
  rig.transport.close();
  await settle();
  const rs = await all;
  rs.forEach((r, i) => assert.ok(isEio(r), `request ${i}: ${String(r)}`));
  assert.is(rig.driver.pending, 0);
  const later = await rig.driver.request(requestBytes(1), 64).then(() => undefined, (err) => err);
  assert.ok(isEio(later));
  assert.ok(rig.driver.failure);
});

t('device close: late completions are dropped, no interrupt', async () => {
  const h = new ManualHandler();
  const rig = await makeRig({ handler: h });
  void rig.driver.request(requestBytes(1), 64).catch(() => undefined);
  await until(() => h.calls.length === 1, 'call');
  const cfg = rig.device.registers.queue(1)!;
  rig.device.close();
  h.take()[0]!.resolve(replyFor(requestBytes(1)));
  await settle();
  assert.is(rig.mem.u16(cfg.device + 2), 0);
  rig.transport.close();
});

t('guest RAM in a shared-memory file (no live view): the same traffic works', async () => {
  const dir = fsNode.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const ram = ShmFileBacking.create(RAM_SIZE, { dir });
  try {
    const h = new ManualHandler();
    const rig = await makeRig({ ram, handler: h, device: { numRequestQueues: 2, queueSize: 16 } });
    assert.is(rig.mem.view(0, 16), undefined, 'slow path');
    const N = 50;
    const ps = Array.from({ length: N }, (_, i) => rig.driver.request(requestBytes(i, 4 + i * 7), 512));
    const forget = rig.driver.send(requestBytes(77), { hiprio: true });
    let done = false;
    void Promise.all(ps).then(() => { done = true; });
    for (let turn = 0; turn < 200 && !done; turn++) {
      await settle();
      for (const c of shuffle(h.take(), turn)) c.resolve(c.ctx.queue === 0 ? null : replyFor(c.request));
    }
    const replies = await Promise.all(ps);
    replies.forEach((r, i) => assert.equal(r, replyFor(requestBytes(i, 4 + i * 7))));
    await forget;
    await rig.driver.close();
    assert.is(rig.allocator.allocations, 0);
  } finally {
    ram.close();
    ram.unlink();
  }
});

t.run();
