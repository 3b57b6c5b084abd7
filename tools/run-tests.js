#!/usr/bin/env node
// The project's test command (`npm test`): type-check, then every
// tests/**/*.test.ts under uvu, then one closing line `N passed, N failed`.
// Exits non-zero when the type check or any test fails.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2); // optional: a folder under tests/, then a file pattern
const dir = args[0] || 'tests';
const pattern = args[1] || '\\.test\\.ts$';
const LIMIT_MS = Number(process.env.TEST_TIMEOUT_MS || 40 * 60 * 1000);

let failed = 0;
let passed = 0;

if (!process.env.SKIP_TYPECHECK) {
  process.stdout.write('typecheck: tsc --noEmit\n');
  const tsc = spawnSync(bin('tsc'), ['--noEmit', '-p', root], { cwd: root, stdio: 'inherit' });
  if (tsc.status === 0) { passed += 1; process.stdout.write('typecheck: clean\n'); }
  else { failed += 1; process.stdout.write('typecheck: FAILED\n'); }
}

const env = { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', NO_COLOR: '1' };
delete env.FORCE_COLOR;
const child = spawn(bin('uvu'), ['-r', 'ts-node/register', dir, pattern], {
  cwd: root,
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
const timer = setTimeout(() => {
  process.stdout.write(`\ntests: still running after ${LIMIT_MS / 1000}s; killed\n`);
  child.kill('SIGKILL');
}, LIMIT_MS);
child.on('close', (code, signal) => {
  clearTimeout(timer);
  const num = (label) => {
    const m = out.match(new RegExp(`${label}:\\s+(\\d+)`));
    return m ? Number(m[1]) : undefined;
  };
  const total = num('Total');
  const ok = num('Passed');
  const skipped = num('Skipped') ?? 0;
  if (total === undefined || ok === undefined) {
    failed += 1; // uvu died before its summary: count the run as a failure
    process.stdout.write(`tests: uvu ended without a summary (code ${code}, signal ${signal})\n`);
  } else {
    passed += ok;
    failed += total - ok - skipped;
    if (code !== 0 && total - ok - skipped === 0) failed += 1;
    if (skipped) failed += skipped; // a skipped test hides a failure here
  }
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
});
