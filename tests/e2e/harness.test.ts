import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ACCOUNTING, ACCOUNTING_NOT_VISIBLE } from '../../tools/harness/accounting';
import { NO_DAX } from '../../tools/harness/read-path';
import { SCENARIOS } from '../../tools/harness/write-checks';
import type { HarnessReport } from '../../tools/harness/result';

// The harness program itself, for both backends, against the real virtiofsd.
const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const MAIN = path.resolve(__dirname, '../../tools/guest/main.ts');
const t = suite('end to end: the conformance harness, passthrough and the real virtiofsd');

interface Run { code: number | null; stdout: string; stderr: string }

/** Run the harness as its own program; a run past `limitMs` is killed and fails. */
function harness(args: string[], limitMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', MAIN, 'harness', ...args], {
      // Every progress status printed (off a terminal they come every few seconds otherwise).
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', VIRTIOFS_PROGRESS_INTERVAL_MS: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`harness ${args.join(' ')} still running after ${limitMs} ms\n${stderr.slice(-2000)}`));
    }, limitMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

t('both backends pass every check; they differ only in DAX, by name', async () => {
  assert.ok(fs.existsSync(VIRTIOFSD), `${VIRTIOFSD} is missing: apt-get install -y qemu-system-common`);
  const run = await harness(['--json'], 600_000);
  let report: HarnessReport;
  try { report = JSON.parse(run.stdout); } catch { throw new Error(`no JSON report (exit ${run.code})\n${run.stderr.slice(-3000)}`); }
  const failed = report.backends.flatMap((b) => b.checks.filter((c) => c.status === 'fail').map((c) => `${b.backend}: ${c.check}: ${c.details} ${JSON.stringify(c.mismatches.slice(0, 3))}`));
  assert.equal(failed, [], 'no failed check');
  assert.is(run.code, 0, 'exit status 0');
  assert.ok(report.ok);
  assert.equal(report.backends.map((b) => b.backend), ['passthrough', 'vhost-user']);

  const names = (i: number) => report.backends[i]!.checks.map((c) => c.check);
  assert.equal(names(0), names(1), 'the same checks for both backends');
  for (const want of ['tree walk', 'stat fields', 'readlink', 'missing names (ENOENT)', 'non-directories walked into (ENOTDIR)',
    'reads at offsets', 'whole-file reads', 'names with spaces and UTF-8', 'empty file and directory', 'sparse 64 MiB file',
    'directory of 10 000 entries', '100 MiB file (sha256)', 'read path']) {
    for (const dax of ['always', 'never']) assert.ok(names(0).includes(`${want} [dax=${dax}]`), `${want} [dax=${dax}]`);
  }
  for (const sc of SCENARIOS) {
    for (const dax of ['always', 'never']) assert.ok(names(0).includes(`write: ${sc.name} [dax=${dax}]`), `write: ${sc.name} [dax=${dax}]`);
  }
  const acct = (i: number) => report.backends[i]!.checks.find((c) => c.check === ACCOUNTING)!;
  assert.is(acct(0).status, 'pass', 'the passthrough holds nothing after the unmount');
  assert.match(acct(0).details, /at DESTROY 1 inode\(s\), 0 handle\(s\)/);
  assert.equal([acct(1).status, acct(1).expected], ['expected', ACCOUNTING_NOT_VISIBLE]);
  const rp = (i: number, dax: string) => report.backends[i]!.checks.find((c) => c.check === `read path [dax=${dax}]`)!;
  assert.equal([rp(0, 'always').status, rp(0, 'always').readPath], ['pass', 'dax'], 'passthrough reads through the window');
  assert.equal([rp(1, 'always').status, rp(1, 'always').readPath], ['expected', 'fuse-read-enosys'], 'virtiofsd: FUSE_READ after ENOSYS');
  assert.equal([rp(0, 'never').readPath, rp(1, 'never').readPath], ['fuse-read', 'fuse-read']);
  assert.equal(report.agreement!.disagreements, []);
  assert.equal(report.agreement!.expected, [`vhost-user: ${NO_DAX}`, `vhost-user: ${ACCOUNTING_NOT_VISIBLE}`]);
  assert.is(report.agreement!.agreed, names(0).length - 2, 'every other check agreed');
  assert.match(run.stderr, /\[vhost-user dax=always\] data\/big-100M\.bin: 100% of 100 MiB/, 'progress on stderr');
});

t('a random run on both backends: results, errnos and trees agree after every op; the seed is in the row', async () => {
  const run = await harness(['--no-reads', '--dax', 'never', '--ops', '400', '--seed', '7', '--json', '--quiet'], 600_000);
  let report: HarnessReport;
  try { report = JSON.parse(run.stdout); } catch { throw new Error(`no JSON report (exit ${run.code})\n${run.stderr.slice(-3000)}`); }
  for (const b of report.backends) {
    const r = b.checks.find((c) => c.check.startsWith('random: '));
    // No row: say what the run did report instead (a failed start, a check that stopped it).
    if (!r) throw new Error(`${b.backend}: no random row; ${JSON.stringify(b.checks.map((c) => [c.check, c.status, c.details.slice(0, 300)]))}\n${run.stderr.slice(-2000)}`);
    assert.is(r.check, 'random: 400 ops, seed 7 [dax=never]');
    assert.is(r.seed, 7);
    assert.ok(r.status === 'pass' || r.status === 'expected', `${b.backend}: ${r.details} ${JSON.stringify(r.mismatches.slice(0, 3))}`);
    assert.match(r.details, /^400 ops, \d+ ops\/s/);
    assert.ok(r.opsPerSecond! > 0);
  }
  assert.is(run.code, 0, 'exit status 0');
});

t('--virtiofsd-arg reaches the daemon: a bad one fails the run with its complaint', async () => {
  const run = await harness(['--backend', 'vhost-user', '--dax', 'never', '--virtiofsd-arg=--no-such-option', '--quiet'], 300_000);
  assert.is(run.code, 1);
  assert.match(run.stdout, /^device model start\s+FAIL\s+.*unknown option.*--no-such-option/m);
  assert.match(run.stdout, /harness: FAIL/);
});

t('--virtiofsd PATH that does not exist: a failure naming the path, not a skip', async () => {
  const run = await harness(['--backend', 'vhost-user', '--virtiofsd', '/nonexistent/virtiofsd', '--json', '--quiet'], 300_000);
  assert.is(run.code, 1);
  const report = JSON.parse(run.stdout) as HarnessReport;
  assert.not.ok(report.ok);
  assert.match(report.backends[0]!.checks[0]!.details, /virtiofsd not found at \/nonexistent\/virtiofsd/);
});

t.run();
