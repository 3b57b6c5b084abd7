// The backend's log sink: one line per event worth an operator's attention.

import type { FuseLogger } from '../fuse';

export type PassthroughLogger = FuseLogger;

export const consoleLogger: PassthroughLogger = {
  warn: (msg) => { process.stderr.write(`passthrough: ${msg}\n`); },
};
