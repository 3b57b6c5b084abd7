// The adaptive rule: when the working set is much larger than the window,
// every miss maps a chunk and evicts another, and a chunk is gone before it
// is read again; a SETUPMAPPING then costs about what the FUSE_READ it
// replaces costs, and DAX ends up slower than FUSE_READ. So, while the
// window is evicting and pays back too little for what it maps, misses are
// served by FUSE_READ (FUSE_WRITE for writes) without mapping; what is
// mapped stays and still serves hits. Mapping is tried again later.
//
// Measured in samples of `sampleChunks` chunks mapped (not time: the rule
// is the same on a fast or a loaded machine, and tests can drive it):
//
//   yield = bytes through the window (read and written) / chunks mapped
//
// A sample in which chunks were evicted and whose yield is under
// `minYield` turns mapping off for `backoff` misses; the next sample after
// that decides again. The backoff doubles each time a sample fails, up to
// `maxBackoff`, and starts over when one pays. For reads of 4 KiB the
// default yield (32 KiB per chunk) is a hit ratio of 7/8: a 1 GiB file read
// at random through a 256 MiB window hits 1/4.
//
// The rule reads the manager's counters at misses only: hits cost nothing.

import type { DaxStats } from './stats';

export interface AdaptiveOptions {
  /** Chunks mapped per sample (default 64). */
  sampleChunks?: number;
  /** Bytes through the window per chunk mapped below which mapping stops (default 32 KiB). */
  minYield?: number;
  /** Misses served without mapping after the first failed sample (default 1024). */
  backoff?: number;
  /** The most (default 32768). */
  maxBackoff?: number;
}

export const ADAPTIVE_DEFAULTS: Required<AdaptiveOptions> = {
  sampleChunks: 64, minYield: 32 * 1024, backoff: 1024, maxBackoff: 32768,
};

export class AdaptiveRule {
  readonly options: Required<AdaptiveOptions>;
  /** Misses still to serve without mapping; 0: mapping. */
  private bypassLeft = 0;
  private backoff: number;
  private startMapped = 0;
  private startEvicted = 0;
  private startBytes = 0;

  constructor(private readonly stats: DaxStats, options: AdaptiveOptions = {}) {
    this.options = { ...ADAPTIVE_DEFAULTS, ...options };
    for (const [k, v] of Object.entries(this.options)) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`dax adaptive rule: ${k} ${v}`);
    }
    this.backoff = this.options.backoff;
    this.restart();
  }

  /** Whether the rule is serving misses without mapping now. */
  get bypassing(): boolean {
    return this.bypassLeft > 0;
  }

  /** A miss: true when it is to be served without mapping (counted by the
   *  caller as an 'adaptive' fallback). */
  bypass(): boolean {
    if (this.bypassLeft > 0) {
      if (--this.bypassLeft === 0) this.restart(); // a new sample decides
      return true;
    }
    const s = this.stats;
    const mapped = s.chunksMapped - this.startMapped;
    if (mapped < this.options.sampleChunks) return false;
    const evicted = s.chunksEvicted - this.startEvicted;
    const bytes = s.bytesDax + s.bytesDaxWritten - this.startBytes;
    if (evicted > 0 && bytes / mapped < this.options.minYield) {
      this.bypassLeft = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.options.maxBackoff);
      s.adaptiveSwitches++;
      return this.bypass();
    }
    this.backoff = this.options.backoff; // mapping pays (or nothing was evicted)
    this.restart();
    return false;
  }

  private restart(): void {
    const s = this.stats;
    this.startMapped = s.chunksMapped;
    this.startEvicted = s.chunksEvicted;
    this.startBytes = s.bytesDax + s.bytesDaxWritten;
  }
}
