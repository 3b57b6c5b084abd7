import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StampClock } from '../../tools/harness/stamp-clock';

// The harness waits for the clock before each op so that "which times did
// this op change" has one answer. The case that needs it: on tmpfs an
// unlink stamps the directory with the child's new ctime, which is the
// coarse clock — in the tick of the directory's last change, the same value.
const t = suite('harness stamp clock');

const SHM = '/dev/shm';
let dir = '';
let clock: StampClock;
t.before(() => {
  dir = fs.mkdtempSync(path.join(SHM, 'harness-clock-'));
  clock = new StampClock(path.join(dir, '.clock'));
});
t.after(() => { clock.close(); fs.rmSync(dir, { recursive: true, force: true }); });

const st = (p: string) => fs.lstatSync(p, { bigint: true });

t('after past(latest ctime), an unlink right after another change still moves the directory\'s mtime', async () => {
  const d = path.join(dir, 'd');
  fs.mkdirSync(d);
  for (let i = 0; i < 40; i++) {
    fs.writeFileSync(path.join(d, 'c'), '');
    st(path.join(d, 'c'));
    fs.writeFileSync(path.join(d, `x${i}`), ''); // the directory's last change
    const before = st(d);
    const c = st(path.join(d, 'c'));
    await clock.past(before.ctimeNs > c.ctimeNs ? before.ctimeNs : c.ctimeNs);
    fs.unlinkSync(path.join(d, 'c'));
    assert.is.not(st(d).mtimeNs, before.mtimeNs, `round ${i}: the unlink changed the directory's mtime`);
  }
});

t('now() is what a change gets: never earlier than a ctime already stamped; past() returns once it is later', async () => {
  const f = path.join(dir, 'f');
  fs.writeFileSync(f, '1');
  const s = st(f).ctimeNs;
  assert.ok(clock.now() >= s);
  await clock.past(s);
  assert.ok(clock.now() > s);
});

t('its probes are emptied as it goes: the directory never holds more than a batch', () => {
  for (let i = 0; i < 2100; i++) clock.now();
  assert.ok(fs.readdirSync(path.join(dir, '.clock')).length <= 1024);
});

t.run();
