// Progress of a long read: one line rewritten in place on a terminal,
// plain lines at most every `intervalMs` otherwise (logs, CI, pipes).

export class Progress {
  private last = 0;
  private shown = false;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly label: string,
    private readonly totalFiles: number,
    private readonly totalBytes: number,
    private readonly intervalMs = 1000,
  ) {}

  static line(label: string, files: number, totalFiles: number, bytes: number, totalBytes: number): string {
    const mib = (n: number): string => (n / (1 << 20)).toFixed(1);
    const pct = totalBytes > 0 ? Math.floor((bytes / totalBytes) * 100) : 100;
    return `${label}: ${files}/${totalFiles} files, ${mib(bytes)}/${mib(totalBytes)} MiB (${pct}%)`;
  }

  update(files: number, bytes: number): void {
    const now = Date.now();
    const tty = this.out.isTTY === true;
    const done = files === this.totalFiles;
    if (!done && now - this.last < (tty ? 100 : this.intervalMs)) return;
    this.last = now;
    const text = Progress.line(this.label, files, this.totalFiles, bytes, this.totalBytes);
    if (tty) { this.out.write(`\r\x1b[K${text}`); this.shown = true; } else if (!done) this.out.write(`${text}\n`);
  }

  /** Ends the progress display with a final plain line. */
  finish(text: string): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.out.write(`${text}\n`);
  }
}
