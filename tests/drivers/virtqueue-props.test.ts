import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { BufferBacking, GuestMemory } from '../../core/memory';
import {
  Chain, DeviceQueue, DriverQueue, Iovec, QueueConfig, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
  availEventOffset, usedEventOffset, virtqLayout,
} from '../../drivers/virtqueue';
import { RecordingAlloc } from './mock-queue';

const RAM = 0x40_0000;
const RINGS = 0x1000;
const TABLES = 0x10_0000;
const BUF = 0x20_0000;

function setup(size: number, eventIdx: boolean, indirect: boolean) {
  const mem = new GuestMemory([{ name: 'ram', base: 0, size: RAM, backing: new BufferBacking(RAM) }]);
  const l = virtqLayout(size);
  const c: QueueConfig = {
    size, eventIdx, indirect,
    desc: RINGS + l.descOffset, avail: RINGS + l.availOffset, used: RINGS + l.usedOffset,
  };
  const alloc = new RecordingAlloc(TABLES, BUF);
  return { mem, c, alloc, drv: new DriverQueue<number>(mem, c, alloc), dev: new DeviceQueue(mem, c) };
}

/** Descriptor slots of the main table a chain occupies, read back from memory. */
function slots(mem: GuestMemory, c: QueueConfig, head: number): number[] {
  const out = [head];
  let i = head;
  for (;;) {
    const flags = mem.u16(c.desc + 16 * i + 12);
    if (flags & VIRTQ_DESC_F_INDIRECT || !(flags & VIRTQ_DESC_F_NEXT)) return out;
    i = mem.u16(c.desc + 16 * i + 14);
    out.push(i);
  }
}

const iovec = fc.tuple(fc.integer({ min: BUF, max: RAM - 0x1000 }), fc.integer({ min: 0, max: 0x1000 }))
  .map(([base, len]): Iovec => ({ base, len }));
const chainArb = fc.record({
  readable: fc.array(iovec, { maxLength: 5 }),
  writable: fc.array(iovec, { maxLength: 5 }),
}).filter((x) => x.readable.length + x.writable.length > 0);
const sizeArb = fc.constantFrom(1, 2, 4, 8, 16);

const t = suite('virtqueue properties');

t('chains added by the driver are popped identically by the device', () => {
  fc.assert(fc.property(sizeArb, fc.boolean(), fc.array(chainArb, { minLength: 1, maxLength: 40, size: 'max' }), (size, indirect, chains) => {
    const { drv, dev, alloc } = setup(size, false, indirect);
    const fits = chains.filter((x) => x.readable.length + x.writable.length <= size);
    let k = 0;
    while (k < fits.length) {
      const added: { head: number; token: number; r: Iovec[]; w: Iovec[] }[] = [];
      for (; k < fits.length; k++) {
        const { readable, writable } = fits[k];
        if (drv.numFree === 0 || (!indirect && drv.numFree < readable.length + writable.length)) break;
        added.push({ head: drv.add(readable, writable, k), token: k, r: readable, w: writable });
      }
      assert.ok(added.length > 0, 'an empty queue takes any chain that fits');
      drv.publish();
      for (const a of added) {
        const ch = dev.pop()!;
        assert.is(ch.head, a.head);
        assert.equal(ch.readable, a.r);
        assert.equal(ch.writable, a.w);
        assert.is(ch.readableLen, a.r.reduce((s, v) => s + v.len, 0));
        assert.is(ch.writableLen, a.w.reduce((s, v) => s + v.len, 0));
        dev.pushUsed(ch.head, ch.writableLen);
      }
      assert.is(dev.pop(), undefined);
      assert.equal(drv.harvest(), added.map((a) => ({ token: a.token, len: a.w.reduce((s, v) => s + v.len, 0) })));
      assert.is(drv.numFree, size);
    }
    assert.is(alloc.live.size, 0);
  }), { numRuns: 200 });
});

type Op =
  | { op: 'add'; chain: { readable: Iovec[]; writable: Iovec[] } }
  | { op: 'publish' }
  | { op: 'pop' }
  | { op: 'complete'; pick: number; frac: number }
  | { op: 'harvest' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: chainArb.map((chain) => ({ op: 'add' as const, chain })) },
  { weight: 1, arbitrary: fc.constant({ op: 'publish' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'pop' as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('complete' as const), pick: fc.nat(), frac: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'harvest' as const }) },
);

t('out-of-order completion frees exactly the right descriptors', () => {
  fc.assert(fc.property(sizeArb, fc.boolean(), fc.array(opArb, { minLength: 10, maxLength: 150, size: 'max' }), (size, indirect, ops) => {
    const { mem, c, drv, dev, alloc } = setup(size, false, indirect);
    let nextToken = 0;
    const added = new Map<number, number>(); // token -> descriptors held
    const popped: { chain: Chain; slots: number[]; token: number }[] = [];
    const expectLen = new Map<number, number>(); // token -> completed len
    const returned = new Set<number>();
    const tokenOfHead = new Map<number, number>();
    const held = () => popped.reduce((s, p) => s + p.slots.length, 0);

    const harvest = () => {
      for (const { token, len } of drv.harvest()) {
        assert.not.ok(returned.has(token), 'a token comes back once');
        assert.is(len, expectLen.get(token));
        returned.add(token);
        added.delete(token);
      }
    };
    for (const o of ops) {
      if (o.op === 'add') {
        const n = o.chain.readable.length + o.chain.writable.length;
        if (n > size) continue;
        const free = drv.numFree;
        let head: number;
        try { head = drv.add(o.chain.readable, o.chain.writable, nextToken); } catch (e) {
          assert.is((e as { kind?: string }).kind, 'no-room');
          assert.ok(free === 0 || (!indirect && free < n) || (indirect && n === 1 && free === 0));
          continue;
        }
        const used = slots(mem, c, head);
        assert.is(free - drv.numFree, used.length, 'free count drops by the descriptors the chain holds');
        tokenOfHead.set(head, nextToken);
        added.set(nextToken++, used.length);
      } else if (o.op === 'publish') {
        drv.publish();
      } else if (o.op === 'pop') {
        const ch = dev.pop();
        if (!ch) continue;
        const s = slots(mem, c, ch.head);
        for (const p of popped) for (const d of s) assert.not.ok(p.slots.includes(d), `descriptor ${d} reused while in flight`);
        popped.push({ chain: ch, slots: s, token: tokenOfHead.get(ch.head)! });
      } else if (o.op === 'complete') {
        if (popped.length === 0) continue;
        const [p] = popped.splice(o.pick % popped.length, 1);
        // The chain in memory is still what was popped: nothing overwrote it.
        assert.equal(slots(mem, c, p.chain.head), p.slots);
        const len = Math.floor(o.frac * p.chain.writableLen);
        expectLen.set(p.token, len);
        dev.pushUsed(p.chain.head, len);
      } else {
        harvest();
      }
      const outstanding = [...added.values()].reduce((s, x) => s + x, 0);
      assert.is(drv.numFree + outstanding, size, 'free + held = size');
      assert.is(drv.numInFlight, added.size);
      assert.ok(held() <= outstanding);
    }
    // Finish: device takes and completes everything, in reverse order.
    drv.publish();
    for (let ch = dev.pop(); ch; ch = dev.pop()) popped.push({ chain: ch, slots: slots(mem, c, ch.head), token: tokenOfHead.get(ch.head)! });
    for (const p of popped.reverse()) { expectLen.set(p.token, p.chain.writableLen); dev.pushUsed(p.chain.head, p.chain.writableLen); }
    harvest();
    assert.is(drv.numFree, size);
    assert.is(drv.numInFlight, 0);
    assert.is(returned.size, nextToken, 'every token back once');
    assert.is(alloc.live.size, 0, 'every indirect table freed');
  }), { numRuns: 200 });
});

/** vring_need_event written as "event lies in [old, new) modulo 2^16". */
function refNeedEvent(event: number, newIdx: number, oldIdx: number): boolean {
  const dist = (a: number, b: number) => (((a - b) % 65536) + 65536) % 65536;
  return dist(event, oldIdx) < dist(newIdx, oldIdx);
}

/**
 * Drive both halves with EVENT_IDX through `steps` random operations and
 * check every kick and interrupt decision against the reference, plus the
 * liveness rules: a device that drained its ring is always kicked for the
 * next chain, a driver that harvested everything is always interrupted for
 * the next used entry.
 */
function eventIdxRun(size: number, next: () => number, steps: number): number {
  const { mem, c, drv, dev } = setup(size, true, false);
  let published = 0;    // avail.idx as the test tracks it
  let kickOld = 0;
  let used = 0;         // used.idx as the test tracks it
  let signalled = 0;
  let deviceDrained = true;  // the device saw avail empty since the last kick
  let driverCaughtUp = true; // the driver harvested everything, interrupts on
  let pendingAdds = 0;
  let adds = 0;
  const inDevice: number[] = [];
  let kicks = 0;
  let irqs = 0;
  const availEvent = () => mem.u16(c.used + availEventOffset(size));
  const usedEvent = () => mem.u16(c.avail + usedEventOffset(size));

  for (let s = 0; s < steps; s++) {
    const r = next() % 8;
    if (r <= 1) {
      for (let m = 1 + (next() % 3); m > 0 && drv.numFree > 0; m--) {
        drv.add([], [{ base: BUF, len: 1 }], s);
        pendingAdds++;
        adds++;
      }
      if (r === 1 || drv.numFree === 0) {
        const event = availEvent();
        const newIdx = (published + pendingAdds) & 0xffff;
        const expect = newIdx !== kickOld && refNeedEvent(event, newIdx, kickOld);
        const got = drv.kickNeeded();
        // (messages built only on failure: this loop runs 10^5 times)
        if (got !== expect) assert.is(got, expect, `kick at step ${s}`);
        if (newIdx !== kickOld && deviceDrained && !got) assert.unreachable(`lost wakeup for the device at step ${s}`);
        if (got) { kicks++; deviceDrained = false; }
        published = newIdx;
        kickOld = newIdx;
        pendingAdds = 0;
      }
    } else if (r === 2 || r === 3) {
      let ch = dev.pop();
      for (let m = next() % 3; ch && m > 0; m--) { inDevice.push(ch.head); ch = dev.pop(); }
      if (ch) inDevice.push(ch.head);
      else {
        deviceDrained = true;
        if (availEvent() !== published) assert.is(availEvent(), published, 'avail_event follows what was popped');
      }
    } else if (r === 4 || r === 5) {
      // Complete one or more chains, in a random order.
      for (let m = 1 + (next() % 3); m > 0 && inDevice.length > 0; m--) {
        const k = next() % inDevice.length;
        dev.pushUsed(inDevice.splice(k, 1)[0], 1);
        used = (used + 1) & 0xffff;
      }
      const event = usedEvent();
      const expect = used !== signalled && refNeedEvent(event, used, signalled);
      const got = dev.needsInterrupt();
      if (got !== expect) assert.is(got, expect, `interrupt at step ${s}`);
      if (used !== signalled && driverCaughtUp && !got) assert.unreachable(`lost interrupt at step ${s}`);
      if (got) { irqs++; driverCaughtUp = false; }
      signalled = used;
    } else {
      drv.harvest();
      driverCaughtUp = true;
      if (usedEvent() !== used) assert.is(usedEvent(), used, 'used_event re-armed at the last harvested entry');
    }
  }
  assert.ok(kicks > 0 && irqs > 0);
  return adds;
}

t('EVENT_IDX decisions match vring_need_event (random runs)', () => {
  fc.assert(fc.property(fc.constantFrom(1, 2, 4, 8), fc.array(fc.nat(), { minLength: 50, maxLength: 400, size: 'max' }), (size, choices) => {
    let i = 0;
    eventIdxRun(size, () => choices[i++ % choices.length] + i, 400);
  }), { numRuns: 100 });
});

t('EVENT_IDX decisions across 16-bit index wraparound (over 65536 chains, size 4)', () => {
  let x = 0x2545f491;
  const lcg = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x >>> 8; };
  const adds = eventIdxRun(4, lcg, 450_000);
  assert.ok(adds > 65_536, `avail and used indices wrapped (${adds} chains)`);
});

t.run();
