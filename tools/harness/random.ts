// The random mode: one seeded sequence of creates, writes at random
// offsets, truncates, renames, links, unlinks, mkdirs, rmdirs, chmods,
// chowns, symlinks, stats and reads, each picked from the reference tree as
// it is, applied to both sides and compared after every step (the guest's
// own walk every `walkEvery` steps). A difference in an errno alone changes
// nothing, so the run goes on; one that leaves the trees apart ends the
// attempt and the run goes on in a fresh, empty sandbox. Every distinct
// difference is replayed in fresh sandboxes and shrunk; the row carries the
// seed and a replay script.

import type { Mismatch } from './compare';
import { Attempt, runSequence, type SequenceResult, type WriteEnv } from './engine';
import { formatOp, rng, ROOT, type Caller, type Op, type OpBody } from './ops';
import { replayScript, type ReplayLine } from './replay';
import type { CheckResult } from './result';
import { shrink } from './shrink';
import type { Snapshot } from './snapshot';

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const U: Caller = { uid: 1000, gid: 1000, umask: 0o022 };
const V: Caller = { uid: 1001, gid: 1000, umask: 0o022 };
const MiB = 1 << 20;
const S_IFMT = 0o170000;

/** The next op, picked with `r` from the reference tree `tree`. */
export function nextOp(r: () => number, tree: Snapshot): Op {
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const weighted = <T>(xs: ReadonlyArray<readonly [T, number]>): T => {
    let x = r() * xs.reduce((s, [, w]) => s + w, 0);
    for (const [v, w] of xs) if ((x -= w) < 0) return v;
    return xs[xs.length - 1]![0];
  };
  // The sandbox roots ('' and '@x', the other filesystem's) are parents only.
  const root = (k: string) => k === '' || k === '@x';
  const of = (t: number) => [...tree.values()].filter((n) => !root(n.rel) && (n.mode & S_IFMT) === t).map((n) => n.rel);
  const all = [...tree.keys()].filter((k) => !root(k));
  const dirs = [...tree.values()].filter((n) => (n.mode & S_IFMT) === 0o040000 && n.rel.split('/').length < 4).map((n) => n.rel);
  const files = of(0o100000);
  const links = of(0o120000);
  const join = (d: string, n: string) => (d ? `${d}/${n}` : n);
  const newPath = (): string => {
    const x = r();
    const parent = x < 0.03 && files.length ? pick(files) : x < 0.05 && links.length ? pick(links) : pick(dirs);
    const y = r();
    return join(parent, y < 0.01 ? 'L'.repeat(256) : y < 0.015 ? 'K'.repeat(255) : pick(NAMES));
  };
  const existing = (xs: string[]) => (xs.length && r() < 0.9 ? pick(xs) : newPath());
  const anyPath = () => existing(all);
  const fileish = () => (r() < 0.9 ? existing(files) : anyPath());
  const offset = () => weighted([[0, 20], [int(8192), 35], [int(300_000), 30], [2 * MiB - int(8192), 15]] as const);
  const length = () => weighted([[0, 3], [1 + int(16), 20], [1 + int(4096), 30], [4096, 7], [1 + int(70_000), 33], [131_075, 5], [MiB + 7, 2]] as const);
  const modes = [0o644, 0o600, 0o755, 0o777, 0o700, 0o444, 0o000, 0o4755, 0o2755, 0o6711, 0o1777, 0o555, 0o2775];

  const kind = weighted([
    ['create', 14], ['write', 20], ['truncate', 7], ['read', 10], ['rename', 10], ['link', 6], ['unlink', 8],
    ['mkdir', 8], ['rmdir', 5], ['chmod', 6], ['chown', 2], ['symlink', 3], ['stat', 3],
  ] as const);
  let body: OpBody;
  switch (kind) {
    case 'create':
      body = { op: 'create', path: r() < 0.7 ? newPath() : anyPath(), mode: pick([0o644, 0o600, 0o666, 0o755, 0o4755, 0o2755, 0o444]), how: r() < 0.6 ? 'excl' : 'trunc' };
      break;
    case 'write': body = { op: 'write', path: fileish(), off: offset(), len: length(), seed: int(65536) }; break;
    case 'truncate': {
      const len = weighted([[0, 15], [int(10_000), 40], [int(300_000), 30], [2 * MiB - 4096 + int(8192), 15]] as const);
      body = { op: 'truncate', path: fileish(), len };
      break;
    }
    // At least a byte: node answers a read of 0 bytes itself, without read(2) (EISDIR on a directory).
    case 'read': body = { op: 'read', path: fileish(), off: offset(), len: Math.max(1, Math.min(length(), 140_000)) }; break;
    case 'rename': {
      const from = anyPath();
      const to = weighted([[newPath(), 50], [anyPath(), 30], [join(from, pick(NAMES)), 10], [from, 3]] as const);
      body = { op: 'rename', from, to };
      break;
    }
    case 'link': body = { op: 'link', from: r() < 0.9 ? existing([...files, ...links]) : anyPath(), to: newPath() }; break;
    case 'unlink': body = { op: 'unlink', path: anyPath() }; break;
    case 'mkdir': body = { op: 'mkdir', path: newPath(), mode: pick([0o755, 0o777, 0o700, 0o2775, 0o555]) }; break;
    case 'rmdir': body = { op: 'rmdir', path: r() < 0.8 ? existing(of(0o040000)) : anyPath() }; break;
    case 'chmod': body = { op: 'chmod', path: anyPath(), mode: pick(modes) }; break;
    case 'chown': {
      const [uid, gid] = pick([[0, 0], [1000, 1000], [1001, 1000], [1000, 0], [-1, 1000]] as const);
      body = { op: 'chown', path: anyPath(), uid, gid };
      break;
    }
    case 'symlink': {
      const path = newPath();
      const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      const below = all.filter((p) => dir === '' || p.startsWith(`${dir}/`)).map((p) => (dir ? p.slice(dir.length + 1) : p));
      // No "..": a link moved elsewhere must not reach out of the sandbox.
      const target = weighted([[pick(NAMES), 40], [below.length ? pick(below) : 'a', 40], [path.slice(dir ? dir.length + 1 : 0), 10], ['nowhere', 10]] as const);
      body = { op: 'symlink', target, path };
      break;
    }
    case 'stat': {
      const x = r();
      body = { op: 'stat', path: x < 0.2 && files.length ? `${pick(files)}/x` : x < 0.4 && links.length ? `${pick(links)}/x` : anyPath() };
      break;
    }
  }
  if (body.op === 'chown') return body; // root's call
  const who = weighted([[ROOT, 75], [U, 15], [V, 10]] as const);
  const umask = r() < 0.1 ? pick([0o077, 0o002, 0o000]) : who.umask;
  return who === ROOT && umask === ROOT.umask ? body : { ...body, as: { ...who, umask } };
}

export interface RandomOptions {
  ops: number;
  seed: number;
  /** The guest's walk of its sandbox every this many steps. */
  walkEvery: number;
  /** Time for replays when shrinking a failure. */
  shrinkMs: number;
  progress(m: string): void;
}

/** A difference in the errno alone: nothing changed on either side, the run goes on. */
const errnoOnly = (mm: readonly Mismatch[]) =>
  mm.length > 0 && mm.every((m) => m.field === 'result' && /^E[A-Z0-9]+$/.test(m.host) && /^E[A-Z0-9]+$/.test(m.guest));

/** The named difference of a guest without submounts: one guest mount over
 *  two host filesystems, so the guest's own checks of a rename or link
 *  across them (permissions, existence) come before the host's EXDEV. */
export const XDEV_ORDER = 'one guest mount over two host filesystems: the guest checks a rename or link across them (permissions, names) before the host answers EXDEV';

/** What the guest's own checks answer (never EIO: that is the device's). */
const GUEST_CHECKS = new Set(['EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENOTEMPTY', 'EINVAL', 'ENAMETOOLONG', 'ELOOP']);

const onX = (p: string) => p === '@x' || p.startsWith('@x/');
const crossing = (op: Op) => (op.op === 'rename' || op.op === 'link') && onX(op.from) !== onX(op.to);

/** What kind of difference a step shows (`op`: the step's op name): a
 *  shrunk sequence must show the same. */
function signatureOf(op: string | undefined, mm: readonly Mismatch[]): string {
  const m = mm[0]!;
  if (errnoOnly(mm)) return `${op}: host ${m.host}, guest ${m.guest}`;
  return m.field === 'result' ? `result of ${op}` : m.field;
}

/** The op of the step a mismatch names ("[N] ..."), in the lines of its run. */
const opAt = (lines: readonly ReplayLine[], m: Mismatch) => lines[Number(/^\[(\d+)\]/.exec(m.path)?.[1] ?? 0) - 1]?.op.op;

/** Distinct differences shrunk per run (each gets a share of the time). */
const MAX_SHRUNK = 6;
/** Differences that end an attempt, at most: then the run stops. */
const MAX_RESTARTS = 20;

let attempts = 0;

interface Found { sig: string; step: number; from: number; count: number; mismatches: Mismatch[] }

export async function runRandom(env: WriteEnv, tag: string, o: RandomOptions): Promise<CheckResult> {
  const check = `random: ${o.ops} ops, seed ${o.seed}`;
  const name = () => `.virtiofs-harness-${tag}-r${++attempts}`;
  const r = rng(o.seed);
  const lines: ReplayLine[] = [];
  const found = new Map<string, Found>();
  let xdevOrder = 0;
  let restarts = 0;
  let stopped = '';
  /** Index in `lines` of the current attempt's first op. */
  let from = 0;
  /** Records a step's differences; true when they end the attempt. */
  const note = (step: number, op: Op, mm: Mismatch[]): boolean => {
    if (!mm.length) return false;
    if (errnoOnly(mm) && crossing(op) && mm.every((m) => m.host === 'EXDEV' && GUEST_CHECKS.has(m.guest))) { xdevOrder++; return false; }
    const sig = signatureOf(op.op, mm);
    const f = found.get(sig);
    if (f) f.count++;
    else found.set(sig, { sig, step, from, count: 1, mismatches: mm });
    return !errnoOnly(mm);
  };
  const t0 = process.hrtime.bigint();
  let a = new Attempt(env, name());
  try {
    for (let i = 1; i <= o.ops; i++) {
      const op = nextOp(r, a.refTree());
      const s = await a.step(op);
      lines.push({ op, host: s.host, guest: s.guest });
      let end = note(i, op, s.mismatches);
      if (!end && (i % o.walkEvery === 0 || i === o.ops)) end = note(i, op, await a.guestWalk());
      if (end) {
        // The trees differ now: the run goes on from an empty sandbox.
        a.remove();
        if (++restarts >= MAX_RESTARTS) { stopped = `stopped after ${restarts} differences that changed the trees`; break; }
        a = new Attempt(env, name());
        from = i;
      }
      if (i % 1000 === 0) o.progress(`${check}: ${i} ops`);
    }
  } finally {
    a.remove();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = Math.round(lines.length / secs);
  const base = { check, seed: o.seed, opsPerSecond: rate };
  const hist = new Map<string, number>();
  for (const l of lines) if (l.host && !l.host.startsWith('ok')) hist.set(l.host, (hist.get(l.host) ?? 0) + 1);
  const errnos = [...hist].sort((x, y) => y[1] - x[1]).slice(0, 8).map(([k, v]) => `${k} ${v}`).join(', ');
  const named = xdevOrder ? `; ${xdevOrder} named differences (expected): ${XDEV_ORDER}` : '';
  if (!found.size) {
    const details = `${lines.length} ops, ${rate} ops/s, the guest's walk every ${o.walkEvery}; errnos: ${errnos || 'none'}${named}`;
    return xdevOrder ? { ...base, status: 'expected', expected: XDEV_ORDER, mismatches: [], details } : { ...base, status: 'pass', mismatches: [], details };
  }

  // Each difference replayed in fresh sandboxes and shrunk to a sequence showing it again.
  const todo = [...found.values()].sort((x, y) => x.step - y.step).slice(0, MAX_SHRUNK);
  const sections = [];
  const mismatches: Mismatch[] = [];
  const told: string[] = [];
  const deadline = Date.now() + o.shrinkMs;
  for (const [k, f] of todo.entries()) {
    o.progress(`${check}: ${f.sig} at step ${f.step}; replaying and shrinking`);
    const until = Date.now() + (deadline - Date.now()) / (todo.length - k);
    const s = await shrinkFound(env, f, lines.slice(f.from, f.step), o, until, name);
    told.push(`${f.sig} (${f.count}x, first at step ${f.step}: ${formatOp(lines[f.step - 1]!.op)}; ${s.how})`);
    mismatches.push(...s.mismatches);
    sections.push({ title: `${f.sig}: ${s.how}`, lines: s.lines });
  }
  const more = found.size - todo.length;
  const details = `${lines.length} of ${o.ops} ops in ${restarts + 1} attempts${stopped ? ` (${stopped})` : ''}, ${rate} ops/s; `
    + `${found.size} distinct differences: ${told.join('; ')}${more > 0 ? `; ${more} more not shrunk` : ''}${named}`;
  const header = [`virtiofs harness --ops ${o.ops} --seed ${o.seed}: ${found.size} distinct differences, each in a directory of its own`];
  return { ...base, status: 'fail', details, mismatches, repro: replayScript(sections, header) };
}

/** The smallest sequence found in time that shows f again, from its attempt's ops. */
async function shrinkFound(env: WriteEnv, f: Found, run: ReplayLine[], o: RandomOptions, until: number, name: () => string) {
  const hits = (s: SequenceResult) => s.failures.find((x) => signatureOf(opAt(s.lines, x.mismatches[0]!), x.mismatches) === f.sig);
  // Every replay within the budget: one of thousands of ops must not outlast it.
  const replay = (ops: Op[], resultsOnly: boolean, deadline = until) => runSequence(env, name(), ops, {
    walkEvery: o.walkEvery, resultsOnly, deadline,
    stop: (mm, so) => !errnoOnly(mm) || signatureOf(opAt(so, mm[0]!), mm) === f.sig,
  });
  // A difference in an errno alone is looked for by results alone (faster).
  const fast = errnoOnly(f.mismatches);
  const fails = async (ops: Op[]) => { const r = await replay(ops, fast); return !r.timedOut && hits(r) !== undefined; };
  const ops = run.map((l) => l.op);
  if (o.shrinkMs <= 0) return { how: 'not shrunk (no time given)', lines: run, mismatches: f.mismatches };
  const first = await replay(ops, fast);
  if (first.timedOut) return { how: 'not shrunk: replaying it took longer than the time given (--shrink-seconds)', lines: run, mismatches: f.mismatches };
  if (!hits(first)) return { how: 'not seen again when replayed in a fresh sandbox (not shrunk)', lines: run, mismatches: f.mismatches };
  const budget = { until, probes: 0 };
  const small = await shrink(ops, fails, budget);
  // The reproduction as a full comparison sees it: results, trees, times.
  // The last replay may take as long again as the budget allowed the shrinking.
  const full = await replay(small, false, Date.now() + Math.max(60_000, o.shrinkMs));
  const hit = hits(full);
  if (!hit) return { how: `shrunk to ${small.length} ops in ${budget.probes} replays, but a full comparison of them stops at another difference first`, lines: full.lines, mismatches: full.mismatches };
  const earlier = full.failures.filter((x) => x.step < hit.step).length;
  return {
    how: `shrunk to ${hit.step} ops in ${budget.probes} replays${earlier ? ` (${earlier} other differences on the way)` : ''}`,
    lines: full.lines.slice(0, hit.step), mismatches: hit.mismatches,
  };
}
