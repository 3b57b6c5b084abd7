// What the DAX window manager shows of itself, for the shell's `dax`
// command, the harness and the bench: its counters and a snapshot of the window.

import { errnoName } from '../../../core/errno';

/** Why a read or write did not (fully) go through the window; the caller
 *  uses FUSE_READ or FUSE_WRITE (a write's ENOSPC goes to the writer). */
export type DaxFallbackReason =
  | 'no-window' // the device has no window, or it is smaller than one chunk
  | 'enosys' // the server answered ENOSYS to FUSE_SETUPMAPPING (remembered)
  | 'setupmapping' // FUSE_SETUPMAPPING failed with another errno (EIO, ENOSPC...)
  | 'copy' // copying out of (or into) the window failed
  | 'adaptive'; // a miss served without mapping under the adaptive rule (adaptive.ts)

export interface DaxFallback {
  readonly reason: DaxFallbackReason;
  /** The errno behind it (ENODEV for 'no-window', ENOSYS for 'enosys'...). */
  readonly errno: number;
}

/** The reasons counted in `fallbacks`: the window failed. The adaptive
 *  rule's misses are a choice, not a failure: `adaptiveMisses`. */
export type DaxFailureReason = Exclude<DaxFallbackReason, 'adaptive'>;

export const DAX_FALLBACK_REASONS: readonly DaxFailureReason[] = ['no-window', 'enosys', 'setupmapping', 'copy'];

export interface DaxStatsSnapshot {
  hits: number;
  misses: number;
  chunksMapped: number;
  chunksEvicted: number;
  setupMappingSent: number;
  removeMappingSent: number;
  /** SETUPMAPPINGs with FUSE_SETUPMAPPING_FLAG_WRITE that made a new mapping. */
  writeMappings: number;
  /** SETUPMAPPINGs with the WRITE flag over a read mapping, at its moffset. */
  upgrades: number;
  /** SETUPMAPPINGs answered ENOSPC (or EDQUOT): the writer was told. */
  enospc: number;
  /** Chunks removed on the device because a truncation left them past the end. */
  chunksTruncated: number;
  /** Background reclaim runs (Linux's free-range worker; the range pool). */
  reclaimRuns: number;
  /** Times the adaptive rule stopped mapping. */
  adaptiveSwitches: number;
  /** Misses served by FUSE_READ / FUSE_WRITE under the adaptive rule. */
  adaptiveMisses: number;
  fallbacks: Record<DaxFailureReason, number>;
  /** SETUPMAPPING failures behind 'setupmapping' fallbacks, by errno name. */
  fallbackErrnos: Record<string, number>;
  bytesDax: number;
  /** Bytes written through the window. */
  bytesDaxWritten: number;
  bytesFuseRead: number;
}

export class DaxStats {
  /** Lookups (one per chunk run a read needs) found mapped. */
  hits = 0;
  /** Lookups that needed a SETUPMAPPING. */
  misses = 0;
  chunksMapped = 0;
  /** Chunks of live mappings pushed off the stack. */
  chunksEvicted = 0;
  setupMappingSent = 0;
  removeMappingSent = 0;
  writeMappings = 0;
  upgrades = 0;
  enospc = 0;
  chunksTruncated = 0;
  reclaimRuns = 0;
  adaptiveSwitches = 0;
  adaptiveMisses = 0;
  readonly fallbacks: Record<DaxFailureReason, number> = { 'no-window': 0, enosys: 0, setupmapping: 0, copy: 0 };
  readonly fallbackErrnos: Record<string, number> = {};
  /** Bytes read through the window. */
  bytesDax = 0;
  bytesDaxWritten = 0;
  /** Counted by the caller (noteFuseRead), which does the FUSE_READs. */
  bytesFuseRead = 0;

  noteFallback(reason: DaxFallbackReason, errno: number): void {
    if (reason === 'adaptive') { this.adaptiveMisses++; return; }
    this.fallbacks[reason]++;
    if (reason === 'setupmapping') {
      const name = errnoName(errno);
      this.fallbackErrnos[name] = (this.fallbackErrnos[name] ?? 0) + 1;
    }
  }

  snapshot(): DaxStatsSnapshot {
    return {
      hits: this.hits,
      misses: this.misses,
      chunksMapped: this.chunksMapped,
      chunksEvicted: this.chunksEvicted,
      setupMappingSent: this.setupMappingSent,
      removeMappingSent: this.removeMappingSent,
      writeMappings: this.writeMappings,
      upgrades: this.upgrades,
      enospc: this.enospc,
      chunksTruncated: this.chunksTruncated,
      reclaimRuns: this.reclaimRuns,
      adaptiveSwitches: this.adaptiveSwitches,
      adaptiveMisses: this.adaptiveMisses,
      fallbacks: { ...this.fallbacks },
      fallbackErrnos: { ...this.fallbackErrnos },
      bytesDax: this.bytesDax,
      bytesDaxWritten: this.bytesDaxWritten,
      bytesFuseRead: this.bytesFuseRead,
    };
  }
}

/** One mapping as the shell draws it. nodeid null: a dropped file's chunks
 *  the placement still holds (OSv's stack: until they are evicted). A
 *  mapping whose chunks differ in writability is shown as one per run. */
export interface DaxSnapshotMapping {
  readonly nodeid: bigint | null;
  readonly mstart: number;
  readonly nchunks: number;
  readonly fstart: number;
  readonly foffset: number;
  readonly moffset: number;
  /** RW: mapped with FUSE_SETUPMAPPING_FLAG_WRITE; RO otherwise. */
  readonly writable: boolean;
}

export interface DaxSnapshot {
  readonly chunkSize: number;
  readonly windowChunks: number;
  readonly firstEmpty: number;
  /** Chunks free for a new mapping (the stack: above the top). */
  readonly freeChunks: number;
  /** The placement policy: 'lifo' (OSv's stack) or 'lru' (Linux's pool). */
  readonly placement: string;
  readonly canMap: boolean;
  /** The adaptive rule is serving misses without mapping now. */
  readonly bypassing: boolean;
  readonly mappings: DaxSnapshotMapping[];
}
