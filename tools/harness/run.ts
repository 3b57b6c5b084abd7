// One harness run: for each device model (started here, or the one given by
// --connect), mount the share once per DAX mode through the full guest stack
// and run the checks against the host directory.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mountShare } from '../guest/mount';
import { spawnVmm, type VmmChild } from '../guest/spawn-vmm';
import type { BackendKind } from '../vmm/options';
import { runChecks } from './checks';
import { buildReport } from './report';
import type { BackendReport, CheckResult, HarnessReport } from './result';
import { buildTree } from './tree';
import { WriteRig } from './writes';
import { ACCOUNTING, ACCOUNTING_NOT_VISIBLE, checkAccounting } from './accounting';
import { parseSize } from '../common/size';

/** Random ops of the accounting run without --ops. */
const ACCOUNTING_OPS = 300;
import type { Vfs } from '../../core/vfs';

export const DEFAULT_VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const SHM_DIR = '/dev/shm';
export const INSTALL_HINT = 'apt-get install -y qemu-system-common';

export interface HarnessOptions {
  /** Device models to start, one after the other (ignored with connect). */
  backends: BackendKind[];
  connect?: string;
  tokenFile?: string;
  /** Host directory to check; default: a fresh tree of the harness's own. */
  sharedDir?: string;
  dax: Array<'always' | 'never'>;
  cacheSize: string;
  memory: string;
  virtiofsd?: string;
  virtiofsdArgs: string[];
  /** Run the read checks (the original table). */
  reads: boolean;
  /** Run the write checks (and the random run) after the read checks. */
  writes: boolean;
  /** The random run: ops per mount (none: no random run), its seed and guest walks. */
  ops?: number;
  seed: number;
  walkEvery: number;
  /** Time for shrinking a random run's failure. */
  shrinkMs: number;
  progress: (message: string) => void;
}

const fail = (check: string, details: string): CheckResult => ({ check, status: 'fail', details, mismatches: [] });
/** An error's message on one line, without stack frames. */
const message = (err: unknown) => ((err as Error).message ?? String(err)).trim().split('\n')
  .filter((l) => l.trim() && !/^\s+at /.test(l)).slice(0, 6).join(' | ');

async function writeChecks(rig: WriteRig, vfs: Vfs, root: string, opts: HarnessOptions, tag: string, progress: (m: string) => void): Promise<CheckResult[]> {
  const inoComparable = (await vfs.lstat('/')).ino === fs.lstatSync(root, { bigint: true }).ino;
  const rows = await rig.run(vfs, inoComparable, tag, opts, progress);
  return rows;
}

async function mountsAndChecks(
  connect: string, token: { token?: string; tokenFile?: string }, root: string, ownTree: boolean,
  opts: HarnessOptions, label: string, rig: WriteRig | undefined,
): Promise<CheckResult[]> {
  const checks: CheckResult[] = [];
  for (const dax of opts.dax) {
    const progress = (m: string) => opts.progress(`[${label} dax=${dax}] ${m}`);
    let guest;
    try {
      guest = await mountShare({ connect, ...token, dax });
    } catch (err) {
      checks.push(fail(`mount [dax=${dax}]`, message(err)));
      continue;
    }
    try {
      if (opts.reads) {
        checks.push(...await runChecks({
          vfs: guest.vfs, root, ownTree, dax, progress,
          daxStats: async () => (await guest.dax())?.stats.snapshot(),
        }));
      }
      if (rig) {
        const rows = await writeChecks(rig, guest.vfs, root, opts, `${label.replace(/[^a-z0-9]+/gi, '')}-${dax}`, progress);
        checks.push(...rows.map((r) => ({ ...r, check: `${r.check} [dax=${dax}]` })));
      }
    } catch (err) {
      checks.push(fail(`checks [dax=${dax}]`, `stopped: ${message(err)}`));
    } finally {
      await guest.close().catch((err) => checks.push(fail(`unmount [dax=${dax}]`, message(err))));
    }
  }
  return checks;
}

function vmmArgs(kind: BackendKind, dir: string, opts: HarnessOptions): string[] {
  const args = ['--backend', kind, '--shared-dir', dir, '--cache-size', opts.cacheSize, '--memory', opts.memory];
  if (kind === 'vhost-user') {
    if (opts.virtiofsd) args.push('--virtiofsd', opts.virtiofsd);
    // The = form: a value starting with a dash is refused otherwise (util.parseArgs).
    for (const a of opts.virtiofsdArgs) args.push(`--virtiofsd-arg=${a}`);
  }
  return args;
}

/** What a device model said before it died: its error lines, else its last lines. */
function lastWords(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l.trim());
  const errs = lines.filter((l) => /error|Error|EBADF|uncaught|assert/i.test(l)).slice(-3);
  return (errs.length ? errs : lines.slice(-3)).join(' | ');
}

async function runBackend(kind: BackendKind, dir: string, ownTree: boolean, opts: HarnessOptions, rig: WriteRig | undefined): Promise<BackendReport> {
  const t0 = Date.now();
  const daemon = opts.virtiofsd ?? DEFAULT_VIRTIOFSD;
  const description = kind === 'vhost-user'
    ? `virtiofs-vmm --backend vhost-user, virtiofsd ${daemon}${opts.virtiofsdArgs.length ? ` ${opts.virtiofsdArgs.join(' ')}` : ''}, window ${opts.cacheSize}`
    : `virtiofs-vmm --backend passthrough, window ${opts.cacheSize}`;
  const report = (checks: CheckResult[]): BackendReport => ({ backend: kind, description, checks, durationMs: Date.now() - t0 });
  if (kind === 'vhost-user' && !fs.existsSync(daemon)) {
    const hint = daemon === DEFAULT_VIRTIOFSD ? `: ${INSTALL_HINT}` : ' (--virtiofsd PATH)';
    return report([fail('device model start', `virtiofsd not found at ${daemon}${hint}`)]);
  }
  opts.progress(`[${kind}] starting virtiofs-vmm`);
  let vmm: VmmChild;
  try {
    vmm = await spawnVmm(vmmArgs(kind, dir, opts));
  } catch (err) {
    return report([fail('device model start', message(err))]);
  }
  const checks = await mountsAndChecks(vmm.address, { token: vmm.token }, dir, ownTree, opts, kind, rig);
  const pid = vmm.child.pid;
  const code = await vmm.stop();
  if (code !== 0) checks.push(fail('device model shutdown', `virtiofs-vmm exited with ${code}: ${lastWords(vmm.stderr())}`));
  // Guest RAM files the device model left behind: a failure, and removed so
  // that runs do not fill /dev/shm.
  const left = fs.readdirSync(SHM_DIR).filter((n) => n.startsWith(`virtiofs-${pid}-`));
  for (const n of left) fs.rmSync(path.join(SHM_DIR, n), { force: true });
  if (left.length) checks.push(fail('device model shutdown', `left ${left.map((n) => `${SHM_DIR}/${n}`).join(', ')} behind (removed by the harness)`));
  return report(checks);
}

/** The passthrough's lookup accounting (in this process); the other backends name why not. */
async function accountingRows(backends: BackendReport[], opts: HarnessOptions): Promise<void> {
  const pt = backends.find((b) => b.backend === 'passthrough');
  if (!pt) return;
  opts.progress('[passthrough] lookup accounting: the write checks and a random run in this process');
  const t0 = Date.now();
  const o = { ops: Math.min(opts.ops ?? ACCOUNTING_OPS, 2000), seed: opts.seed, walkEvery: opts.walkEvery, shrinkMs: 0, cacheSize: parseSize(opts.cacheSize) };
  pt.checks.push(await checkAccounting(o, opts.progress));
  pt.durationMs += Date.now() - t0;
  for (const b of backends) {
    if (b !== pt) b.checks.push({ check: ACCOUNTING, status: 'expected', expected: ACCOUNTING_NOT_VISIBLE, details: ACCOUNTING_NOT_VISIBLE, mismatches: [] });
  }
}

export async function runHarness(opts: HarnessOptions): Promise<HarnessReport> {
  let dir = opts.sharedDir ? path.resolve(opts.sharedDir) : '';
  const ownTree = !dir;
  if (ownTree) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'virtiofs-harness-'));
    // Searchable by all: the write checks call as non-root users too.
    fs.chmodSync(dir, 0o755);
    buildTree(dir, (m) => opts.progress(m));
  }
  // The walk compares host paths by prefix: no symlink in the root itself.
  dir = fs.realpathSync(dir);
  let rig: WriteRig | undefined;
  try {
    if (opts.writes) {
      rig = new WriteRig(dir);
      if (ownTree) rig.mountXdev();
    }
    const backends: BackendReport[] = [];
    if (opts.connect) {
      const t0 = Date.now();
      const checks = await mountsAndChecks(opts.connect, { tokenFile: opts.tokenFile }, dir, ownTree, opts, opts.connect, rig);
      backends.push({ backend: opts.connect, description: `device model at ${opts.connect}`, checks, durationMs: Date.now() - t0 });
    } else {
      for (const kind of opts.backends) backends.push(await runBackend(kind, dir, ownTree, opts, rig));
      if (opts.writes) await accountingRows(backends, opts);
    }
    return buildReport(dir, backends);
  } finally {
    await rig?.close();
    if (ownTree) fs.rmSync(dir, { recursive: true, force: true });
  }
}
