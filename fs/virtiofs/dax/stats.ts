// What the DAX window manager shows of itself, for the shell's `dax`
// command, the harness and the bench: its counters and a snapshot of the window.

import { errnoName } from '../../../core/errno';

/** Why a read did not (fully) go through the window; the caller uses FUSE_READ. */
export type DaxFallbackReason =
  | 'no-window' // the device has no window, or it is smaller than one chunk
  | 'enosys' // the server answered ENOSYS to FUSE_SETUPMAPPING (remembered)
  | 'setupmapping' // FUSE_SETUPMAPPING failed with another errno (EIO, ENOMEM...)
  | 'copy'; // copying out of the window failed

export interface DaxFallback {
  readonly reason: DaxFallbackReason;
  /** The errno behind it (ENODEV for 'no-window', ENOSYS for 'enosys'...). */
  readonly errno: number;
}

export const DAX_FALLBACK_REASONS: readonly DaxFallbackReason[] = ['no-window', 'enosys', 'setupmapping', 'copy'];

export interface DaxStatsSnapshot {
  hits: number;
  misses: number;
  chunksMapped: number;
  chunksEvicted: number;
  setupMappingSent: number;
  removeMappingSent: number;
  fallbacks: Record<DaxFallbackReason, number>;
  /** SETUPMAPPING failures behind 'setupmapping' fallbacks, by errno name. */
  fallbackErrnos: Record<string, number>;
  bytesDax: number;
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
  readonly fallbacks: Record<DaxFallbackReason, number> = { 'no-window': 0, enosys: 0, setupmapping: 0, copy: 0 };
  readonly fallbackErrnos: Record<string, number> = {};
  bytesDax = 0;
  /** Counted by the caller (noteFuseRead), which does the FUSE_READs. */
  bytesFuseRead = 0;

  noteFallback(reason: DaxFallbackReason, errno: number): void {
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
      fallbacks: { ...this.fallbacks },
      fallbackErrnos: { ...this.fallbackErrnos },
      bytesDax: this.bytesDax,
      bytesFuseRead: this.bytesFuseRead,
    };
  }
}

/** One mapping as the shell draws it. nodeid null: a dropped file's chunks
 *  the placement still holds (OSv's stack: until they are evicted). */
export interface DaxSnapshotMapping {
  readonly nodeid: bigint | null;
  readonly mstart: number;
  readonly nchunks: number;
  readonly fstart: number;
  readonly foffset: number;
  readonly moffset: number;
}

export interface DaxSnapshot {
  readonly chunkSize: number;
  readonly windowChunks: number;
  readonly firstEmpty: number;
  readonly canMap: boolean;
  readonly mappings: DaxSnapshotMapping[];
}
