// What the checks of one mount share: their context, the row they make,
// and the host and guest reads they compare (whole files by sha256, preads,
// a progress meter for long reads).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { O_RDONLY, type Vfs } from '../../core/vfs';
import type { DaxStatsSnapshot } from '../../fs/virtiofs/dax';
import type { Mismatch } from './compare';
import type { CheckResult } from './result';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export interface CheckContext {
  vfs: Vfs;
  /** Host directory the device shares. */
  root: string;
  /** The tree is the harness's own (tree.ts): its named checks apply. */
  ownTree: boolean;
  dax: 'always' | 'never';
  /** The DAX manager's counters after the reads, if the device has one. */
  daxStats(): Promise<DaxStatsSnapshot | undefined>;
  progress(message: string): void;
}

export const g = (rel: string) => `/${rel}`;

export function result(check: string, mismatches: Mismatch[], details: string): CheckResult {
  return { check, status: mismatches.length ? 'fail' : 'pass', details, mismatches };
}

/** Run fn over items with up to `width` calls in flight. */
export async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => { while (next < items.length) await fn(items[next++]!); };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

export function hostPread(fd: number, len: number, offset: number): Buffer {
  const buf = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const n = fs.readSync(fd, buf, done, len - done, offset + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

/** The whole file through the guest, in reads of `chunk`, hashed as it streams. */
export async function guestHash(vfs: Vfs, rel: string, chunk: number, onBytes?: (n: number) => void): Promise<{ hash: string; size: number }> {
  const h = crypto.createHash('sha256');
  const fd = await vfs.open(g(rel), O_RDONLY);
  let size = 0;
  try {
    for (;;) {
      const b = await vfs.read(fd, chunk);
      if (b.length === 0) break;
      h.update(b);
      size += b.length;
      onBytes?.(b.length);
    }
  } finally { await vfs.close(fd); }
  return { hash: h.digest('hex'), size };
}

export function hostHash(p: string): { hash: string; size: number } {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(p, 'r');
  const buf = Buffer.allocUnsafe(4 * MiB);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      size += n;
    }
  } finally { fs.closeSync(fd); }
  return { hash: h.digest('hex'), size };
}

/** A percentage line on stderr every tenth of a long read. */
export function meter(ctx: CheckContext, what: string, total: number): (n: number) => void {
  let done = 0;
  let shown = 0;
  return (n) => {
    done += n;
    const tenth = Math.floor((done / total) * 10);
    if (tenth > shown) { shown = tenth; ctx.progress(`${what}: ${Math.round((done / total) * 100)}% of ${(total / MiB).toFixed(0)} MiB`); }
  };
}
