// The fuzz targets in CI: every input the fuzzer ever crashed on (kept in
// tests/fuzz/crashes/<target>/) and every seed runs clean, and a bounded
// coverage-guided run (a few seconds per target, fixed seed) finds nothing.
// The long run is on demand: npm run fuzz -- --time 600.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TARGETS } from '../../tools/fuzz/targets';

const t = suite('fuzz');
const root = path.resolve(__dirname, '../..');
const crashes = path.join(__dirname, 'crashes');

t('every target has seeds, and they run clean', () => {
  assert.equal(TARGETS.map((x) => x.name), ['wire', 'request', 'reply', 'vq']);
  for (const target of TARGETS) {
    assert.ok(target.seeds().length > 0, target.name);
    for (const s of target.seeds()) target.run(s);
  }
});

t('every crash found so far is a regression test: it runs clean now', () => {
  let n = 0;
  for (const target of TARGETS) {
    const dir = path.join(crashes, target.name);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).sort()) {
      const data = new Uint8Array(fs.readFileSync(path.join(dir, f)));
      try { target.run(data); } catch (e) { assert.unreachable(`${target.name}/${f}: ${(e as Error).stack}`); }
      n++;
    }
  }
  void n;
});

t('a bounded coverage-guided run (2 s per target, fixed seed): 0 crashes', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'tools/fuzz/fuzz.js'), '--time', '2', '--seed', '20261202', '--quiet', '--no-save'],
    { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  for (const name of ['wire', 'request', 'reply', 'vq']) assert.match(r.stdout, new RegExp(`fuzz ${name}: \\d+ execs in 2 s, \\d+ features, corpus \\d+, 0 crashes`));
  assert.match(r.stdout, /fuzz: 0 crashes/);
});

t.run();
