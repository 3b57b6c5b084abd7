#!/usr/bin/env node
// The project's test command (`npm test`): type-check, then every
// tests/**/*.test.ts under uvu, each file in a process of its own (so one
// file that crashes or hangs cannot hide the counts of the others), then one
// closing line `N passed, N failed`. Exits non-zero when the type check or
// any test fails.
//
//   node tools/run-tests.js [DIR [PATTERN]]   a folder under tests/, a file pattern
//   TEST_JOBS=N      files run at once (default 2: these machines have 2 CPUs)
//   TEST_FILE_TIMEOUT_MS, TEST_TIMEOUT_MS      per file (10 min), whole run (60 min)
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);
const dir = path.resolve(root, args[0] || 'tests');
const pattern = new RegExp(args[1] || '\\.test\\.ts$');
const JOBS = Math.max(1, Number(process.env.TEST_JOBS || 2));
const FILE_LIMIT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS || 10 * 60 * 1000);
const LIMIT_MS = Number(process.env.TEST_TIMEOUT_MS || 60 * 60 * 1000);

let failed = 0;
let passed = 0;

if (!process.env.SKIP_TYPECHECK) {
  process.stdout.write('typecheck: tsc --noEmit\n');
  const tsc = spawnSync(bin('tsc'), ['--noEmit', '-p', root], { cwd: root, stdio: 'inherit' });
  if (tsc.status === 0) { passed += 1; process.stdout.write('typecheck: clean\n'); }
  else { failed += 1; process.stdout.write('typecheck: FAILED\n'); }
}

/** Every test file under d whose path (relative to dir) matches. */
function testFiles(d) {
  const out = [];
  const walk = (p) => {
    const st = fs.statSync(p);
    if (st.isFile()) { if (pattern.test(path.relative(dir, p) || path.basename(p))) out.push(p); return; }
    for (const e of fs.readdirSync(p, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name === 'node_modules') continue;
      const q = path.join(p, e.name);
      if (e.isDirectory()) walk(q);
      else if (e.isFile() && e.name.endsWith('.ts') && pattern.test(path.relative(dir, q))) out.push(q);
    }
  };
  walk(d);
  return out;
}

// Each file runs in a process group of its own: when the runner is stopped
// (Ctrl-C, a timeout's SIGTERM), every group still running goes with it.
const live = new Set();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    for (const pid of live) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
    process.stdout.write(`\ntests: stopped by ${sig}\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

const env = { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', NO_COLOR: '1' };
delete env.FORCE_COLOR;

/** Runs one file under uvu; resolves with its counts, read from uvu's summary. */
function runFile(file) {
  return new Promise((resolve) => {
    const rel = path.relative(root, file);
    const child = spawn(bin('uvu'), ['-r', 'ts-node/register', path.dirname(file), `^${escape(path.basename(file))}$`], {
      cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    live.add(child.pid);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
    }, FILE_LIMIT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child.pid);
      const num = (label) => {
        const m = out.match(new RegExp(`${label}:\\s+(\\d+)`));
        return m ? Number(m[1]) : undefined;
      };
      const total = num('Total');
      const ok = num('Passed');
      let p = 0;
      let f = 0;
      let note = '';
      if (total === undefined || ok === undefined) {
        f = 1; // the file died before its summary: count it as a failure
        note = timedOut ? `${rel}: still running after ${FILE_LIMIT_MS / 1000}s; killed\n`
          : `${rel}: ended without a summary (code ${code}, signal ${signal})\n`;
      } else {
        p = ok;
        f = total - ok; // a skipped test counts as failed: it hides a failure here
        if (code !== 0 && f === 0) { f = 1; note = `${rel}: exit code ${code} after its summary\n`; }
      }
      resolve({ rel, out, note, passed: p, failed: f });
    });
  });
}

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function main() {
  const files = testFiles(dir);
  if (files.length === 0) {
    process.stdout.write(`tests: no file under ${path.relative(root, dir) || '.'} matches ${pattern}\n`);
    failed += 1;
  }
  const overall = setTimeout(() => {
    process.stdout.write(`\ntests: still running after ${LIMIT_MS / 1000}s\n\n${passed} passed, ${failed + 1} failed\n`);
    process.exit(1);
  }, LIMIT_MS);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const r = await runFile(files[next++]);
      // Each file's output in one piece, as it finishes.
      process.stdout.write(`\n${r.rel}\n${r.out.replace(/\n*$/, '\n')}${r.note}`);
      passed += r.passed;
      failed += r.failed;
    }
  };
  await Promise.all(Array.from({ length: Math.min(JOBS, files.length) }, worker));
  clearTimeout(overall);
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
