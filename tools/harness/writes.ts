// The write side of a harness run: the reference directory beside the
// share, the host agents, a directory of the share on another host
// filesystem (EXDEV), and the write checks and random run of one mount.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Vfs } from '../../core/vfs';
import type { WriteEnv } from './engine';
import { HostAgents } from './host-ops';
import { runRandom } from './random';
import { StampClock } from './stamp-clock';
import type { CheckResult } from './result';
import { runWriteChecks } from './write-checks';

/** The share's directory on another host filesystem (the harness's own tree only). */
export const XDEV = '.virtiofs-harness-xdev';

export interface WriteOptions {
  /** Random run: ops and seed (none without --ops). */
  ops?: number;
  seed: number;
  walkEvery: number;
  shrinkMs: number;
}

/** What every mount of one harness run shares. */
export class WriteRig {
  readonly agents = new HostAgents();
  readonly refBase: string;
  private readonly refX: string;
  private readonly clock: StampClock;
  private xdevMounted = '';
  /** Why the share has no directory on another filesystem, if it has none. */
  xdevMissing = '';

  constructor(readonly shareRoot: string) {
    // Beside the share: the reference sees the same filesystem type.
    const parent = path.dirname(shareRoot);
    let base: string;
    try { base = fs.mkdtempSync(path.join(parent, '.virtiofs-harness-ref-')); } catch { base = fs.mkdtempSync(path.join(os.tmpdir(), 'virtiofs-harness-ref-')); }
    this.refBase = base;
    this.refX = fs.mkdtempSync(path.join('/dev/shm', 'virtiofs-harness-refx-'));
    // On the reference's filesystem, which is the share's kind.
    this.clock = new StampClock(path.join(base, '.clock'));
    // The reference's parents are the share root's own mode and owner: a
    // non-root caller reaches both sandboxes, or neither.
    const st = fs.statSync(shareRoot);
    for (const d of [this.refBase, this.refX]) {
      fs.chmodSync(d, st.mode & 0o7777);
      try { fs.chownSync(d, st.uid, st.gid); } catch { /* not root: the harness's own, as the share is */ }
    }
  }

  /** Mounts a small tmpfs at share/XDEV, before the device model starts
   *  (virtiofsd's mount namespace takes no later mounts). */
  mountXdev(): void {
    const dir = path.join(this.shareRoot, XDEV);
    try {
      fs.mkdirSync(dir, { mode: 0o755 });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0755', 'virtiofs-harness-xdev', dir], { stdio: 'pipe' });
      this.xdevMounted = dir;
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      this.xdevMissing = `mount -t tmpfs: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`;
    }
  }

  private xdev(): WriteEnv['xdev'] {
    if (!this.xdevMounted) return undefined;
    // Both sides must cross a filesystem boundary.
    if (fs.statSync(this.refX).dev === fs.statSync(this.refBase).dev) return undefined;
    return { shareRel: XDEV, refDir: this.refX };
  }

  env(vfs: Vfs, inoComparable: boolean): WriteEnv {
    const xdev = this.xdev();
    return { vfs, shareRoot: this.shareRoot, refBase: this.refBase, agents: this.agents, inoComparable, xdev, clock: this.clock };
  }

  /** The write checks, then the random run, on one mount. */
  async run(vfs: Vfs, inoComparable: boolean, tag: string, o: WriteOptions, progress: (m: string) => void): Promise<CheckResult[]> {
    const env = this.env(vfs, inoComparable);
    const out = await runWriteChecks(env, tag, progress, this.agents.renameFlags);
    if (o.ops) {
      progress(`random: ${o.ops} ops, seed ${o.seed}`);
      out.push(await runRandom(env, tag, { ops: o.ops, seed: o.seed, walkEvery: o.walkEvery, shrinkMs: o.shrinkMs, progress }));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.agents.close();
    if (this.xdevMounted) {
      try { execFileSync('umount', [this.xdevMounted], { stdio: 'pipe' }); } catch { execFileSync('umount', ['-l', this.xdevMounted], { stdio: 'pipe' }); }
      fs.rmdirSync(this.xdevMounted);
      this.xdevMounted = '';
    }
    fs.rmSync(this.refBase, { recursive: true, force: true });
    fs.rmSync(this.refX, { recursive: true, force: true });
  }
}
