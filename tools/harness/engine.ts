// One attempt of a sequence of ops: a fresh sandbox in the share (the guest
// works there, through the VFS) and a fresh reference sandbox beside the
// share (the host agents work there, through node:fs). After every step:
// both results, the two trees as the host sees them, and which times the
// op changed on each side; the guest's own view of its sandbox on demand.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Vfs } from '../../core/vfs';
import { compareOutcome, type Mismatch } from './compare';
import { guestOp } from './guest-ops';
import type { HostAgents } from './host-ops';
import { formatOp, ROOT, withPaths, type Op } from './ops';
import type { ReplayLine } from './replay';
import type { StampClock } from './stamp-clock';
import {
  compareGuestView, compareTimeChanges, compareTrees, HashCache, snapshot, timeChanges, type Snapshot,
} from './snapshot';

/** Where a run of the write checks works, and with what. */
export interface WriteEnv {
  vfs: Vfs;
  /** Host directory the device shares (guest "/"). */
  shareRoot: string;
  /** Host directory the reference sandboxes go in (beside the share). */
  refBase: string;
  agents: HostAgents;
  /** The device reports the host's inode numbers (compare st_ino, d_ino). */
  inoComparable: boolean;
  /** For EXDEV: a directory of the share on another host filesystem
   *  (relative to the share), and one on another filesystem than refBase. */
  xdev?: { shareRel: string; refDir: string };
  /** Before each op: waits until its stamps cannot equal those in the trees. */
  clock: StampClock;
}

export interface StepResult { host: string; guest: string; mismatches: Mismatch[] }

/** "@x/..." names the sandbox on the other filesystem. */
const X = '@x';

function merge(main: Snapshot, x: Snapshot | undefined): Snapshot {
  if (!x) return main;
  const out = new Map(main);
  for (const [rel, n] of x) out.set(rel ? `${X}/${rel}` : X, { ...n, rel: rel ? `${X}/${rel}` : X });
  return out;
}

export class Attempt {
  private readonly refRoot: string;
  private readonly shareDir: string;
  private readonly guestRoot: string;
  private readonly refX?: string;
  private readonly shareX?: string;
  private readonly guestX?: string;
  private readonly cache = new HashCache();
  private prevRef: Snapshot;
  private prevShare: Snapshot;
  /** Mismatches already reported: a difference that stays is told once. */
  private readonly told = new Set<string>();
  steps = 0;

  /** `name`: the sandbox's directory name, fresh per attempt. */
  constructor(private readonly env: WriteEnv, readonly name: string) {
    this.refRoot = path.join(env.refBase, name);
    this.shareDir = path.join(env.shareRoot, name);
    this.guestRoot = `/${name}`;
    const dirs = [this.refRoot, this.shareDir];
    if (env.xdev) {
      this.refX = path.join(env.xdev.refDir, name);
      this.shareX = path.join(env.shareRoot, env.xdev.shareRel, name);
      this.guestX = `/${env.xdev.shareRel}/${name}`;
      dirs.push(this.refX, this.shareX);
    }
    for (const d of dirs) { fs.mkdirSync(d); fs.chmodSync(d, 0o755); }
    this.prevRef = this.snap('ref');
    this.prevShare = this.snap('share');
  }

  private snap(side: 'ref' | 'share', fresh = false): Snapshot {
    const main = snapshot(side === 'ref' ? this.refRoot : this.shareDir, this.cache, fresh);
    const xr = side === 'ref' ? this.refX : this.shareX;
    return merge(main, xr ? snapshot(xr, this.cache, fresh) : undefined);
  }

  private map(p: string, side: 'ref' | 'guest'): string {
    const x = p === X || p.startsWith(`${X}/`);
    if (x && !this.refX) throw new Error('this op needs a directory on another host filesystem (xdev)');
    const rest = x ? p.slice(X.length + 1) : p;
    const root = side === 'ref' ? (x ? this.refX! : this.refRoot) : (x ? this.guestX! : this.guestRoot);
    // Joined as strings: "a/.." must reach the kernel as written.
    return rest ? `${root}/${rest}` : root;
  }

  /** The reference sandbox as of the last step (the random mode picks names from it). */
  refTree(): Snapshot { return this.prevRef; }

  /** Applies op on both sides and compares everything (`resultsOnly`: the results alone). */
  async step(op: Op, resultsOnly = false): Promise<StepResult> {
    const i = ++this.steps;
    if (!resultsOnly) await this.env.clock.past(latestCtime(this.prevRef, this.prevShare));
    const host = await this.env.agents.run(withPaths(op, (p) => this.map(p, 'ref')), op.as ?? ROOT);
    const guest = await guestOp(this.env.vfs, withPaths(op, (p) => this.map(p, 'guest')));
    if (resultsOnly) return { host, guest, mismatches: this.fresh(i, compareOutcome(formatOp(op), 'result', host, guest)) };
    const ref = this.snap('ref');
    const share = this.snap('share');
    const found = [
      ...compareOutcome(formatOp(op), 'result', host, guest),
      ...compareTrees(ref, share),
      ...compareTimeChanges(timeChanges(this.prevRef, ref), timeChanges(this.prevShare, share)),
    ];
    this.prevRef = ref;
    this.prevShare = share;
    return { host, guest, mismatches: this.fresh(i, found) };
  }

  /** The guest's walk of its sandbox against the host's view of the same
   *  directory (every file read again on the host too). */
  async guestWalk(): Promise<Mismatch[]> {
    const { vfs, inoComparable } = this.env;
    const found = await compareGuestView(vfs, this.guestRoot, snapshot(this.shareDir, this.cache, true), inoComparable);
    if (this.shareX) found.push(...await compareGuestView(vfs, this.guestX!, snapshot(this.shareX, this.cache, true), inoComparable));
    return this.fresh(this.steps, found);
  }

  private fresh(step: number, found: Mismatch[]): Mismatch[] {
    const out: Mismatch[] = [];
    for (const m of found) {
      const k = `${m.path}\0${m.field}\0${m.host}\0${m.guest}`;
      if (m.field !== 'result' && this.told.has(k)) continue;
      this.told.add(k);
      out.push({ ...m, path: `[${step}] ${m.path}` });
    }
    return out;
  }

  /** Removes both sandboxes (as root, whatever their modes). */
  remove(): void {
    for (const d of [this.refRoot, this.shareDir, this.refX, this.shareX]) if (d) fs.rmSync(d, { recursive: true, force: true });
  }
}

/** The latest ctime in the trees (ctime, unlike mtime, only ever takes the clock). */
function latestCtime(...trees: Snapshot[]): bigint {
  let max = 0n;
  for (const t of trees) for (const n of t.values()) if (n.ctimeNs > max) max = n.ctimeNs;
  return max;
}

export interface SequenceResult {
  /** Each step run: the op and both results. */
  lines: ReplayLine[];
  mismatches: Mismatch[];
  /** The steps (1-based) with mismatches, in order. */
  failures: Array<{ step: number; mismatches: Mismatch[] }>;
  /** Stopped at `deadline` before the last op. */
  timedOut?: boolean;
}

export interface SequenceOptions {
  /** Walk the guest's view every this many steps, and after the last. */
  walkEvery: number;
  /** Stop after a step whose mismatches this says are enough (`lines`: the steps so far). */
  stop?: (mismatches: Mismatch[], lines: readonly ReplayLine[]) => boolean;
  /** Per step: the host result the check is written for ("ok" matches "ok N ..."). */
  expected?: ReadonlyArray<string | undefined>;
  /** Compare the results alone: no trees, times or guest walks (a replay
   *  looking for a difference in an errno needs no more, and is faster). */
  resultsOnly?: boolean;
  /** Stop before an op at this Date.now() (a shrinking budget). */
  deadline?: number;
}

/** A fresh attempt running `ops`; its sandboxes are removed afterwards. */
export async function runSequence(env: WriteEnv, name: string, ops: readonly Op[], opts: SequenceOptions): Promise<SequenceResult> {
  const a = new Attempt(env, name);
  const out: SequenceResult = { lines: [], mismatches: [], failures: [] };
  const found = (step: number, mm: Mismatch[]) => {
    if (!mm.length) return false;
    out.mismatches.push(...mm);
    out.failures.push({ step, mismatches: mm });
    return opts.stop?.(mm, out.lines) ?? false;
  };
  try {
    for (let i = 0; i < ops.length; i++) {
      if (opts.deadline !== undefined && Date.now() >= opts.deadline) { out.timedOut = true; break; }
      const op = ops[i]!;
      const r = await a.step(op, opts.resultsOnly);
      out.lines.push({ op, host: r.host, guest: r.guest });
      const exp = opts.expected?.[i];
      if (exp !== undefined && r.host !== exp && !r.host.startsWith(`${exp} `)) {
        r.mismatches.push({ path: `[${i + 1}] ${formatOp(op)}`, field: `reference (the check expects ${exp})`, host: r.host, guest: r.guest });
      }
      if (found(i + 1, r.mismatches)) break;
      if (!opts.resultsOnly && ((i + 1) % opts.walkEvery === 0 || i === ops.length - 1)) {
        if (found(i + 1, await a.guestWalk())) break;
      }
    }
  } finally {
    a.remove();
  }
  return out;
}
