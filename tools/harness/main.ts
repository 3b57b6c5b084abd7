// virtiofs harness: the conformance check of the whole guest stack against
// the host's own view of the shared directory, for the passthrough backend
// and the real virtiofsd (vhost-user). `virtiofs harness ARGS`,
// `npm run harness -- ARGS`, or this file run directly.

import { parseArgs } from 'node:util';
import { usageFromParseArgs } from '../common/errors';
import { ProgressPrinter } from '../common/progress';
import { UsageError } from '../common/usage';
import { versionLine } from '../common/version';
import type { BackendKind } from '../vmm/options';
import { formatJson, formatTable } from './report';
import { runHarness, type HarnessOptions } from './run';

export const USAGE = `usage: virtiofs harness [options]

Mounts a virtio-fs share through the full guest stack and checks every
answer (names, stat fields, symlinks, errors, reads at many offsets, whole
files by sha256) against node:fs on the host directory, then every write
(results and errnos, trees, link counts, modes, owners, which times change)
against the same ops on a host reference directory, with dax=always and
dax=never. Exits 0 when every check passes and the backends agree, 1 on any
mismatch, 2 on a usage error.

  --backend KIND         passthrough, vhost-user or both (default both, one after the other)
  --connect ADDR         check a device model already running (tcp:HOST:PORT, unix:PATH)
                         instead of starting one; needs --shared-dir (what it shares)
  --token-file FILE      with --connect: its access token
  --shared-dir DIR       check this directory (default: a fresh test tree in a temp dir)
  --dax MODE             always, never or both (default both)
  --cache-size SIZE      DAX window of the device models started here (default 16M)
  --memory SIZE          their guest RAM (default 256M)
  --virtiofsd PATH       with vhost-user: the daemon to start (default /usr/lib/qemu/virtiofsd)
  --virtiofsd-arg=ARG    with vhost-user: one more argument for the daemon (repeatable;
                         write the = when ARG starts with a dash: --virtiofsd-arg=-o)
  --no-reads             skip the read checks (the write checks and the random run only)
  --no-writes            skip the write checks (they work in fresh .virtiofs-harness-* directories
                         of the share and a reference directory beside it, removed afterwards)
  --ops N                also a random run of N ops per mount, against the host reference
  --seed S               its seed (default: from the clock; printed in the report)
  --walk-every K         the guest's own walk of the random run's tree every K ops (default 100)
  --shrink-seconds T     time for shrinking a random run's failure (default 300)
  --json                 the report as JSON on stdout instead of the table
  --quiet                no progress on stderr (on a terminal one line in place, else a line every few seconds)
  --version              the version
  -h, --help             this text`;

/** The harness's usage errors are the common kind. */
export { UsageError as HarnessUsageError };

/** argv (after `harness`) to options; undefined for --help. */
export function parseHarnessArgs(argv: string[]): (Omit<HarnessOptions, 'progress'> & { json: boolean; quiet: boolean }) | undefined {
  let v;
  try {
    v = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        backend: { type: 'string' }, connect: { type: 'string' }, 'token-file': { type: 'string' },
        'shared-dir': { type: 'string' }, dax: { type: 'string' }, 'cache-size': { type: 'string' },
        memory: { type: 'string' }, virtiofsd: { type: 'string' }, 'virtiofsd-arg': { type: 'string', multiple: true },
        'no-reads': { type: 'boolean' }, 'no-writes': { type: 'boolean' }, ops: { type: 'string' }, seed: { type: 'string' },
        'walk-every': { type: 'string' }, 'shrink-seconds': { type: 'string' },
        json: { type: 'boolean' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    }).values;
  } catch (err) {
    const u = usageFromParseArgs(err);
    throw u instanceof UsageError ? u : new UsageError((err as Error).message);
  }
  if (v.help || v.version) return undefined;
  const backend = v.backend ?? 'both';
  const backends: BackendKind[] = backend === 'both' ? ['passthrough', 'vhost-user']
    : backend === 'passthrough' || backend === 'vhost-user' ? [backend] : [];
  if (!backends.length) throw new UsageError(`--backend: passthrough, vhost-user or both, not "${backend}"`);
  const daxArg = v.dax ?? 'both';
  const dax: Array<'always' | 'never'> = daxArg === 'both' ? ['always', 'never']
    : daxArg === 'always' || daxArg === 'never' ? [daxArg] : [];
  if (!dax.length) throw new UsageError(`--dax: always, never or both, not "${daxArg}"`);
  if (v.connect && !v['shared-dir']) throw new UsageError('--connect needs --shared-dir DIR: the directory that device model shares');
  if (v.connect && v.backend) throw new UsageError('--connect and --backend exclude each other');
  if (v['token-file'] && !v.connect) throw new UsageError('--token-file goes with --connect');
  const count = (name: string, s: string | undefined, min: number): number | undefined => {
    if (s === undefined) return undefined;
    if (!/^\d+$/.test(s) || Number(s) < min || !Number.isSafeInteger(Number(s))) throw new UsageError(`--${name}: a whole number >= ${min}, not "${s}"`);
    return Number(s);
  };
  const ops = count('ops', v.ops, 1);
  if (ops !== undefined && v['no-writes']) throw new UsageError('--ops and --no-writes exclude each other');
  if (v['no-reads'] && v['no-writes']) throw new UsageError('--no-reads and --no-writes: nothing left to check');
  const seed = count('seed', v.seed, 0) ?? Date.now() % 2 ** 31;
  if (seed >= 2 ** 32) throw new UsageError('--seed: below 2^32');
  return {
    backends, dax,
    reads: !v['no-reads'], writes: !v['no-writes'], ops, seed,
    walkEvery: count('walk-every', v['walk-every'], 1) ?? 100,
    shrinkMs: (count('shrink-seconds', v['shrink-seconds'], 0) ?? 300) * 1000,
    connect: v.connect, tokenFile: v['token-file'], sharedDir: v['shared-dir'],
    cacheSize: v['cache-size'] ?? '16M', memory: v.memory ?? '256M',
    virtiofsd: v.virtiofsd, virtiofsdArgs: v['virtiofsd-arg'] ?? [],
    json: v.json ?? false, quiet: v.quiet ?? false,
  };
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--version') && !argv.includes('--help') && !argv.includes('-h')) {
    process.stdout.write(`${versionLine('virtiofs harness')}\n`);
    return 0;
  }
  let opts;
  try {
    opts = parseHarnessArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) { process.stderr.write(`virtiofs harness: ${err.message} (virtiofs harness --help lists the options)\n`); return 2; }
    throw err;
  }
  if (!opts) { process.stdout.write(`${USAGE}\n`); return 0; }
  const t0 = Date.now();
  const printer = new ProgressPrinter(process.stderr, { enabled: !opts.quiet });
  const progress = (m: string) => printer.update(`harness ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s: ${m}`);
  const report = await runHarness({ ...opts, progress });
  printer.clear();
  process.stdout.write(opts.json ? formatJson(report) : formatTable(report));
  return report.ok ? 0 : 1;
}
