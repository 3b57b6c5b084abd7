// Both halves over a backing without a live view (as the /dev/shm RAM file):
// ring fields move in runs, one backing access per run, and the results are
// the same as field by field, across index wrap-around.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GuestMemory, MemoryBacking } from '../../core/memory';
import { DeviceQueue, DriverQueue, QueueConfig } from '../../drivers/virtqueue';
import { RecordingAlloc } from './mock-queue';

const RAM = 0x10_0000;

/** Copying backing that counts its accesses (each would be one pread/pwrite). */
class CountingBacking implements MemoryBacking {
  readonly size = RAM;
  private readonly buf = new Uint8Array(RAM);
  reads = 0;
  writes = 0;
  read(offset: number, dst: Uint8Array): void { this.reads++; dst.set(this.buf.subarray(offset, offset + dst.length)); }
  write(offset: number, src: Uint8Array): void { this.writes++; this.buf.set(src, offset); }
}

function setup(size: number, over: Partial<QueueConfig> = {}) {
  const backing = new CountingBacking();
  const mem = new GuestMemory([{ name: 'ram', base: 0, size: RAM, backing }]);
  const c: QueueConfig = { size, desc: 0x1000, avail: 0x3000, used: 0x4000, eventIdx: true, indirect: true, ...over };
  const drv = new DriverQueue<number>(mem, c, new RecordingAlloc(0x8000, Infinity, true));
  const dev = new DeviceQueue(mem, c);
  return { backing, mem, drv, dev };
}

const t = suite('virtqueue batched ring access');

t('one indirect request: device pop and push, driver add and harvest in few accesses', () => {
  const { backing, drv, dev } = setup(16);
  // Warm up: the first add writes the head descriptor, later ones find it unchanged.
  for (let round = 0; round < 3; round++) {
    backing.writes = 0;
    drv.add([{ base: 0x2_0000, len: 40 }], [{ base: 0x2_1000, len: 4096 }], round);
    // The table, the head descriptor (round 0 only: the table's address
    // repeats), the avail entry.
    assert.is(backing.writes, round === 0 ? 3 : 2, `add writes, round ${round}`);
    backing.reads = 0; backing.writes = 0;
    drv.kickNeeded();
    const addWrites = backing.writes;
    backing.reads = 0; backing.writes = 0;
    const chain = dev.pop()!;
    assert.ok(chain);
    assert.equal(chain.readable, [{ base: 0x2_0000, len: 40 }]);
    assert.equal(chain.writable, [{ base: 0x2_1000, len: 4096 }]);
    // avail.idx, the entry, the head descriptor, the whole indirect table.
    assert.is(backing.reads, 4, `pop reads, round ${round}`);
    assert.ok(addWrites <= 1, 'publish writes avail.idx only');
    backing.reads = 0; backing.writes = 0;
    dev.pushUsed(chain.head, 100);
    assert.is(backing.writes, 2, 'used element in one write, then used.idx');
    backing.reads = 0; backing.writes = 0;
    assert.equal(drv.harvest(), [{ token: round, len: 100 }]);
    assert.is(backing.reads, 2, 'used.idx, then the elements in one read');
  }
});

t('the head descriptor is written once while its contents stay the same', () => {
  const { backing, drv, dev } = setup(8, { indirect: false });
  let descWrites = 0;
  for (let round = 0; round < 4; round++) {
    backing.writes = 0;
    drv.add([{ base: 0x2_0000, len: 16 }], [], round);
    descWrites += backing.writes - 1; // minus the avail ring entry
    drv.kickNeeded();
    const ch = dev.pop()!;
    assert.equal(ch.readable, [{ base: 0x2_0000, len: 16 }]);
    dev.pushUsed(ch.head, 0);
    assert.equal(drv.harvest(), [{ token: round, len: 0 }]);
  }
  assert.is(descWrites, 1);
  // Different contents in the same slot are written.
  drv.add([{ base: 0x2_0100, len: 16 }], [], 9);
  drv.kickNeeded();
  assert.equal(dev.pop()!.readable, [{ base: 0x2_0100, len: 16 }]);
});

t('batches across wrap-around: every chain once, in order, for many rounds', () => {
  const { drv, dev } = setup(4);
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 200; round++) {
    const n = 1 + (round % 4);
    for (let k = 0; k < n; k++) {
      drv.add([{ base: 0x2_0000 + 64 * next, len: 8 }], [{ base: 0x3_0000, len: 8 }, { base: 0x3_1000, len: 8 }], next);
      next++;
    }
    drv.kickNeeded();
    const popped = [];
    for (let c = dev.pop(); c; c = dev.pop()) popped.push(c);
    assert.is(popped.length, n);
    for (const c of popped) {
      assert.is(c.readable[0].base, 0x2_0000 + 64 * (expect + popped.indexOf(c)));
      dev.pushUsed(c.head, 16);
    }
    const done = drv.harvest().map((x) => x.token);
    assert.equal(done, popped.map((_, i) => expect + i));
    expect += n;
    assert.is(drv.numInFlight, 0);
  }
});

t.run();
