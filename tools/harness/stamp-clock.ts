// The clock a change is stamped with, as the harness needs it: "which times
// did this op change" is only a fair question when the op's stamps cannot
// equal the stamps already in the tree. They can: Linux stamps a change with
// its coarse clock (one tick: 4 ms at HZ=250) unless the inode's ctime was
// read since its last change (multigrain timestamps, 6.13+), and tmpfs's
// unlink and link stamp the directory with the *child's* new ctime — so an
// unlink in the same tick as the directory's last change leaves the
// directory's mtime as it was, on whichever side ran the two ops closer
// together. Before each op the harness waits until the clock has passed
// every ctime in both trees; then every change shows, on both sides.
//
// The clock is read as a change would be stamped: the ctime of a file just
// created (never stat'd before, so it takes the coarse clock, or the
// multigrain floor when that is later). The probe files are not unlinked one
// by one (an unlink of a stat'd file takes a fine-grained stamp and moves
// the floor); the directory is emptied now and then instead.

import * as fs from 'node:fs';
import * as path from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Probe files kept before the directory is emptied. */
const PROBES_PER_DIR = 1024;
/** A stamp this far ahead is not the clock's (a clock set back): stop waiting. */
const MAX_WAIT_MS = 2000;

export class StampClock {
  private probes = 0;

  /** `dir`: a directory of the harness's own, on the trees' filesystem (removed by close()). */
  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** The stamp a change made now would get. */
  now(): bigint {
    if (this.probes >= PROBES_PER_DIR) {
      fs.rmSync(this.dir, { recursive: true, force: true });
      fs.mkdirSync(this.dir, { mode: 0o700 });
      this.probes = 0;
    }
    const fd = fs.openSync(path.join(this.dir, String(this.probes++)), 'wx', 0o600);
    try { return fs.fstatSync(fd, { bigint: true }).ctimeNs; } finally { fs.closeSync(fd); }
  }

  /** Resolves once a change would be stamped later than `stamp` (at most MAX_WAIT_MS). */
  async past(stamp: bigint): Promise<void> {
    const t0 = Date.now();
    while (this.now() <= stamp && Date.now() - t0 < MAX_WAIT_MS) await sleep(1);
  }

  close(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
