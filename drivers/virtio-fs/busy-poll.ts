// Bounded busy-polling of a used ring after a notify, as vhost's busy-poll
// and Linux's NAPI busy-poll do: spin on used.idx for at most a bound, then
// go back to waiting for the interrupt. It pays when the device answers
// within the bound (virtiofsd on mapped guest RAM: ~10-20 us) — the answer is
// taken without the interrupt's wake-up, and with no hop through the device
// model. It costs the CPU it spins, so it is adaptive: after MISS_RUN
// fruitless spins in a row the next kicks skip it, 16 at first, doubling to
// 1024; one hit turns it fully on again. It is only ever used on rings with
// a live view of guest memory: polling a ring reached by positioned I/O
// would be a syscall per look.

/** Default bound, microseconds: about one virtiofsd round trip here. */
export const DEFAULT_BUSY_POLL_US = 30;
/** Fruitless spins in a row before backing off. */
export const MISS_RUN = 3;
const MIN_BACKOFF = 16;
const MAX_BACKOFF = 1024;

export interface BusyPollStats {
  /** Spins made, and those that found the answer. */
  polls: number;
  hits: number;
  /** Kicks that skipped the spin while backed off. */
  skipped: number;
  /** Time spent spinning, microseconds. */
  spinUs: number;
}

export class BusyPoller {
  readonly stats: BusyPollStats = { polls: 0, hits: 0, skipped: 0, spinUs: 0 };
  private misses = 0;
  private backoff = 0;
  private skip = 0;

  constructor(readonly boundUs: number, readonly adaptive = true,
              private readonly now: () => number = () => performance.now()) {
    if (!Number.isFinite(boundUs) || boundUs <= 0) throw new RangeError(`busy-poll bound ${boundUs} us`);
  }

  /** Spin until `ready()` or the bound; true when it became ready. */
  poll(ready: () => boolean): boolean {
    if (this.skip > 0) {
      this.skip--;
      this.stats.skipped++;
      return false;
    }
    const t0 = this.now();
    const end = t0 + this.boundUs / 1000;
    let hit = ready();
    while (!hit && this.now() < end) hit = ready();
    this.stats.polls++;
    this.stats.spinUs += (this.now() - t0) * 1000;
    if (hit) {
      this.stats.hits++;
      this.misses = 0;
      this.backoff = 0;
    } else if (this.adaptive && ++this.misses >= MISS_RUN) {
      this.misses = 0;
      this.backoff = Math.min(MAX_BACKOFF, Math.max(MIN_BACKOFF, this.backoff * 2));
      this.skip = this.backoff;
    }
    return hit;
  }
}
