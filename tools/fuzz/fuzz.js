#!/usr/bin/env node
// `npm run fuzz -- [--time SECONDS] [--target NAME] [--seed N]`: a
// coverage-guided fuzzer for the targets in tools/fuzz/targets.ts (wire
// decoder, device-side FUSE request decoder, guest-side reply decoder,
// virtqueue device half). The targets are bundled with esbuild and
// instrumented with edge counters (instrument.js); an input that reaches a
// new (edge, hit-count bucket) joins the corpus, as in libFuzzer and AFL.
// Why not jazzer.js: see docs/SECURITY.md. --time is per target (default
// 10 s); each crash is written to tests/fuzz/crashes/<target>/ (the
// regression test runs every file there) and the exit status is 1.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { instrument, COUNTERS } = require('./instrument');

const root = path.resolve(__dirname, '../..');
const CRASH_DIR = path.join(root, 'tests/fuzz/crashes');
const MAX_LEN = 4096;
const MAX_CORPUS = 2048;

function parseArgs(argv) {
  const o = { time: 10, target: undefined, seed: Date.now() >>> 0, quiet: false, save: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--time') o.time = Number(val());
    else if (a === '--target') o.target = val();
    else if (a === '--seed') o.seed = Number(val()) >>> 0;
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--no-save') o.save = false;
    else if (a === '--help' || a === '-h') { o.help = true; }
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(o.time > 0)) throw new Error('--time: a positive number of seconds');
  return o;
}

/** The targets bundled and instrumented; the counters they bump. */
function loadTargets() {
  const esbuild = require('esbuild');
  const built = esbuild.buildSync({
    entryPoints: [path.join(__dirname, 'targets.ts')], bundle: true, platform: 'node', target: 'node20',
    format: 'cjs', write: false, logLevel: 'warning',
  });
  const { code, counters } = instrument(built.outputFiles[0].text);
  const file = path.join(os.tmpdir(), `virtiofs-fuzz-${process.pid}.js`);
  fs.writeFileSync(file, code);
  const cov = new Uint32Array(counters);
  globalThis[COUNTERS] = cov;
  try {
    return { targets: require(file).TARGETS, cov };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** xorshift32: a seeded run is repeatable. */
function rng(seed) {
  let s = seed || 0x9e3779b9;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  return { next, below: (n) => (n <= 1 ? 0 : next() % n), chance: (p) => next() / 0x100000000 < p };
}

const INTERESTING = [0, 1, 2, 4, 8, 16, 32, 40, 64, 0x7f, 0x80, 0xff, 0x100, 0x1000, 0x7fff, 0x8000, 0xffff,
  0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

function mutate(r, input, corpus, dict) {
  let b = Buffer.from(input);
  const rounds = 1 + r.below(4);
  for (let k = 0; k < rounds; k++) {
    const at = b.length ? r.below(b.length) : 0;
    switch (r.below(11)) {
      case 0: if (b.length) b[at] ^= 1 << r.below(8); break;
      case 1: if (b.length) b[at] = r.below(256); break;
      case 2: if (b.length) b[at] = INTERESTING[r.below(INTERESTING.length)] & 0xff; break;
      case 3: { // a little-endian u16/u32 of interest, or near the input's length
        const w = r.chance(0.5) ? 2 : 4;
        if (b.length < w) break;
        const p = r.below(b.length - w + 1);
        const v = r.chance(0.3) ? b.length - r.below(9) + 4 : INTERESTING[r.below(INTERESTING.length)];
        if (w === 2) b.writeUInt16LE(v & 0xffff, p); else b.writeUInt32LE(v >>> 0, p);
        break;
      }
      case 4: { // insert random bytes
        const n = 1 + r.below(16);
        const ins = Buffer.alloc(n); for (let i = 0; i < n; i++) ins[i] = r.below(256);
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 5: { const n = 1 + r.below(Math.min(32, b.length || 1)); b = Buffer.concat([b.subarray(0, at), b.subarray(at + n)]); break; }
      case 6: { // duplicate a range
        if (!b.length) break;
        const n = 1 + r.below(Math.min(64, b.length - at));
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + n), b.subarray(at)]);
        break;
      }
      case 7: { // splice with another corpus entry
        const o = corpus[r.below(corpus.length)].data;
        const cut = r.below(o.length + 1);
        b = Buffer.concat([b.subarray(0, at), Buffer.from(o.subarray(cut))]);
        break;
      }
      case 8: { // a dictionary word, overwritten or inserted
        const w = Buffer.from(dict[r.below(dict.length)]);
        if (r.chance(0.5) && b.length >= w.length) w.copy(b, r.below(b.length - w.length + 1));
        else b = Buffer.concat([b.subarray(0, at), w, b.subarray(at)]);
        break;
      }
      case 9: b = b.subarray(0, at); break; // truncate
      default: // fix a length prefix: u32 at 0 = the bytes after it, or all of them
        if (b.length >= 4) b.writeUInt32LE(r.chance(0.5) ? b.length : b.length - 4, 0);
    }
  }
  return new Uint8Array(b.subarray(0, MAX_LEN));
}

function bucket(c) {
  return c === 1 ? 0 : c === 2 ? 1 : c === 3 ? 2 : c < 8 ? 3 : c < 16 ? 4 : c < 32 ? 5 : c < 128 ? 6 : 7;
}

/** Runs one input; returns its features (edge*8 + bucket) or the error it threw. */
function exec(target, cov, data) {
  cov.fill(0);
  try {
    target.run(data);
  } catch (e) {
    return { error: e };
  }
  const out = [];
  for (let i = 0; i < cov.length; i++) if (cov[i] !== 0) out.push(i * 8 + bucket(cov[i]));
  return { features: out };
}

function saveCrash(target, data) {
  const dir = path.join(CRASH_DIR, target.name);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `crash-${crypto.createHash('sha1').update(data).digest('hex').slice(0, 12)}.bin`);
  fs.writeFileSync(file, data);
  return file;
}

function fuzzOne(target, cov, o, log) {
  const r = rng(o.seed ^ crypto.createHash('sha1').update(target.name).digest().readUInt32LE(0));
  const seen = new Set();
  const corpus = [];
  const crashes = new Map(); // first stack line -> file
  const consider = (data) => {
    const res = exec(target, cov, data);
    if (res.error) {
      const key = String(res.error && res.error.stack || res.error).split('\n').slice(0, 2).join(' | ');
      if (!crashes.has(key)) {
        const file = o.save ? saveCrash(target, data, res.error) : `(not saved) base64 ${Buffer.from(data).toString('base64')}`;
        crashes.set(key, file);
        log(`${target.name}: CRASH ${key}\n  input: ${file}`);
      }
      return;
    }
    let fresh = 0;
    for (const f of res.features) if (!seen.has(f)) { seen.add(f); fresh++; }
    if (fresh > 0 && corpus.length < MAX_CORPUS) corpus.push({ data, fresh });
  };
  for (const s of target.seeds()) consider(s);
  const regress = path.join(CRASH_DIR, target.name);
  if (fs.existsSync(regress)) for (const f of fs.readdirSync(regress)) consider(new Uint8Array(fs.readFileSync(path.join(regress, f))));
  if (corpus.length === 0) corpus.push({ data: new Uint8Array(0), fresh: 0 });
  const end = Date.now() + o.time * 1000;
  let execs = 0;
  let nextReport = Date.now() + 10_000;
  while (Date.now() < end) {
    for (let i = 0; i < 200; i++) {
      // Recent entries (those that found something last) a little more often.
      const pick = r.chance(0.3) ? corpus[corpus.length - 1 - r.below(Math.min(16, corpus.length))] : corpus[r.below(corpus.length)];
      consider(mutate(r, pick.data, corpus, target.dictionary));
      execs++;
    }
    if (!o.quiet && Date.now() > nextReport) {
      nextReport += 10_000;
      log(`${target.name}: ${execs} execs, ${seen.size} features, corpus ${corpus.length}, ${crashes.size} crashes`);
    }
  }
  return { name: target.name, execs, features: seen.size, corpus: corpus.length, crashes: crashes.size, edges: cov.length };
}

function main() {
  let o;
  try { o = parseArgs(process.argv.slice(2)); } catch (e) { process.stderr.write(`fuzz: ${e.message}\n`); return 2; }
  if (o.help) { process.stdout.write('usage: npm run fuzz -- [--time SECONDS per target] [--target wire|request|reply|vq] [--seed N] [--no-save]\n'); return 0; }
  const { targets, cov } = loadTargets();
  const chosen = o.target ? targets.filter((t) => t.name === o.target) : targets;
  if (chosen.length === 0) { process.stderr.write(`fuzz: no target ${o.target} (${targets.map((t) => t.name).join(', ')})\n`); return 2; }
  const log = (m) => process.stderr.write(`${m}\n`);
  log(`fuzz: seed ${o.seed}, ${o.time} s per target, ${cov.length} edges instrumented`);
  let crashes = 0;
  for (const t of chosen) {
    const s = fuzzOne(t, cov, o, log);
    crashes += s.crashes;
    process.stdout.write(`fuzz ${s.name}: ${s.execs} execs in ${o.time} s, ${s.features} features, corpus ${s.corpus}, ${s.crashes} crashes\n`);
  }
  process.stdout.write(`fuzz: ${crashes} crashes\n`);
  return crashes === 0 ? 0 : 1;
}

process.exitCode = main();
