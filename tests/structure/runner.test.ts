// The test command itself: one file that crashes or fails cannot hide the
// counts of the others, and the closing line adds up what really ran.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const t = suite('tools/run-tests.js');

t('a crashing file counts as one failure; the files around it keep their counts', () => {
  const r = spawnSync(process.execPath, ['tools/run-tests.js', 'tests/structure/runner-fixtures', '\\.fixture\\.ts$'], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, SKIP_TYPECHECK: '1', TEST_JOBS: '2' },
  });
  const last = r.stdout.trim().split('\n').pop();
  // a-pass 2 + c-fail 1 + d-pass 1 passed; b-crash 1 + c-fail 1 failed.
  assert.is(last, '4 passed, 2 failed', r.stdout);
  assert.is(r.status, 1);
  assert.match(r.stdout, /b-crash\.fixture\.ts: ended without a summary \(code 3/);
  for (const f of ['a-pass', 'b-crash', 'c-fail', 'd-pass']) assert.match(r.stdout, new RegExp(`runner-fixtures/${f}\\.fixture\\.ts`));
});

t('a pattern that matches nothing fails instead of passing empty', () => {
  const r = spawnSync(process.execPath, ['tools/run-tests.js', 'tests/structure', 'no-such-file'], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, SKIP_TYPECHECK: '1' },
  });
  assert.is(r.stdout.trim().split('\n').pop(), '0 passed, 1 failed');
  assert.is(r.status, 1);
});

t.run();
