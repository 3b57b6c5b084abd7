// The one progress printer of the programs (npm start, the bench, the
// harness). On a terminal: one line rewritten in place, at most ten times a
// second. Off a terminal (logs, CI, pipes): the latest status as a plain
// line at most every few seconds, so a log grows by a line per interval, not
// per step. Lines that must stay (a finished pass, a result) go through
// line(), which is never dropped.

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** false: print only line()s (--quiet still prints nothing). Default true. */
  enabled?: boolean;
  /** Off a terminal, the least time between two status lines (default 5 s,
   *  or VIRTIOFS_PROGRESS_INTERVAL_MS: 0 prints every status, as tests want). */
  intervalMs?: number;
  /** Terminal or not; default the stream's isTTY. */
  tty?: boolean;
  /** The clock (tests pass their own). */
  now?: () => number;
}

export const TTY_INTERVAL_MS = 100;
export const LOG_INTERVAL_MS = 5000;

export class ProgressPrinter {
  private readonly tty: boolean;
  private readonly enabled: boolean;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private last: number;
  private shown = false;
  /** Set by quiet(): nothing at all is printed from then on. */
  private silent = false;

  constructor(private readonly out: ProgressStream, opts: ProgressOptions = {}) {
    this.tty = opts.tty ?? out.isTTY === true;
    this.enabled = opts.enabled ?? true;
    const env = Number(process.env.VIRTIOFS_PROGRESS_INTERVAL_MS);
    this.intervalMs = opts.intervalMs ?? (process.env.VIRTIOFS_PROGRESS_INTERVAL_MS && env >= 0 ? env : LOG_INTERVAL_MS);
    this.now = opts.now ?? Date.now;
    // Off a terminal the first status waits one interval: a short step prints none.
    this.last = this.tty ? 0 : this.now();
  }

  /** The current status; shown when the interval allows. */
  update(text: string): void {
    if (!this.enabled || this.silent) return;
    const t = this.now();
    if (t - this.last < (this.tty ? TTY_INTERVAL_MS : this.intervalMs)) return;
    this.last = t;
    if (this.tty) {
      const width = Math.max(20, (this.out.columns ?? 100) - 1);
      this.out.write(`\r\x1b[K${text.length > width ? text.slice(0, width) : text}`);
      this.shown = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** A line that stays (the status line, if shown, is cleared first). */
  line(text: string): void {
    if (this.silent) return;
    this.clear();
    this.out.write(`${text}\n`);
  }

  /** Removes the status line from a terminal. */
  clear(): void {
    if (this.shown) { this.out.write('\r\x1b[K'); this.shown = false; }
  }

  /** Clears and prints nothing more (an interrupted run says only that). */
  quiet(): void {
    this.clear();
    this.silent = true;
  }
}

/** "label: 12/314 files, 3.0/15.0 MiB (20%)": the status of a pass over files. */
export function filesStatus(label: string, files: number, totalFiles: number, bytes: number, totalBytes: number): string {
  const mib = (n: number): string => (n / (1 << 20)).toFixed(1);
  const pct = totalBytes > 0 ? Math.floor((bytes / totalBytes) * 100) : 100;
  return `${label}: ${files}/${totalFiles} files, ${mib(bytes)}/${mib(totalBytes)} MiB (${pct}%)`;
}
