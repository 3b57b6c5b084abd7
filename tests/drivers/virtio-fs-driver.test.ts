// The virtio-fs driver against a hand-made device (register file + device
// queue), so the device can misbehave on purpose.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Allocator } from '../../core/allocator';
import { Errno, ErrnoError } from '../../core/errno';
import { BufferBacking, GuestMemory } from '../../core/memory';
import { MmioDeviceRegisters } from '../../drivers/virtio-mmio/device-registers';
import { InProcessTransport } from '../../drivers/virtio-mmio/in-process-transport';
import * as R from '../../drivers/virtio-mmio/registers';
import {
  VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, feature, hasFeature,
} from '../../drivers/virtio/features';
import * as S from '../../drivers/virtio/status';
import {
  decodeTag, encodeTag, encodeVirtioFsConfig,
} from '../../drivers/virtio-fs/config';
import { VirtioFsDriver, VirtioFsDriverOptions } from '../../drivers/virtio-fs/driver';
import { Chain, DeviceQueue, scatter, gather } from '../../drivers/virtqueue';

const t = suite('virtio-fs-driver');

const FEATURES = feature(VIRTIO_F_VERSION_1) | feature(VIRTIO_RING_F_EVENT_IDX) | feature(VIRTIO_RING_F_INDIRECT_DESC);

interface Popped { queue: number; chain: Chain; request: Uint8Array }

/** A virtio-fs device whose every completion the test writes by hand. */
class HandDevice {
  readonly regs: MmioDeviceRegisters;
  readonly queues = new Map<number, DeviceQueue>();
  readonly popped: Popped[] = [];
  readonly statuses: number[] = [];
  /** Called for each request as the notify pops it (a device that answers at once). */
  answer?: (p: Popped) => void;
  constructor(readonly mem: GuestMemory, opts: {
    config?: Uint8Array; queueSizes?: number[]; features?: bigint; deviceId?: number;
  } = {}) {
    this.regs = new MmioDeviceRegisters({
      deviceId: opts.deviceId ?? 26,
      features: opts.features ?? FEATURES,
      queueSizes: opts.queueSizes ?? [64, 64],
      config: opts.config ?? encodeVirtioFsConfig('hand', 1),
      logger: () => {},
    }, {
      onStatusChange: (s) => this.statuses.push(s),
      onQueueReady: (i, q) => {
        const f = this.regs.driverFeatures;
        this.queues.set(i, new DeviceQueue(mem, {
          size: q.num, desc: q.desc, avail: q.driver, used: q.device,
          eventIdx: hasFeature(f, VIRTIO_RING_F_EVENT_IDX), indirect: hasFeature(f, VIRTIO_RING_F_INDIRECT_DESC),
        }));
      },
      onReset: () => this.queues.clear(),
      onNotify: (i) => {
        const dq = this.queues.get(i)!;
        for (let c = dq.pop(); c; c = dq.pop()) {
          const p = { queue: i, chain: c, request: gather(mem, c.readable).slice() };
          this.popped.push(p);
          this.answer?.(p);
        }
      },
    });
  }
  /** Complete `p` with `reply`, claiming `len` bytes written (default: the reply's length). */
  complete(p: Popped, reply: Uint8Array, len?: number): void {
    const written = scatter(this.mem, p.chain.writable, reply);
    this.queues.get(p.queue)!.pushUsed(p.chain.head, len ?? written);
    this.regs.raise(R.VIRTIO_MMIO_INT_VRING);
  }
}

/** A device that runs beside the driver (as over the wire), counting flushes. */
class ConcurrentTransport extends InProcessTransport {
  readonly concurrent = true;
  flushes = 0;
  flush(): void { this.flushes++; }
}

function rig(dopts: ConstructorParameters<typeof HandDevice>[1] = {}, concurrent = false) {
  const mem = new GuestMemory([{ name: 'ram', base: 0, size: 1 << 20, backing: new BufferBacking(1 << 20) }]);
  const dev = new HandDevice(mem, dopts);
  const transport = concurrent ? new ConcurrentTransport(dev.regs) : new InProcessTransport(dev.regs);
  const allocator = new Allocator(0x1000, (1 << 20) - 0x1000);
  const log: string[] = [];
  const probe = (o: VirtioFsDriverOptions = {}) =>
    VirtioFsDriver.probe(transport, mem, allocator, { logger: (m) => log.push(m), ...o });
  return { mem, dev, transport, allocator, log, probe };
}

const settle = () => new Promise<void>((r) => setImmediate(r));
const errnoOf = (p: Promise<unknown>) => p.then(() => 0, (e) => (e instanceof ErrnoError ? e.errno : -1));

// --- config layout ----------------------------------------------------------------

t('config: encode and decode the tag; refuse empty, NUL, too long and bad UTF-8', () => {
  const c = encodeVirtioFsConfig('fs0', 7);
  assert.is(c.length, 40);
  assert.is(new DataView(c.buffer).getUint32(36, true), 7);
  assert.is(decodeTag(c.subarray(0, 36)), 'fs0');
  const full = new Uint8Array(36).fill(0x61);
  assert.is(decodeTag(full), 'a'.repeat(36), 'a full field has no NUL');
  assert.is(decodeTag(encodeTag('x'.repeat(36))), 'x'.repeat(36));
  assert.throws(() => decodeTag(new Uint8Array(36)), /virtio-fs config/);
  assert.throws(() => decodeTag(Uint8Array.of(0xc3, 0x28, ...new Uint8Array(34))), /UTF-8/);
  assert.throws(() => decodeTag(new Uint8Array(35)), /virtio-fs config/);
  assert.throws(() => encodeTag('a\0b'), /NUL/);
  assert.throws(() => encodeTag('a'.repeat(37)), /at most 36/);
  assert.throws(() => encodeVirtioFsConfig('a', 0), /virtio-fs config/);
});

// --- probe ---------------------------------------------------------------------------

t('probe: status in order, features, queues of min(QueueNumMax, wanted), min(num, wanted) request queues', async () => {
  const r = rig({ config: encodeVirtioFsConfig('hand', 5), queueSizes: [64, 32, 32, 32, 32, 32] });
  const drv = await r.probe({ requestQueues: 3, queueSize: 48 });
  const { ACKNOWLEDGE: A, DRIVER: D, FEATURES_OK: F, DRIVER_OK: O } = {
    ACKNOWLEDGE: S.VIRTIO_STATUS_ACKNOWLEDGE, DRIVER: S.VIRTIO_STATUS_DRIVER,
    FEATURES_OK: S.VIRTIO_STATUS_FEATURES_OK, DRIVER_OK: S.VIRTIO_STATUS_DRIVER_OK,
  };
  assert.equal(r.dev.statuses, [A, A | D, A | D | F, A | D | F | O]);
  assert.is(drv.features, FEATURES);
  assert.is(drv.numRequestQueues, 5);
  assert.is(drv.requestQueues, 3);
  assert.equal([...r.dev.queues.keys()], [0, 1, 2, 3]);
  assert.equal([...r.dev.queues.values()].map((q) => q.size), [32, 32, 32, 32], 'min(max, 48) rounded to a power of two');
  assert.is(drv.tag, 'hand');
  await drv.close();
  assert.is(r.dev.regs.status, 0, 'close resets the device');
  assert.is(r.allocator.allocations, 0);
});

t('probe: fewer queues than num_request_queues says are tolerated (logged)', async () => {
  const r = rig({ config: encodeVirtioFsConfig('hand', 4), queueSizes: [8, 8, 8] });
  const drv = await r.probe();
  assert.is(drv.requestQueues, 2);
  assert.ok(r.log.some((m) => /queue 3 is absent/.test(m)));
});

t('probe failures leave the device FAILED and free every ring', async () => {
  const emptyTag = new Uint8Array(40);
  new DataView(emptyTag.buffer).setUint32(36, 1, true);
  const cases: Array<[ConstructorParameters<typeof HandDevice>[1], RegExp]> = [
    [{ config: emptyTag }, /empty tag/],
    [{ config: (() => { const c = encodeVirtioFsConfig('x', 1); c.fill(0, 36); return c; })() }, /no request queue/],
    [{ config: (() => { const c = encodeVirtioFsConfig('x', 1); c[0] = 0xff; return c; })() }, /UTF-8/],
    [{ queueSizes: [8] }, /no request queue/],
    [{ features: feature(VIRTIO_RING_F_EVENT_IDX) }, /VERSION_1/],
    [{ deviceId: 2 }, /DeviceID 2/],
  ];
  for (const [opts, re] of cases) {
    const r = rig(opts);
    const e = await r.probe().then(() => undefined, (err: Error) => err);
    assert.ok(e && re.test(e.message), `${re}: ${e?.message}`);
    assert.is(r.allocator.allocations, 0, `${re}: rings freed`);
    if (!/DeviceID/.test(re.source)) assert.ok(r.dev.regs.status & S.VIRTIO_STATUS_FAILED, `${re}: FAILED`);
  }
});

// --- a misbehaving device ---------------------------------------------------------------

t('a used length above the reply buffer fails that request with EIO; others complete', async () => {
  const r = rig();
  const drv = await r.probe();
  const a = drv.request(Uint8Array.of(1, 2, 3), 16);
  const b = drv.request(Uint8Array.of(4, 5, 6), 16);
  await settle();
  assert.is(r.dev.popped.length, 2);
  const [pa, pb] = r.dev.popped;
  r.dev.complete(pa!, new Uint8Array(16), 17);
  r.dev.complete(pb!, Uint8Array.of(9, 9));
  assert.is(await errnoOf(a), Errno.EIO);
  assert.equal(await b, Uint8Array.of(9, 9));
  assert.ok(r.log.some((m) => /used len 17/.test(m)));
  assert.is(drv.pending, 0);
});

t('a used id the queue does not know: logged, the queue\'s requests fail with EIO, no hang', async () => {
  const r = rig();
  const drv = await r.probe({ requestQueues: 1 });
  const a = drv.request(Uint8Array.of(1), 16);
  await settle();
  const dq = r.dev.queues.get(1)!;
  dq.pushUsed(17, 0); // not a head in flight
  r.dev.regs.raise(R.VIRTIO_MMIO_INT_VRING);
  assert.is(await errnoOf(a), Errno.EIO);
  assert.ok(r.log.some((m) => /used id 17/.test(m)));
  assert.is(await errnoOf(drv.request(Uint8Array.of(2), 16)), Errno.EIO, 'no usable request queue left');
  assert.is(drv.pending, 0);
  // hiprio still works
  const f = drv.send(Uint8Array.of(3), { hiprio: true });
  await settle();
  r.dev.complete(r.dev.popped.find((p) => p.queue === 0)!, new Uint8Array(0));
  await f;
});

t('a config interrupt without DEVICE_NEEDS_RESET fails nothing', async () => {
  const r = rig();
  const drv = await r.probe();
  const a = drv.request(Uint8Array.of(1), 16);
  await settle();
  r.dev.regs.configChanged();
  await settle();
  r.dev.complete(r.dev.popped[0]!, Uint8Array.of(5));
  assert.equal(await a, Uint8Array.of(5));
  assert.is(drv.failure, undefined);
});

// --- requests ------------------------------------------------------------------------------

t('bad arguments are EINVAL; a request too large for guest memory is ENOMEM, never a hang', async () => {
  const r = rig();
  const drv = await r.probe();
  assert.is(await errnoOf(drv.request(new Uint8Array(0), 16)), Errno.EINVAL);
  assert.is(await errnoOf(drv.request(Uint8Array.of(1), -1)), Errno.EINVAL);
  assert.is(await errnoOf(drv.request(Uint8Array.of(1), 1.5)), Errno.EINVAL);
  assert.is(await errnoOf(drv.request(Uint8Array.of(1), 16, { queue: 9 })), Errno.EINVAL);
  assert.is(await errnoOf(drv.request(Uint8Array.of(1), 4 << 20)), Errno.ENOMEM);
});

t('guest memory exhausted by requests in flight: the next waits and goes once one completes', async () => {
  const r = rig();
  const drv = await r.probe({ features: 0n });
  const big = r.allocator.largestFree - 4096;
  const a = drv.request(new Uint8Array(8).fill(1), big);
  const b = drv.request(new Uint8Array(8).fill(2), 8192);
  await settle();
  assert.is(r.dev.popped.length, 1, 'b waits for memory');
  r.dev.complete(r.dev.popped[0]!, Uint8Array.of(1));
  assert.equal(await a, Uint8Array.of(1));
  await settle();
  assert.is(r.dev.popped.length, 2);
  assert.equal(r.dev.popped[1]!.request, new Uint8Array(8).fill(2));
  r.dev.complete(r.dev.popped[1]!, Uint8Array.of(2));
  assert.equal(await b, Uint8Array.of(2));
});

t('a waiting request keeps its own copy of the caller\'s bytes', async () => {
  const r = rig({ queueSizes: [1, 1] });
  const drv = await r.probe({ features: 0n });
  const first = drv.request(Uint8Array.of(1), 0);
  const bytes = Uint8Array.of(7, 7);
  const second = drv.request(bytes, 0);
  bytes.fill(0);
  await settle();
  r.dev.complete(r.dev.popped[0]!, new Uint8Array(0));
  await first;
  await settle();
  assert.equal(r.dev.popped[1]!.request, Uint8Array.of(7, 7));
  r.dev.complete(r.dev.popped[1]!, new Uint8Array(0));
  await second;
});

t('getDax and getMapAlignment: the window region, and the alignment of the FUSE_INIT record it is handed (no copy)', async () => {
  const r = rig();
  const drv = await r.probe();
  assert.is(drv.getDax(), undefined, 'no shared-memory region 0');
  assert.is(drv.getMapAlignment(), undefined, 'before FUSE_INIT');
  const init = { mapAlignment: 21 };
  drv.attachInit(init);
  assert.is(drv.getMapAlignment(), 21);
  (init as { mapAlignment: number }).mapAlignment = 16; // a record, not a copy of its field
  assert.is(drv.getMapAlignment(), 16);
  drv.attachInit(undefined);
  assert.is(drv.getMapAlignment(), undefined, 'after FUSE_DESTROY');
  await drv.close();
});

// --- busy-polling -------------------------------------------------------------------

t('busy-poll: an answer that comes within the bound is taken by the spin, after the notify went out', async () => {
  const r = rig({}, true);
  const drv = await r.probe({ busyPollUs: 200 });
  r.dev.answer = (p) => r.dev.complete(p, Uint8Array.of(9, 8, 7));
  assert.equal([...await drv.request(Uint8Array.of(1), 16)], [9, 8, 7]);
  assert.is(drv.busyPoll!.hits, 1);
  assert.ok((r.transport as ConcurrentTransport).flushes >= 1, 'posted writes flushed before the spin');
  r.dev.answer = undefined;
  const late = drv.request(Uint8Array.of(2), 16);
  await settle();
  assert.is(drv.busyPoll!.polls, 2);
  assert.is(drv.busyPoll!.hits, 1, 'no answer within the bound: a miss');
  r.dev.complete(r.dev.popped[1]!, Uint8Array.of(5));
  assert.equal([...await late], [5], 'the interrupt still completes it');
  await drv.close();
});

t('busy-poll: off for a device in the driver\'s own thread, and with busyPollUs 0', async () => {
  const own = await rig().probe({ busyPollUs: 200 });
  assert.is(own.busyPoll, undefined, 'it could never answer during a spin');
  await own.close();
  const off = await rig({}, true).probe({ busyPollUs: 0 });
  assert.is(off.busyPoll, undefined);
  await off.close();
  let err: unknown;
  try { await rig({}, true).probe({ busyPollUs: -1 }); } catch (e) { err = e; }
  assert.match(String(err), /bad busyPollUs -1/);
});

t.run();
