import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Stat } from '../../core/vfs';
import type { DaxStatsSnapshot } from '../../fs/virtiofs/dax/stats';
import {
  compareBytes, compareNames, compareStat, formatNs, guestStatView, hostStatView, outcome,
} from '../../tools/harness/compare';
import { parseHarnessArgs, HarnessUsageError } from '../../tools/harness/main';
import { classifyReadPath, NO_DAX } from '../../tools/harness/read-path';
import { agreementOf, buildReport, formatJson, formatTable } from '../../tools/harness/report';
import type { BackendReport, CheckResult } from '../../tools/harness/result';

const t = suite('harness: comparison, verdict, table and JSON');

let dir = '';
t.before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harness-unit-')); });
t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The guest Stat a faithful device would report for a host lstat. */
function guestOf(st: fs.BigIntStats): Stat {
  const NS = 1_000_000_000n;
  const ts = (ns: bigint) => ({ sec: Number(ns / NS), nsec: Number(ns % NS) });
  return {
    ino: st.ino, mode: Number(st.mode), nlink: Number(st.nlink), uid: Number(st.uid), gid: Number(st.gid),
    rdev: Number(st.rdev), size: Number(st.size), blocks: Number(st.blocks), blksize: Number(st.blksize),
    atime: ts(st.atimeNs), mtime: ts(st.mtimeNs), ctime: ts(st.ctimeNs),
  };
}

t('a faithful guest view of a real host file matches; one field off is flagged by name', () => {
  const p = path.join(dir, 'f');
  fs.writeFileSync(p, 'hello');
  fs.utimesSync(p, 1_600_000_000.5, 1_600_000_000.123456);
  const host = fs.lstatSync(p, { bigint: true });
  const good = guestOf(host);
  assert.equal(compareStat('/f', hostStatView(host), guestStatView(good), { ino: true }), []);

  const offByOneNs = { ...good, mtime: { sec: good.mtime.sec, nsec: good.mtime.nsec + 1 } };
  const mm = compareStat('/f', hostStatView(host), guestStatView(offByOneNs), { ino: true });
  assert.is(mm.length, 1);
  assert.is(mm[0]!.field, 'mtime');
  assert.is(mm[0]!.path, '/f');
  assert.is.not(mm[0]!.host, mm[0]!.guest);

  for (const [field, change] of [
    ['mode', { mode: Number(host.mode) ^ 0o004 }], ['size', { size: 6 }], ['nlink', { nlink: 2 }],
    ['uid', { uid: Number(host.uid) + 1 }], ['gid', { gid: Number(host.gid) + 1 }], ['ino', { ino: host.ino + 1n }],
    ['type', { mode: (Number(host.mode) & 0o7777) | 0o040000 }],
  ] as const) {
    const got = compareStat('/f', hostStatView(host), guestStatView({ ...good, ...change }), { ino: true });
    assert.equal(got.map((m) => m.field), [field], field);
  }
  // ino left out when the device numbers its own nodes.
  assert.equal(compareStat('/f', hostStatView(host), guestStatView({ ...good, ino: 99n }), { ino: false }), []);
  // atime is not compared (the harness's own reads move it).
  assert.equal(compareStat('/f', hostStatView(host), guestStatView({ ...good, atime: { sec: 1, nsec: 0 } }), { ino: true }), []);
});

t('times before the epoch print exactly', () => {
  assert.is(formatNs(-86_400_250_000_000n), '-86400.250000000');
  assert.is(formatNs(5n), '0.000000005');
});

t('names: a missing, an extra and a duplicated name are all flagged', () => {
  assert.equal(compareNames('/d', ['a', 'b c', 'é'], ['é', 'a', 'b c']), []);
  const mm = compareNames('/d', ['a', 'b'], ['a', 'c', 'a']);
  assert.equal(mm.map((m) => [m.field, m.host, m.guest]), [
    ['name', '"b"', 'missing'], ['name', 'missing', '"c"'], ['entries', '2', '3 (duplicates)'],
  ]);
});

t('bytes: the first differing offset, or a length difference', () => {
  const a = new Uint8Array([1, 2, 3, 4]);
  assert.equal(compareBytes('/f', 'pread(4, 0)', a, a.slice()), []);
  const b = a.slice(); b[2] = 9;
  assert.equal(compareBytes('/f', 'pread(4, 0)', a, b)[0]!.field, 'pread(4, 0) byte 2');
  assert.equal(compareBytes('/f', 'r', a, a.subarray(0, 3))[0]!.field, 'r length');
});

t('outcome: errno names, ok, and anything else', () => {
  assert.is(outcome(undefined), 'ok');
  const e = Object.assign(new Error('x'), { code: 'ENOTDIR' });
  assert.is(outcome(e), 'ENOTDIR');
  assert.match(outcome(new Error('boom')), /^error: boom/);
});

function stats(over: Partial<DaxStatsSnapshot>): DaxStatsSnapshot {
  return {
    hits: 0, misses: 0, chunksMapped: 0, chunksEvicted: 0, setupMappingSent: 0, removeMappingSent: 0,
    writeMappings: 0, upgrades: 0, enospc: 0, chunksTruncated: 0, reclaimRuns: 0, adaptiveSwitches: 0, adaptiveMisses: 0, bytesDaxWritten: 0,
    fallbacks: { 'no-window': 0, enosys: 0, setupmapping: 0, copy: 0 }, fallbackErrnos: {}, bytesDax: 0, bytesFuseRead: 0,
    ...over,
  };
}

t('read path: DAX, FUSE_READ after ENOSYS (named), and broken paths', () => {
  const dax = classifyReadPath('always', stats({ bytesDax: 1 << 20, setupMappingSent: 3 }));
  assert.equal([dax.kind, dax.status], ['dax', 'pass']);
  const enosys = classifyReadPath('always', stats({ setupMappingSent: 1, fallbacks: { 'no-window': 0, enosys: 7, setupmapping: 0, copy: 0 }, bytesFuseRead: 100 }));
  assert.equal([enosys.kind, enosys.status, enosys.expected], ['fuse-read-enosys', 'expected', NO_DAX]);
  // ENOSYS must be remembered: a second SETUPMAPPING is a failure.
  assert.is(classifyReadPath('always', stats({ setupMappingSent: 2, fallbacks: { 'no-window': 0, enosys: 7, setupmapping: 0, copy: 0 } })).status, 'fail');
  assert.is(classifyReadPath('always', stats({ bytesDax: 5, fallbacks: { 'no-window': 0, enosys: 0, setupmapping: 1, copy: 0 }, fallbackErrnos: { EIO: 1 } })).status, 'fail');
  assert.is(classifyReadPath('always', stats({ bytesFuseRead: 10 })).status, 'fail', 'dax=always with a window, nothing through it');
  assert.is(classifyReadPath('never', stats({ bytesFuseRead: 10 })).status, 'pass');
  assert.is(classifyReadPath('never', stats({ bytesDax: 10, setupMappingSent: 1 })).status, 'fail');
});

const row = (check: string, status: CheckResult['status'], extra: Partial<CheckResult> = {}): CheckResult =>
  ({ check, status, details: `${check} details`, mismatches: [], ...extra });
const backend = (name: string, checks: CheckResult[]): BackendReport => ({ backend: name, description: name, checks, durationMs: 1000 });

t('agreement: the DAX difference is expected by name; a check one backend fails is a disagreement', () => {
  const pt = backend('passthrough', [row('stat fields [dax=always]', 'pass'), row('read path [dax=always]', 'pass')]);
  const vu = backend('vhost-user', [row('stat fields [dax=always]', 'pass'), row('read path [dax=always]', 'expected', { expected: NO_DAX })]);
  const a = agreementOf([pt, vu]);
  assert.equal(a, { agreed: 1, expected: [`vhost-user: ${NO_DAX}`], disagreements: [] });
  assert.ok(buildReport('/x', [pt, vu]).ok);

  const mismatch = { path: '/f', field: 'mtime', host: '1.000000001', guest: '1.000000000' };
  const bad = backend('vhost-user', [row('stat fields [dax=always]', 'fail', { mismatches: [mismatch] }), row('read path [dax=always]', 'expected', { expected: NO_DAX })]);
  const r = buildReport('/x', [pt, bad]);
  assert.not.ok(r.ok);
  assert.equal(r.agreement!.disagreements, ['stat fields [dax=always]: passthrough pass, vhost-user fail']);
  // A check one backend did not run is a disagreement too.
  assert.equal(agreementOf([pt, backend('vhost-user', [row('stat fields [dax=always]', 'pass')])]).disagreements,
    ['read path [dax=always]: not run by vhost-user']);
  // No backend, or one with no checks, is not a pass.
  assert.not.ok(buildReport('/x', []).ok);
  assert.not.ok(buildReport('/x', [backend('passthrough', [])]).ok);
});

t('table: check, result, details per backend, mismatches under the failed row, a verdict line', () => {
  const mismatch = { path: '/f', field: 'mtime', host: '1.000000001', guest: '1.000000000' };
  const pt = backend('passthrough', [row('tree walk [dax=always]', 'pass'), row('stat fields [dax=always]', 'fail', { mismatches: [mismatch] })]);
  const vu = backend('vhost-user', [row('tree walk [dax=always]', 'pass'), row('stat fields [dax=always]', 'pass')]);
  const text = formatTable(buildReport('/x', [pt, vu]));
  assert.match(text, /== passthrough: passthrough \(1\.0 s\)/);
  assert.match(text, /^check\s+result\s+details$/m);
  assert.match(text, /^tree walk \[dax=always\]\s+pass\s+tree walk \[dax=always\] details$/m);
  assert.match(text, /^stat fields \[dax=always\]\s+FAIL\s+/m);
  assert.match(text, /\/f: mtime: host 1\.000000001, guest 1\.000000000/);
  assert.match(text, /DISAGREE: stat fields \[dax=always\]: passthrough fail, vhost-user pass/);
  assert.match(text, /harness: FAIL \(1 failed checks, 1 disagreements\)\n$/);

  const okText = formatTable(buildReport('/x', [vu, backend('passthrough', vu.checks)]));
  assert.match(okText, /2 checks passed by every backend/);
  assert.match(okText, /harness: PASS\n$/);
});

t('JSON: parseable, u64 inode numbers as strings, the verdict', () => {
  const pt = backend('passthrough', [row('stat fields [dax=never]', 'fail', {
    mismatches: [{ path: '/f', field: 'ino', host: '18446744073709551615', guest: '1' }],
  })]);
  const report = buildReport('/x', [pt]);
  (report as unknown as { extra: bigint }).extra = 2n ** 64n - 1n;
  const parsed = JSON.parse(formatJson(report));
  assert.is(parsed.ok, false);
  assert.is(parsed.extra, '18446744073709551615');
  assert.is(parsed.backends[0].checks[0].status, 'fail');
  assert.is(parsed.backends[0].checks[0].mismatches[0].field, 'ino');
  assert.is(parsed.agreement, undefined, 'one backend: nothing to agree on');
});

t('arguments: defaults, pass-through to the daemon, and refusals', () => {
  const d = parseHarnessArgs([])!;
  assert.equal(d.backends, ['passthrough', 'vhost-user']);
  assert.equal(d.dax, ['always', 'never']);
  assert.is(d.json, false);
  const v = parseHarnessArgs(['--backend', 'vhost-user', '--virtiofsd', '/opt/v', '--virtiofsd-arg=--thread-pool-size=4', '--virtiofsd-arg=-o', '--json'])!;
  assert.equal([v.backends, v.virtiofsd, v.virtiofsdArgs, v.json], [['vhost-user'], '/opt/v', ['--thread-pool-size=4', '-o'], true]);
  assert.is(parseHarnessArgs(['--help']), undefined);
  assert.throws(() => parseHarnessArgs(['--connect', 'tcp:127.0.0.1:1']), (e: Error) => e instanceof HarnessUsageError && /--shared-dir/.test(e.message));
  assert.throws(() => parseHarnessArgs(['--backend', 'qemu']), (e: Error) => e instanceof HarnessUsageError);
  assert.throws(() => parseHarnessArgs(['--dax', 'inode']), (e: Error) => e instanceof HarnessUsageError);
  assert.throws(() => parseHarnessArgs(['--bogus']), (e: Error) => e instanceof HarnessUsageError);
});

t.run();
