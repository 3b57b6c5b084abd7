// The backend's log sink: one line per event worth an operator's attention.

export interface PassthroughLogger {
  warn(msg: string): void;
  debug?(msg: string): void;
}

export const consoleLogger: PassthroughLogger = {
  warn: (msg) => { process.stderr.write(`passthrough: ${msg}\n`); },
};
