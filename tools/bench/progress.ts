// The progress line on stderr: one line rewritten in place on a TTY, a line
// per finished job otherwise (so logs stay readable).

export interface ProgressSink {
  update(text: string): void;
  done(text: string): void;
  clear(): void;
}

export function progressLine(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, enabled: boolean): ProgressSink {
  if (!enabled) return { update() {}, done() {}, clear() {} };
  if (!stream.isTTY) return { update() {}, done(text) { stream.write(`${text}\n`); }, clear() {} };
  let shown = false;
  const put = (text: string) => {
    const width = Math.max(20, (stream.columns ?? 100) - 1);
    stream.write(`\r\x1b[K${text.length > width ? text.slice(0, width) : text}`);
    shown = true;
  };
  return {
    update: put,
    done: put,
    clear() { if (shown) { stream.write('\r\x1b[K'); shown = false; } },
  };
}
