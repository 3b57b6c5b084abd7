// What the harness reports: results per check, per backend, and whether the
// backends agree.

import type { Mismatch } from './compare';

/** pass; fail (a mismatch); expected (a named difference of the backend, not a failure). */
export type Status = 'pass' | 'fail' | 'expected';

/** Which path served the reads of a mount. */
export type ReadPathKind = 'dax' | 'fuse-read' | 'fuse-read-enosys' | 'fuse-read-no-window' | 'broken';

export interface CheckResult {
  check: string;
  status: Status;
  details: string;
  mismatches: Mismatch[];
  readPath?: ReadPathKind;
  /** With status 'expected': the difference by name (read-path.ts NO_DAX). */
  expected?: string;
  /** A failed write check or random run: a bash script that replays it (replay.ts). */
  repro?: string;
  /** The random run's seed. */
  seed?: number;
  /** Ops per second of a random run (both sides and the comparisons). */
  opsPerSecond?: number;
}

export interface BackendReport {
  /** passthrough, vhost-user, or the --connect address. */
  backend: string;
  /** How the device model was reached or started. */
  description: string;
  checks: CheckResult[];
  durationMs: number;
}

export interface Agreement {
  /** Checks both backends passed. */
  agreed: number;
  /** Named differences a backend's feature set explains. */
  expected: string[];
  /** Checks the backends answered differently (a failure). */
  disagreements: string[];
}

export interface HarnessReport {
  sharedDir: string;
  backends: BackendReport[];
  agreement?: Agreement;
  ok: boolean;
}
