import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryBacking } from '../../core/memory';
import {
  DeviceQueue, DriverQueue, RingAllocator, VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT,
  VIRTQ_USED_F_NO_NOTIFY, availEventOffset, availRingSize, descTableSize, gather, scatter, usedEventOffset, usedRingSize, virtqLayout,
  vringNeedEvent,
} from '../../drivers/virtqueue';
import { AVAIL, BUF, DESC, RAM, RecordingAlloc, TABLES, USED, cfg, kindOf, ram } from './mock-queue';

const t = suite('virtqueue');

t('layout: sizes, offsets and packed layout follow §2.7', () => {
  assert.is(descTableSize(256), 4096);
  assert.is(availRingSize(256), 6 + 512);
  assert.is(usedRingSize(256), 6 + 2048);
  assert.is(usedEventOffset(256), 4 + 512);
  assert.is(availEventOffset(256), 4 + 2048);
  const l = virtqLayout(8);
  assert.equal([l.descOffset, l.availOffset, l.usedOffset, l.totalSize], [0, 128, 152, 152 + 70]);
  assert.is(l.usedOffset % 4, 0);
  assert.is(kindOf(() => virtqLayout(3)), 'queue-size');
});

t('vringNeedEvent is the spec formula, with wraparound', () => {
  assert.ok(vringNeedEvent(5, 6, 5));
  assert.not.ok(vringNeedEvent(6, 6, 5));
  assert.ok(vringNeedEvent(0xffff, 2, 0xfffe));
  assert.not.ok(vringNeedEvent(3, 2, 0xfffe));
  assert.not.ok(vringNeedEvent(7, 7, 7));
});

t('constructors reject bad sizes, misaligned rings, rings outside memory', () => {
  const mem = ram();
  for (const size of [0, 3, 12, 65536, 32768 * 2, 1.5]) {
    assert.is(kindOf(() => new DeviceQueue(mem, cfg({ size }))), 'queue-size', `size ${size}`);
  }
  assert.is(kindOf(() => new DeviceQueue(mem, cfg({ size: 1 }))), undefined);
  assert.is(kindOf(() => new DeviceQueue(mem, cfg({ desc: DESC + 8 }))), 'ring-align');
  assert.is(kindOf(() => new DeviceQueue(mem, cfg({ avail: AVAIL + 1 }))), 'ring-align');
  assert.is(kindOf(() => new DeviceQueue(mem, cfg({ used: USED + 2 }))), 'ring-align');
  assert.is(kindOf(() => new DeviceQueue(mem, cfg({ avail: AVAIL + 2 }))), undefined);
  assert.is(kindOf(() => new DeviceQueue(mem, cfg({ used: RAM - 16 }))), 'ring-range');
  assert.is(kindOf(() => new DeviceQueue(mem, cfg({ desc: RAM + 0x1000 }))), 'ring-range');
  // The used ring's last byte (avail_event) one past the end of RAM.
  const small = ram(USED + 6 + 8 * 8 - 1);
  assert.is(kindOf(() => new DeviceQueue(small, cfg())), 'ring-range');
  assert.is(kindOf(() => new DeviceQueue(ram(USED + 6 + 8 * 8), cfg())), undefined);
  assert.is(kindOf(() => new DriverQueue(mem, cfg({ size: 6 }))), 'queue-size');
  assert.is(kindOf(() => new DriverQueue(mem, cfg({ used: 0x3001 }))), 'ring-align');
});

t('add/publish/pop/pushUsed/harvest: one chain, direct descriptors', () => {
  const mem = ram();
  const c = cfg();
  const drv = new DriverQueue<string>(mem, c);
  const dev = new DeviceQueue(mem, c);
  const r = [{ base: BUF, len: 40 }, { base: BUF + 0x100, len: 8 }];
  const w = [{ base: BUF + 0x200, len: 16 }, { base: BUF + 0x300, len: 100 }];
  const head = drv.add(r, w, 'req');
  assert.is(drv.numFree, 4);
  assert.is(dev.pop(), undefined, 'nothing before publish');
  drv.publish();
  const chain = dev.pop()!;
  assert.equal(chain, { head, readable: r, writable: w, readableLen: 48, writableLen: 116 });
  assert.is(dev.pop(), undefined);
  assert.equal(drv.harvest(), []);
  dev.pushUsed(chain.head, 116);
  assert.equal(drv.harvest(), [{ token: 'req', len: 116 }]);
  assert.is(drv.numFree, 8);
  assert.is(drv.numInFlight, 0);
});

t('indirect: a multi-part chain takes one descriptor and one table, freed on harvest', () => {
  const mem = ram();
  const c = cfg({ indirect: true });
  const alloc = new RecordingAlloc(TABLES);
  const drv = new DriverQueue<number>(mem, c, alloc);
  const dev = new DeviceQueue(mem, c);
  const r = [{ base: BUF, len: 1 }, { base: BUF + 8, len: 2 }, { base: BUF + 16, len: 3 }];
  const w = [{ base: BUF + 64, len: 4 }];
  drv.add(r, w, 1);
  drv.add([{ base: BUF, len: 9 }], [], 2); // one part: direct
  assert.is(drv.numFree, 6);
  assert.is(alloc.live.size, 1);
  drv.publish();
  const a = dev.pop()!;
  const b = dev.pop()!;
  assert.is(mem.u16(c.desc + 16 * a.head + 12), VIRTQ_DESC_F_INDIRECT);
  assert.equal([a.readable, a.writable], [r, w]);
  assert.equal([b.readable, b.writable], [[{ base: BUF, len: 9 }], []]);
  dev.pushUsed(b.head, 0);
  dev.pushUsed(a.head, 4);
  assert.equal(drv.harvest(), [{ token: 2, len: 0 }, { token: 1, len: 4 }]);
  assert.is(alloc.live.size, 0);
  assert.is(drv.numFree, 8);
});

t('indirect allocator failure falls back to direct descriptors', () => {
  const mem = ram();
  const c = cfg({ indirect: true });
  const failing: RingAllocator = { alloc: () => { throw new Error('full'); }, free: () => assert.unreachable() };
  const drv = new DriverQueue<number>(mem, c, failing);
  drv.add([{ base: BUF, len: 1 }, { base: BUF, len: 1 }], [], 1);
  assert.is(drv.numFree, 6);
});

t('no room: typed error, nothing changed; room returns after harvest', () => {
  const mem = ram();
  const c = cfg({ size: 4 });
  const drv = new DriverQueue<number>(mem, c);
  const dev = new DeviceQueue(mem, c);
  const iov = { base: BUF, len: 4 };
  drv.add([iov, iov, iov], [], 1);
  assert.is(kindOf(() => drv.add([iov], [iov], 2)), 'no-room');
  assert.is(drv.numFree, 1);
  drv.add([iov], [], 3);
  assert.is(kindOf(() => drv.add([iov], [], 4)), 'no-room');
  assert.is(kindOf(() => drv.add([], [], 4)), 'bad-chain');
  assert.is(kindOf(() => drv.add([iov, iov, iov, iov, iov], [], 4)), 'bad-chain');
  assert.is(kindOf(() => drv.add([{ base: -1, len: 1 }], [], 4)), 'bad-chain');
  drv.publish();
  const x = dev.pop()!;
  dev.pushUsed(x.head, 0);
  assert.equal(drv.harvest(), [{ token: 1, len: 0 }]);
  drv.add([iov], [iov, iov], 5);
  assert.is(drv.numFree, 0);
});

t('many in flight, completed out of order', () => {
  const mem = ram();
  const c = cfg();
  const drv = new DriverQueue<number>(mem, c);
  const dev = new DeviceQueue(mem, c);
  for (let i = 0; i < 8; i++) drv.add([], [{ base: BUF + 0x100 * i, len: 16 }], i);
  drv.publish();
  const chains = [];
  for (let ch = dev.pop(); ch; ch = dev.pop()) chains.push(ch);
  assert.is(chains.length, 8);
  for (const i of [5, 1, 7]) dev.pushUsed(chains[i].head, i);
  assert.equal(drv.harvest().map((x) => x.token), [5, 1, 7]);
  assert.is(drv.numFree, 3);
  for (const i of [0, 2, 3, 4, 6]) dev.pushUsed(chains[i].head, 16);
  assert.equal(drv.harvest().map((x) => x.token), [0, 2, 3, 4, 6]);
  assert.is(drv.numFree, 8);
});

t('batched publish: several adds, one avail.idx write', () => {
  const mem = ram();
  const c = cfg();
  const drv = new DriverQueue<number>(mem, c);
  drv.add([{ base: BUF, len: 1 }], [], 0);
  drv.add([{ base: BUF, len: 1 }], [], 1);
  assert.is(mem.u16(c.avail + 2), 0);
  drv.publish();
  assert.is(mem.u16(c.avail + 2), 2);
});

t('kick and interrupt suppression without EVENT_IDX: the flags', () => {
  const mem = ram();
  const c = cfg();
  const drv = new DriverQueue<number>(mem, c);
  const dev = new DeviceQueue(mem, c);
  assert.not.ok(drv.kickNeeded(), 'nothing published');
  drv.add([{ base: BUF, len: 1 }], [], 0);
  assert.ok(drv.kickNeeded());
  assert.not.ok(drv.kickNeeded(), 'nothing new since the last decision');
  dev.setNotification(false);
  assert.is(mem.u16(c.used), VIRTQ_USED_F_NO_NOTIFY);
  drv.add([{ base: BUF, len: 1 }], [], 1);
  assert.not.ok(drv.kickNeeded());
  drv.add([{ base: BUF, len: 1 }], [], 2);
  assert.ok(dev.setNotification(true), 'chains waiting when notifications come back on');
  assert.ok(drv.kickNeeded());

  const a = dev.pop()!;
  assert.not.ok(dev.needsInterrupt(), 'nothing pushed');
  dev.pushUsed(a.head, 0);
  assert.ok(dev.needsInterrupt());
  drv.disableInterrupts();
  assert.is(mem.u16(c.avail), VIRTQ_AVAIL_F_NO_INTERRUPT);
  dev.pushUsed(dev.pop()!.head, 0);
  assert.not.ok(dev.needsInterrupt());
  assert.ok(drv.enableInterrupts(), 'used entries pending');
  assert.is(mem.u16(c.avail), 0);
  assert.is(drv.harvest().length, 2);
  assert.not.ok(drv.enableInterrupts());
});

t('EVENT_IDX: avail_event and used_event steer kicks and interrupts', () => {
  const mem = ram();
  const c = cfg({ eventIdx: true });
  const drv = new DriverQueue<number>(mem, c);
  const dev = new DeviceQueue(mem, c);
  drv.add([{ base: BUF, len: 1 }], [], 0);
  assert.ok(drv.kickNeeded(), 'avail_event 0: kick for entry 0');
  drv.add([{ base: BUF, len: 1 }], [], 1);
  assert.not.ok(drv.kickNeeded(), 'device has not caught up: no kick');
  const a = dev.pop()!;
  const b = dev.pop()!;
  assert.is(dev.pop(), undefined);
  assert.is(mem.u16(c.used + availEventOffset(8)), 2);
  drv.add([{ base: BUF, len: 1 }], [], 2);
  assert.ok(drv.kickNeeded(), 'device drained: kick');

  dev.pushUsed(a.head, 0);
  assert.ok(dev.needsInterrupt(), 'used_event 0');
  dev.pushUsed(b.head, 0);
  assert.not.ok(dev.needsInterrupt(), 'driver has not harvested: used_event still 0');
  assert.is(drv.harvest().length, 2);
  assert.is(mem.u16(c.avail + usedEventOffset(8)), 2, 'harvest re-arms used_event');
  drv.disableInterrupts();
  dev.pushUsed(dev.pop()!.head, 0);
  assert.ok(dev.needsInterrupt(), 'used_event 2 was still armed');
  assert.is(drv.harvest().length, 1);
  assert.is(mem.u16(c.avail + usedEventOffset(8)), 2, 'disabled: used_event not moved');
});

t('gather and scatter', () => {
  const mem = ram();
  mem.addRegion('slow', 0x20_0000, { size: 0x1000, data: new Uint8Array(0x1000),
    read(o: number, d: Uint8Array) { d.set(this.data.subarray(o, o + d.length)); },
    write(o: number, s: Uint8Array) { this.data.set(s, o); } } as MemoryBacking & { data: Uint8Array });
  mem.write(BUF, Uint8Array.of(1, 2, 3, 4));
  mem.write(0x20_0000, Uint8Array.of(5, 6, 7));
  const iovs = [{ base: BUF, len: 4 }, { base: 0x20_0000, len: 3 }];
  assert.equal(Array.from(gather(mem, iovs)), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(Array.from(gather(mem, iovs, 5)), [1, 2, 3, 4, 5]);
  assert.equal(gather(mem, iovs, 0).length, 0);
  const one = gather(mem, iovs, 3);
  mem.setU8(BUF, 9);
  assert.is(one[0], 9, 'a single-iovec gather is a live view, no copy');

  const out = [{ base: BUF + 16, len: 2 }, { base: 0x20_0010, len: 0 }, { base: 0x20_0020, len: 8 }];
  assert.is(scatter(mem, out, Uint8Array.of(10, 11, 12, 13)), 4);
  assert.equal(Array.from(mem.read(BUF + 16, 2)), [10, 11]);
  assert.equal(Array.from(mem.read(0x20_0020, 3)), [12, 13, 0]);
  assert.is(scatter(mem, out, new Uint8Array(20)), 10, 'short buffers: bytes that fit');
});

t.run();
