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
  progress: (message: string) => void;
}

const fail = (check: string, details: string): CheckResult => ({ check, status: 'fail', details, mismatches: [] });
/** An error's message on one line, without stack frames. */
const message = (err: unknown) => ((err as Error).message ?? String(err)).trim().split('\n')
  .filter((l) => l.trim() && !/^\s+at /.test(l)).slice(0, 6).join(' | ');

async function mountsAndChecks(
  connect: string, token: { token?: string; tokenFile?: string }, root: string, ownTree: boolean,
  opts: HarnessOptions, label: string,
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
      checks.push(...await runChecks({
        vfs: guest.vfs, root, ownTree, dax, progress,
        daxStats: async () => (await guest.dax())?.stats.snapshot(),
      }));
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

async function runBackend(kind: BackendKind, dir: string, ownTree: boolean, opts: HarnessOptions): Promise<BackendReport> {
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
  const checks = await mountsAndChecks(vmm.address, { token: vmm.token }, dir, ownTree, opts, kind);
  const pid = vmm.child.pid;
  const code = await vmm.stop();
  if (code !== 0) checks.push(fail('device model shutdown', `virtiofs-vmm exited with ${code}: ${vmm.stderr().trim().split('\n').slice(-3).join(' | ')}`));
  // Guest RAM files the device model left behind: a failure, and removed so
  // that runs do not fill /dev/shm.
  const left = fs.readdirSync(SHM_DIR).filter((n) => n.startsWith(`virtiofs-${pid}-`));
  for (const n of left) fs.rmSync(path.join(SHM_DIR, n), { force: true });
  if (left.length) checks.push(fail('device model shutdown', `left ${left.map((n) => `${SHM_DIR}/${n}`).join(', ')} behind (removed by the harness)`));
  return report(checks);
}

export async function runHarness(opts: HarnessOptions): Promise<HarnessReport> {
  let dir = opts.sharedDir ? path.resolve(opts.sharedDir) : '';
  const ownTree = !dir;
  if (ownTree) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'virtiofs-harness-'));
    buildTree(dir, (m) => opts.progress(m));
  }
  // The walk compares host paths by prefix: no symlink in the root itself.
  dir = fs.realpathSync(dir);
  try {
    const backends: BackendReport[] = [];
    if (opts.connect) {
      const t0 = Date.now();
      const checks = await mountsAndChecks(opts.connect, { tokenFile: opts.tokenFile }, dir, ownTree, opts, opts.connect);
      backends.push({ backend: opts.connect, description: `device model at ${opts.connect}`, checks, durationMs: Date.now() - t0 });
    } else {
      for (const kind of opts.backends) backends.push(await runBackend(kind, dir, ownTree, opts));
    }
    return buildReport(dir, backends);
  } finally {
    if (ownTree) fs.rmSync(dir, { recursive: true, force: true });
  }
}
