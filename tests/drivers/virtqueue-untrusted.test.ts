// The split virtqueue with an untrusted other half: chains a hostile driver
// builds for the device, used entries a hostile device writes for the driver.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GuestMemory, MemoryBacking } from '../../core/memory';
import {
  DeviceQueue, DriverQueue, QueueConfig, VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VirtqueueError, VirtqueueErrorKind,
} from '../../drivers/virtqueue';
import { BUF, DESC, RAM, TABLES, cfg, kindOf, ram, ring, RecordingAlloc } from './mock-queue';

const t = suite('virtqueue untrusted');

t('device: chain validation errors, each with its kind', () => {
  const cases: [string, Partial<QueueConfig>, (m: GuestMemory) => number, VirtqueueErrorKind][] = [
    ['head >= size', {}, () => 8, 'head-index'],
    ['next >= size', {}, (m) => { ring(m).desc(0, BUF, 4, VIRTQ_DESC_F_NEXT, 8); return 0; }, 'next-index'],
    ['loop', {}, (m) => {
      ring(m).desc(0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
      ring(m).desc(1, BUF, 4, VIRTQ_DESC_F_NEXT, 0);
      return 0;
    }, 'chain-too-long'],
    ['self loop', {}, (m) => { ring(m).desc(3, BUF, 4, VIRTQ_DESC_F_NEXT, 3); return 3; }, 'chain-too-long'],
    ['readable after writable', {}, (m) => {
      ring(m).desc(0, BUF, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
      ring(m).desc(1, BUF, 4, 0, 0);
      return 0;
    }, 'readable-after-writable'],
    ['buffer outside memory', {}, (m) => { ring(m).desc(0, RAM - 2, 4, 0, 0); return 0; }, 'address'],
    ['address above 2^53', {}, (m) => { ring(m).desc(0, 0, 4, 0, 0); m.setU32(DESC + 4, 0xffffffff); return 0; }, 'address'],
    ['total over u32', {}, (m) => {
      // Two 3 GiB descriptors in a region that is big enough: only the sum is wrong.
      ring(m).desc(0, 0x1_0000_0000, 0xc000_0000, VIRTQ_DESC_F_NEXT, 1);
      ring(m).desc(1, 0x1_0000_0000, 0xc000_0000, 0, 0);
      return 0;
    }, 'total-len'],
    ['indirect not negotiated', {}, (m) => { ring(m).desc(0, TABLES, 32, VIRTQ_DESC_F_INDIRECT, 0); return 0; }, 'indirect-not-negotiated'],
    ['indirect len not a multiple of 16', { indirect: true }, (m) => { ring(m).desc(0, TABLES, 24, VIRTQ_DESC_F_INDIRECT, 0); return 0; }, 'indirect-len'],
    ['indirect len 0', { indirect: true }, (m) => { ring(m).desc(0, TABLES, 0, VIRTQ_DESC_F_INDIRECT, 0); return 0; }, 'indirect-len'],
    ['indirect over 65535 entries', { indirect: true }, (m) => { ring(m).desc(0, 0, 16 * 65536, VIRTQ_DESC_F_INDIRECT, 0); return 0; }, 'indirect-len'],
    ['indirect table outside memory', { indirect: true }, (m) => { ring(m).desc(0, RAM - 16, 32, VIRTQ_DESC_F_INDIRECT, 0); return 0; }, 'address'],
    ['indirect with next', { indirect: true }, (m) => {
      ring(m).desc(0, TABLES, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
      return 0;
    }, 'indirect-with-next'],
    ['nested indirect', { indirect: true }, (m) => {
      ring(m).desc(0, TABLES, 32, VIRTQ_DESC_F_INDIRECT, 0);
      ring(m).desc(0, BUF, 4, VIRTQ_DESC_F_NEXT, 1, TABLES);
      ring(m).desc(1, TABLES + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0, TABLES);
      return 0;
    }, 'nested-indirect'],
    ['next beyond the indirect table', { indirect: true }, (m) => {
      ring(m).desc(0, TABLES, 32, VIRTQ_DESC_F_INDIRECT, 0);
      ring(m).desc(0, BUF, 4, VIRTQ_DESC_F_NEXT, 2, TABLES);
      return 0;
    }, 'next-index'],
    ['loop inside the indirect table', { indirect: true }, (m) => {
      ring(m).desc(0, TABLES, 32, VIRTQ_DESC_F_INDIRECT, 0);
      ring(m).desc(0, BUF, 4, VIRTQ_DESC_F_NEXT, 1, TABLES);
      ring(m).desc(1, BUF, 4, VIRTQ_DESC_F_NEXT, 0, TABLES);
      return 0;
    }, 'chain-too-long'],
    ['buffer in the indirect table outside memory', { indirect: true }, (m) => {
      ring(m).desc(0, TABLES, 16, VIRTQ_DESC_F_INDIRECT, 0);
      ring(m).desc(0, RAM, 1, 0, 0, TABLES);
      return 0;
    }, 'address'],
  ];
  for (const [name, over, setup, kind] of cases) {
    const mem = ram();
    mem.addRegion('high', 0x1_0000_0000, { size: 0x1_8000_0000, read() {}, write() {} } as MemoryBacking);
    const c = cfg(over);
    const dev = new DeviceQueue(mem, c);
    const head = setup(mem);
    ring(mem, c).offer([head], 0);
    let err: unknown;
    try { dev.pop(); } catch (e) { err = e; }
    assert.instance(err, VirtqueueError, name);
    assert.is((err as VirtqueueError).kind, kind, name);
    assert.is((err as VirtqueueError).head, head, name);
    // The bad entry was consumed: the next pop returns promptly with nothing.
    assert.is(dev.pop(), undefined, name);
  }
});

t('device: a chain of exactly size descriptors and a skipped bad head', () => {
  const mem = ram();
  const c = cfg({ size: 4 });
  const dev = new DeviceQueue(mem, c);
  for (let i = 0; i < 4; i++) ring(mem).desc(i, BUF + i, 1, i < 3 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
  ring(mem, c).offer([9, 0], 0);
  assert.is(kindOf(() => dev.pop()), 'head-index');
  const ch = dev.pop()!;
  assert.is(ch.readable.length, 4);
  assert.is(ch.readableLen, 4);
  // A zero-length descriptor is fine (rust-vmm accepts it).
  ring(mem).desc(0, BUF, 0, VIRTQ_DESC_F_WRITE, 0);
  ring(mem, c).offer([0], 2);
  assert.equal(dev.pop()!.writable, [{ base: BUF, len: 0 }]);
});

t('device: avail.idx too far ahead is an error every time, never a loop', () => {
  const mem = ram();
  const c = cfg();
  const dev = new DeviceQueue(mem, c);
  ring(mem, c).setAvailIdx(9);
  assert.is(kindOf(() => dev.pop()), 'avail-idx');
  assert.is(kindOf(() => dev.pop()), 'avail-idx');
  ring(mem, c).setAvailIdx(0xffff); // "behind" is also far ahead modulo 2^16
  assert.is(kindOf(() => dev.pop()), 'avail-idx');
  ring(mem).desc(0, BUF, 1, 0, 0);
  ring(mem, c).offer(new Array(8).fill(0), 0);
  for (let i = 0; i < 8; i++) assert.ok(dev.pop());
  assert.is(dev.pop(), undefined);
});

t('device: pushUsed rejects a head out of range', () => {
  const dev = new DeviceQueue(ram(), cfg());
  assert.is(kindOf(() => dev.pushUsed(8, 0)), 'head-index');
  assert.is(kindOf(() => dev.pushUsed(0, 2 ** 32)), 'used-len');
});

t('device: resumes from a saved state', () => {
  const mem = ram();
  const c = cfg();
  ring(mem).desc(2, BUF, 1, 0, 0);
  ring(mem, c).offer([2], 0xfffe);
  const dev = new DeviceQueue(mem, c, { nextAvail: 0xfffe, nextUsed: 0xfff0 });
  assert.is(dev.pop()!.head, 2);
  dev.pushUsed(2, 0);
  assert.equal(dev.state, { nextAvail: 0xffff, nextUsed: 0xfff1 });
  assert.is(mem.u16(c.used + 2), 0xfff1);
});

t('driver: untrusted used entries are typed errors, no double free', () => {
  const mem = ram();
  const c = cfg();
  const alloc = new RecordingAlloc(TABLES);
  const drv = new DriverQueue<string>(mem, c, alloc);
  const dev = new DeviceQueue(mem, c);
  drv.add([{ base: BUF, len: 4 }], [{ base: BUF + 64, len: 10 }], 'a');
  drv.add([], [{ base: BUF + 128, len: 10 }], 'b');
  drv.publish();
  const a = dev.pop()!;
  const b = dev.pop()!;
  dev.pushUsed(a.head, 10);
  dev.pushUsed(7, 0);        // never added
  dev.pushUsed(a.head, 10);  // completed twice
  dev.pushUsed(b.head, 11);  // more than it can have written
  assert.equal(drv.harvest(), [{ token: 'a', len: 10 }], 'good entries before a bad one come first');
  assert.is(kindOf(() => drv.harvest()), 'used-id');
  assert.is(kindOf(() => drv.harvest()), 'used-id');
  let err: VirtqueueError | undefined;
  try { drv.harvest(); } catch (e) { err = e as VirtqueueError; }
  assert.is(err?.kind, 'used-len');
  assert.is(err?.token, 'b', 'the chain is freed and its token handed back');
  assert.equal(drv.harvest(), []);
  assert.is(drv.numFree, 8);
  assert.is(drv.numInFlight, 0);
  // An id out of range.
  const hand = ring(mem, c);
  hand.usedElem(4, 1000, 0);
  hand.setUsedIdx(5);
  assert.is(kindOf(() => drv.harvest()), 'used-id');
  // used.idx far ahead: the device is broken, nothing consumed.
  hand.setUsedIdx(5 + 9);
  assert.is(kindOf(() => drv.harvest()), 'used-idx');
  assert.is(kindOf(() => drv.harvest()), 'used-idx');
  assert.is(drv.numFree, 8);
});

t('driver: detachAll returns every token in flight and frees the tables', () => {
  const mem = ram();
  const alloc = new RecordingAlloc(TABLES);
  const drv = new DriverQueue<number>(mem, cfg({ indirect: true }), alloc);
  drv.add([{ base: BUF, len: 1 }], [{ base: BUF, len: 1 }], 1);
  drv.add([{ base: BUF, len: 1 }], [], 2);
  assert.equal(drv.detachAll().sort(), [1, 2]);
  assert.is(alloc.live.size, 0);
  assert.is(drv.numFree, 8);
});

t.run();
