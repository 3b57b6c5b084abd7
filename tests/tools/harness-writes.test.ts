import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostAgents } from '../../tools/harness/host-ops';
import { parseHarnessArgs, HarnessUsageError } from '../../tools/harness/main';
import {
  byteSum, expectedOf, formatOp, parseOp, pattern, rng, ROOT, withPaths, type Op,
} from '../../tools/harness/ops';
import { nextOp } from '../../tools/harness/random';
import { OP_PL, replayScript, splitScript } from '../../tools/harness/replay';
import { buildReport, formatTable } from '../../tools/harness/report';
import { shrink } from '../../tools/harness/shrink';
import { compareTimeChanges, compareTrees, HashCache, snapshot, timeChanges } from '../../tools/harness/snapshot';
import { SCENARIOS, scenarioOps } from '../../tools/harness/write-checks';

// The write side's pure parts and its host reference: op syntax, the
// replay script against the node:fs reference, tree and time rules,
// shrinking, the random generator, arguments and the table.
const t = suite('harness writes: ops, replay, trees, times, shrinking, generator');

let dir = '';
t.before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harness-writes-')); fs.chmodSync(dir, 0o755); });
t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

t('ops: every kind formats and parses back; callers, umasks, odd names and comments', () => {
  const ops: Op[] = [
    { op: 'mkdir', path: 'd', mode: 0o2775 }, { op: 'rmdir', path: 'd/.' },
    { op: 'create', path: "it's here", mode: 0o600, how: 'excl' }, { op: 'create', path: 'x', mode: 0, how: 'trunc' },
    { op: 'write', path: 'f', off: 2097150, len: 10, seed: 3 }, { op: 'truncate', path: 'f', len: 0 },
    { op: 'read', path: 'f', off: 0, len: 4096 }, { op: 'unlink', path: 'a b' }, { op: 'link', from: 'a', to: '@x/b' },
    { op: 'symlink', target: '', path: 'e' }, { op: 'rename', from: 'a', to: 'b', flag: 'exchange' },
    { op: 'rename', from: 'a', to: 'b' }, { op: 'chmod', path: 'f', mode: 0o4755 }, { op: 'chown', path: 'f', uid: -1, gid: 1000 },
    { op: 'stat', path: 'l/x', as: { uid: 1000, gid: 1000, umask: 0o077 } },
    { op: 'mkdir', path: 'd', mode: 0o755, as: { uid: 0, gid: 0, umask: 0 } },
  ];
  for (const o of ops) assert.equal(parseOp(formatOp(o)), o, formatOp(o));
  assert.is(formatOp(ops[14]!), 'op -u 1000:1000 -m 0077 stat l/x');
  assert.is(formatOp(ops[2]!), `op create 'it'\\''s here' 0600 excl`);
  assert.is(expectedOf('mkdir d 0755   # EEXIST'), 'EEXIST');
  assert.equal(parseOp('mkdir d 0755   # EEXIST'), { op: 'mkdir', path: 'd', mode: 0o755 });
  for (const bad of ['mkdir d', 'create f 0644 maybe', 'rename a b sideways', 'chmod f 9', 'op -u x stat f', 'fly away']) {
    assert.throws(() => parseOp(bad), undefined, bad);
  }
});

t('write pattern and read sum: deterministic, position-sensitive', () => {
  assert.ok(pattern(7, 5000).equals(pattern(7, 5000)));
  assert.not.ok(pattern(7, 5000).equals(pattern(8, 5000)));
  // Not repeating within a page: a write landing a page off shows.
  assert.not.ok(pattern(1, 8192).subarray(0, 4096).equals(pattern(1, 8192).subarray(4096)));
  assert.is.not(byteSum(new Uint8Array([1, 2])), byteSum(new Uint8Array([2, 1])));
  assert.is(byteSum(new Uint8Array(0)), '00000000');
  const r1 = rng(42); const r2 = rng(42);
  assert.equal(Array.from({ length: 5 }, r1), Array.from({ length: 5 }, r2));
});

t('the replay script gives the host reference\'s results, line by line, and the same tree', async () => {
  assert.not.ok(OP_PL.includes("'"), 'OP_PL sits in a single-quoted shell variable');
  const names = ['create, write, truncate, read', 'EACCES and EPERM as a non-root caller', 'renameat2: RENAME_NOREPLACE and RENAME_EXCHANGE',
    'errno order: search permission first (a non-root caller)', 'modes and ownership', 'ENOTDIR'];
  const ops = names.flatMap((n) => scenarioOps(SCENARIOS.find((s) => s.name === n)!.text).ops);
  ops.push(parseOp('mkdir q 0755'), parseOp('-u 1000:1000 unlink q'), parseOp('unlink q'), parseOp('create @x/f 0644 excl'), parseOp('rename @x/f f'));
  const a = path.join(dir, 'agents'); const b = path.join(dir, 'script');
  const xa = fs.mkdtempSync('/dev/shm/harness-writes-xa-'); const xb = fs.mkdtempSync('/dev/shm/harness-writes-xb-');
  for (const d of [a, b]) fs.mkdirSync(d, { mode: 0o755 });
  for (const d of [a, b, xa, xb]) fs.chmodSync(d, 0o755);
  const agents = new HostAgents();
  try {
    const host: string[] = [];
    for (const o of ops) {
      host.push(await agents.run(withPaths(o, (p) => (p.startsWith('@x') ? `${xa}/${p.slice(3)}` : `${a}/${p}`)), o.as ?? ROOT));
    }
    const script = replayScript([{ title: 'all', lines: ops.map((op) => ({ op })) }], ['test']);
    fs.writeFileSync(path.join(dir, 'repro.sh'), script);
    fs.mkdirSync(path.join(xb, 'r1'), { mode: 0o755 });
    fs.chmodSync(path.join(xb, 'r1'), 0o755);
    const out = execFileSync('bash', [path.join(dir, 'repro.sh')], { cwd: b, encoding: 'utf8', env: { ...process.env, X: xb } });
    const got = out.trim().split('\n').map((l) => l.split(' => ')[1]);
    assert.equal(got, host);
    const cache = new HashCache();
    assert.equal(compareTrees(snapshot(a, cache), snapshot(path.join(b, 'r1'), cache)), []);
    assert.ok(host.includes('EACCES') && host.includes('EPERM') && host.includes('EXDEV'), 'the sequence is about errors too');
  } finally {
    await agents.close();
    for (const d of [xa, xb]) fs.rmSync(d, { recursive: true, force: true });
  }
});

t('trees: every field, hard links and a missing name are told; times by inode and birth', () => {
  const r = path.join(dir, 'tr'); const s = path.join(dir, 'ts');
  for (const d of [r, s]) {
    fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(d, 'f'), 'abc');
    fs.symlinkSync('f', path.join(d, 'l'));
  }
  const cache = new HashCache();
  const before = snapshot(s, cache);
  assert.equal(compareTrees(snapshot(r, cache), before), []);
  fs.chmodSync(path.join(s, 'f'), 0o600);
  fs.linkSync(path.join(s, 'f'), path.join(s, 'sub/g'));
  fs.writeFileSync(path.join(r, 'sub/g'), 'abc');
  fs.unlinkSync(path.join(s, 'l'));
  fs.symlinkSync('g', path.join(s, 'l'));
  const after = snapshot(s, cache);
  const fields = compareTrees(snapshot(r, cache), after).map((m) => `${m.path} ${m.field}`).sort();
  assert.equal(fields, ['/f mode', '/f nlink', '/f same file as', '/l symlink target', '/sub/g mode', '/sub/g nlink', '/sub/g same file as']);
  const ch = timeChanges(before, after);
  assert.is(ch.get('f'), 'ctime', 'chmod and link: ctime only');
  assert.is(ch.get('sub'), 'mtime ctime', 'a name added');
  assert.is(ch.get('l'), undefined, 'a new symlink is another file');
  const other = new Map(ch); other.set('f', 'none');
  assert.equal(compareTimeChanges(ch, other).map((m) => [m.path, m.host, m.guest]), [['/f', 'ctime', 'none']]);
});

t('shrink: a minimal sequence when the failure needs two ops in order; the budget stops it', async () => {
  const items = Array.from({ length: 200 }, (_, i) => i);
  const fails = async (xs: number[]) => { const i = xs.indexOf(37); return i >= 0 && xs.indexOf(150, i) > i; };
  const budget = { until: Date.now() + 60_000, probes: 0 };
  assert.equal(await shrink(items, fails, budget), [37, 150]);
  assert.ok(budget.probes < 200, `${budget.probes} probes`);
  const tight = { until: Date.now() - 1, probes: 0 };
  assert.is((await shrink(items, fails, tight)).length, 200, 'no time: the list as given');
});

t('random generator: the same ops for the same seed and tree; never the sandbox roots themselves', () => {
  const cache = new HashCache();
  const g = path.join(dir, 'gen');
  fs.mkdirSync(path.join(g, 'a/b'), { recursive: true });
  fs.writeFileSync(path.join(g, 'c'), 'x');
  const tree = snapshot(g, cache);
  const x = snapshot(path.join(g, 'a'), cache);
  for (const [rel, n] of x) tree.set(rel ? `@x/${rel}` : '@x', n);
  const run = (seed: number) => { const r = rng(seed); return Array.from({ length: 400 }, () => nextOp(r, tree)); };
  assert.equal(run(5), run(5));
  assert.not.equal(run(5), run(6));
  const ops = run(9);
  const kinds = new Set(ops.map((o) => o.op));
  for (const k of ['create', 'write', 'truncate', 'read', 'rename', 'link', 'unlink', 'mkdir', 'rmdir', 'chmod', 'chown', 'symlink', 'stat']) assert.ok(kinds.has(k as Op['op']), k);
  for (const o of ops) {
    const paths = o.op === 'rename' || o.op === 'link' ? [o.from, o.to] : [o.path];
    for (const p of paths) assert.ok(p !== '' && p !== '@x', `${formatOp(o)} names a sandbox root`);
    if (o.op === 'read') assert.ok(o.len >= 1);
    if (o.op === 'symlink') assert.not.ok(o.target.split('/').includes('..'), 'no link out of the sandbox');
  }
  assert.ok(ops.some((o) => o.as && o.as.uid === 1000) && ops.some((o) => o.as && o.as.uid === 1001), 'non-root callers');
});

t('arguments: --ops, --seed, --walk-every, --shrink-seconds, --no-writes; refusals', () => {
  const d = parseHarnessArgs([])!;
  assert.equal([d.writes, d.ops, d.walkEvery, d.shrinkMs], [true, undefined, 100, 300_000]);
  assert.ok(Number.isInteger(d.seed));
  const v = parseHarnessArgs(['--ops', '10000', '--seed', '42', '--walk-every', '25', '--shrink-seconds', '0', '--no-reads'])!;
  assert.equal([v.ops, v.seed, v.walkEvery, v.shrinkMs, v.reads], [10000, 42, 25, 0, false]);
  assert.is(parseHarnessArgs(['--no-writes'])!.writes, false);
  for (const bad of [['--ops', '0'], ['--ops', 'many'], ['--seed', '-1'], ['--seed', String(2 ** 32)], ['--walk-every', '0'],
    ['--ops', '5', '--no-writes'], ['--no-reads', '--no-writes']]) {
    assert.throws(() => parseHarnessArgs(bad), (e: Error) => e instanceof HarnessUsageError, bad.join(' '));
  }
});

t('table: a failed row shows its reproduction; the op command is printed once at the end', () => {
  const repro = replayScript([{ title: 'a difference', lines: [{ op: parseOp('mkdir d 0755'), host: 'ok', guest: 'EIO' }] }], ['hdr']);
  assert.ok(repro.startsWith('#!/bin/bash\n'));
  assert.match(repro, /op mkdir d 0755 {2}# host: ok, guest: EIO {2}<--/);
  const { preamble, body } = splitScript(repro);
  assert.match(preamble, /^OP_PL='/);
  assert.not.match(body, /OP_PL=/);
  const row = (check: string) => ({ check, status: 'fail' as const, details: 'd', mismatches: [], repro });
  const text = formatTable(buildReport('/x', [{ backend: 'passthrough', description: 'p', durationMs: 1, checks: [row('write: a'), row('write: b')] }]));
  assert.is(text.split('OP_PL=').length - 1, 1, 'the op command once');
  assert.is(text.split('op mkdir d 0755').length - 1, 2, 'each row its own lines');
  assert.match(text, /== the op command of the reproductions above \(bash\)/);
});

t.run();
