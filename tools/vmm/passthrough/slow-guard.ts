// Blocking host calls on the event loop, with a way out. A syscall on a
// local filesystem whose data is cached takes a few us, while the libuv
// thread pool costs two thread wake-ups (~100-200 us here) per call; so the
// server calls the host synchronously, as virtiofsd's threads do, and times
// each call. A key (an open file, a filesystem) whose blocking call took
// longer than the threshold (a network filesystem, a cold disk) goes to the
// thread pool. A GC pause or a preempted VM can make one fast call look
// slow, so a key whose calls then complete fast in the thread pool RECOVER
// times in a row comes back, at most MAX_STRIKES - 1 times: a slow host
// blocks the event loop at most MAX_STRIKES times per key.

export const MAX_STRIKES = 3;
export const RECOVER = 32;

interface State { slow: boolean; strikes: number; streak: number }

/** Map for number/bigint keys, WeakMap for objects (open files). */
export interface SlowStore<K> {
  get(k: K): State | undefined;
  set(k: K, v: State): unknown;
}

export class SlowGuard<K> {
  constructor(
    /** A blocking call longer than this (ms) marks its key slow. */
    readonly slowMs: number,
    readonly clock: () => number,
    private readonly store: SlowStore<K>,
    /** Told each time a key turns slow; `final` when it stays so for good. */
    private readonly onSlow?: (k: K, ms: number, strikes: number, final: boolean) => void,
  ) {}

  /** Whether calls for `k` may block the event loop. */
  fast(k: K): boolean {
    return this.store.get(k)?.slow !== true;
  }

  /** Start of a call (blocking or not): pass the result to done()/asyncDone(). */
  start(): number {
    return this.clock();
  }

  /** End of a blocking call started at t0 (call it when the call threw too). */
  done(k: K, t0: number): void {
    const ms = this.clock() - t0;
    if (ms <= this.slowMs) return;
    let s = this.store.get(k);
    if (s === undefined) this.store.set(k, s = { slow: false, strikes: 0, streak: 0 });
    if (s.slow) return;
    s.slow = true;
    s.strikes++;
    s.streak = 0;
    this.onSlow?.(k, ms, s.strikes, s.strikes >= MAX_STRIKES);
  }

  /** End of a thread-pool call for a slow key: enough fast ones in a row
   *  bring the key back to blocking calls, unless it struck out. */
  asyncDone(k: K, t0: number): void {
    const s = this.store.get(k);
    if (s === undefined || !s.slow || s.strikes >= MAX_STRIKES) return;
    if (this.clock() - t0 > this.slowMs) { s.streak = 0; return; }
    if (++s.streak >= RECOVER) s.slow = false;
  }

  /** Runs one blocking call for `k`, timed. */
  run<T>(k: K, f: () => T): T {
    const t0 = this.start();
    try {
      return f();
    } finally {
      this.done(k, t0);
    }
  }

  /** Awaits one thread-pool call for `k`, timed. */
  async runAsync<T>(k: K, p: () => Promise<T>): Promise<T> {
    const t0 = this.start();
    try {
      return await p();
    } finally {
      this.asyncDone(k, t0);
    }
  }
}
