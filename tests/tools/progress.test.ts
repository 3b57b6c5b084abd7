// The one progress printer, on its injected terminal flag and clock: on a
// terminal one line rewritten in place, at most every TTY_INTERVAL_MS; off
// one a plain line at most every interval (the first after one interval);
// line()s always; nothing with --quiet but line()s, nothing at all after
// quiet().
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LOG_INTERVAL_MS, ProgressPrinter, TTY_INTERVAL_MS, filesStatus, type ProgressOptions } from '../../tools/common/progress';

const t = suite('progress printer');
const CLEAR = '\r\x1b[K';

/** A printer over a recording stream and a clock the test moves. */
function rig(opts: ProgressOptions & { columns?: number } = {}) {
  const writes: string[] = [];
  let now = 1_000_000;
  const out = { write: (s: string) => { writes.push(s); }, columns: opts.columns };
  const p = new ProgressPrinter(out, { now: () => now, ...opts });
  return { p, writes, at: (ms: number) => { now = 1_000_000 + ms; } };
}

t('a terminal: the status rewritten in place, at most every TTY_INTERVAL_MS', () => {
  const { p, writes, at } = rig({ tty: true });
  p.update('step 1');
  assert.equal(writes, [`${CLEAR}step 1`], 'the first status at once, no newline');
  at(TTY_INTERVAL_MS - 1);
  p.update('step 2');
  assert.is(writes.length, 1, 'a status within the interval is dropped');
  at(TTY_INTERVAL_MS);
  p.update('step 3');
  assert.equal(writes.slice(1), [`${CLEAR}step 3`], 'the latest, in place of the last');
  p.line('pass 1 done');
  assert.equal(writes.slice(2), [CLEAR, 'pass 1 done\n'], 'a line that stays clears the status first');
  p.clear();
  assert.is(writes.length, 4, 'nothing to clear after a line');
});

t('a terminal: the status cut to the width', () => {
  const { p, writes } = rig({ tty: true, columns: 30 });
  p.update('x'.repeat(100));
  assert.equal(writes, [`${CLEAR}${'x'.repeat(29)}`]);
  const narrow = rig({ tty: true, columns: 5 });
  narrow.p.update('y'.repeat(100));
  assert.equal(narrow.writes, [`${CLEAR}${'y'.repeat(20)}`], 'never narrower than 20');
});

t('off a terminal: a plain line at most every interval, the first after one', () => {
  const { p, writes, at } = rig({ tty: false, intervalMs: 3000 });
  p.update('starting');
  at(2999);
  p.update('1/314 files');
  assert.equal(writes, [], 'a short step prints no status');
  at(3000);
  p.update('2/314 files');
  assert.equal(writes, ['2/314 files\n'], 'the latest status as a line of its own');
  for (let ms = 3000; ms < 6000; ms += 500) { at(ms); p.update(`at ${ms}`); }
  assert.is(writes.length, 1, 'one line per interval, not one per step');
  at(6000);
  p.update('200/314 files');
  p.line('pass 1: 314 files');
  p.clear();
  assert.equal(writes, ['2/314 files\n', '200/314 files\n', 'pass 1: 314 files\n'], 'no terminal codes off a terminal');
});

t('off a terminal: every LOG_INTERVAL_MS by default, or VIRTIOFS_PROGRESS_INTERVAL_MS', () => {
  const saved = process.env.VIRTIOFS_PROGRESS_INTERVAL_MS;
  try {
    delete process.env.VIRTIOFS_PROGRESS_INTERVAL_MS;
    const d = rig({ tty: false });
    d.at(LOG_INTERVAL_MS - 1);
    d.p.update('early');
    d.at(LOG_INTERVAL_MS);
    d.p.update('due');
    assert.equal(d.writes, ['due\n']);
    process.env.VIRTIOFS_PROGRESS_INTERVAL_MS = '0';
    const every = rig({ tty: false });
    every.p.update('a');
    every.p.update('b');
    assert.equal(every.writes, ['a\n', 'b\n'], '0: every status, as the tests of whole programs want');
  } finally {
    if (saved === undefined) delete process.env.VIRTIOFS_PROGRESS_INTERVAL_MS;
    else process.env.VIRTIOFS_PROGRESS_INTERVAL_MS = saved;
  }
});

t('--quiet (enabled: false): no status, on a terminal or off it; line()s still print', () => {
  for (const tty of [true, false]) {
    const { p, writes, at } = rig({ tty, enabled: false, intervalMs: 0 });
    at(60_000);
    p.update('status');
    p.clear();
    p.line('result: OK');
    assert.equal(writes, ['result: OK\n'], `tty ${tty}`);
  }
});

t('quiet(): the status cleared, then nothing at all, line()s included', () => {
  const { p, writes, at } = rig({ tty: true });
  p.update('pass 1: 3/314 files');
  p.quiet();
  at(10_000);
  p.update('pass 1: 4/314 files');
  p.line('pass 1 done');
  p.clear();
  assert.equal(writes, [`${CLEAR}pass 1: 3/314 files`, CLEAR]);
});

t('filesStatus: files, MiB and percent of the bytes', () => {
  assert.is(filesStatus('pass 1', 12, 314, 3 << 20, 15 << 20), 'pass 1: 12/314 files, 3.0/15.0 MiB (20%)');
  assert.is(filesStatus('empty', 0, 0, 0, 0), 'empty: 0/0 files, 0.0/0.0 MiB (100%)');
});

t.run();
