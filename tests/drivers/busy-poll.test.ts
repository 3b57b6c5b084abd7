// Bounded busy-polling: a spin stops at the answer or at the bound, and the
// adaptive rule backs off after fruitless spins and turns fully on at a hit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusyPoller, MISS_RUN } from '../../drivers/virtio-fs/busy-poll';

const t = suite('busy-poll');

/** A clock that moves 1 us each time it is read. */
function ticking(): { now: () => number; reads: () => number } {
  let us = 0;
  return { now: () => (us++) / 1000, reads: () => us };
}

t('an answer already there costs one look and is a hit', () => {
  const c = ticking();
  const p = new BusyPoller(30, true, c.now);
  assert.ok(p.poll(() => true));
  assert.equal({ polls: p.stats.polls, hits: p.stats.hits, skipped: p.stats.skipped }, { polls: 1, hits: 1, skipped: 0 });
});

t('a spin ends at the bound, and an answer that comes during it is taken', () => {
  const c = ticking();
  const p = new BusyPoller(30, true, c.now);
  assert.not.ok(p.poll(() => false));
  assert.ok(p.stats.spinUs >= 30 && p.stats.spinUs <= 34, `spun ${p.stats.spinUs} us for a 30 us bound`);
  let looks = 0;
  assert.ok(p.poll(() => ++looks === 5), 'the fifth look finds it');
  assert.is(looks, 5);
});

t(`after ${MISS_RUN} fruitless spins the next 16 kicks skip, then 32; one hit ends the backoff`, () => {
  const p = new BusyPoller(5, true, ticking().now);
  const miss = () => p.poll(() => false);
  for (let i = 0; i < MISS_RUN; i++) miss();
  assert.is(p.stats.polls, MISS_RUN);
  for (let i = 0; i < 16; i++) miss();
  assert.is(p.stats.skipped, 16, 'skipped without a look');
  assert.is(p.stats.polls, MISS_RUN);
  for (let i = 0; i < MISS_RUN; i++) miss();
  for (let i = 0; i < 32; i++) miss();
  assert.is(p.stats.skipped, 48, 'the backoff doubled');
  assert.ok(p.poll(() => true));
  for (let i = 0; i < MISS_RUN - 1; i++) miss();
  assert.is(p.stats.skipped, 48, 'after a hit, misses start from nothing');
  miss();
  for (let i = 0; i < 16; i++) miss();
  assert.is(p.stats.skipped, 64, 'and back off from 16 again');
});

t('not adaptive: every kick spins', () => {
  const p = new BusyPoller(2, false, ticking().now);
  for (let i = 0; i < 50; i++) p.poll(() => false);
  assert.is(p.stats.polls, 50);
  assert.is(p.stats.skipped, 0);
});

t('a bound that is not a positive number is refused', () => {
  for (const b of [0, -1, NaN, Infinity]) assert.throws(() => new BusyPoller(b), /busy-poll bound/);
});

t.run();
