// Blocking host calls on the event loop, with a way out. A syscall on a
// local filesystem whose data is cached takes a few us, while the libuv
// thread pool costs two thread wake-ups (~100-200 us here) per call; so the
// server calls the host synchronously, as virtiofsd's threads do, and times
// each call. A key (an open file, a filesystem) whose blocking calls are
// slow as a rule (a network filesystem, a cold disk) goes to the thread pool.
//
// One slow call proves nothing on a busy machine: a preempted process or a
// stolen vCPU makes a 5 us fstat take milliseconds. So a key turns slow only
// after SLOW_RUN slow blocking calls in a row, or one call slower than
// HUNG_FACTOR x the threshold (a hung NFS server is worth no second wait).
// It is never slow for good: once RECOVER << (trips - 1) thread-pool calls in
// a row came back fast (the backoff doubles with every trip, up to
// MAX_RECOVER), its calls block again. A slow host thus blocks the event loop
// for at most SLOW_RUN calls per MAX_RECOVER of its pool calls.

export const SLOW_RUN = 3;
export const HUNG_FACTOR = 50;
export const RECOVER = 32;
export const MAX_RECOVER = 4096;

interface State { slow: boolean; trips: number; run: number; streak: number }

/** Map for number/bigint keys, WeakMap for objects (open files). */
export interface SlowStore<K> {
  get(k: K): State | undefined;
  set(k: K, v: State): unknown;
}

export class SlowGuard<K> {
  constructor(
    /** A blocking call longer than this (ms) is slow. */
    readonly slowMs: number,
    readonly clock: () => number,
    private readonly store: SlowStore<K>,
    /** Told each time a key turns slow (`trips` counts the times). */
    private readonly onSlow?: (k: K, ms: number, trips: number) => void,
  ) {}

  /** Whether calls for `k` may block the event loop. */
  fast(k: K): boolean {
    return this.store.get(k)?.slow !== true;
  }

  /** Start of a call (blocking or not): pass the result to done()/asyncDone(). */
  start(): number {
    return this.clock();
  }

  /** End of a blocking call started at t0 (call it when the call threw too);
   *  `calls`: it did that many syscalls' work (a listing's getdents batches),
   *  judged by the time of one. */
  done(k: K, t0: number, calls = 1): void {
    const ms = (this.clock() - t0) / Math.max(1, calls);
    let s = this.store.get(k);
    if (ms <= this.slowMs) {
      if (s !== undefined) s.run = 0;
      return;
    }
    if (s === undefined) this.store.set(k, s = { slow: false, trips: 0, run: 0, streak: 0 });
    if (s.slow) return;
    if (++s.run < SLOW_RUN && ms <= this.slowMs * HUNG_FACTOR) return;
    s.slow = true;
    s.trips++;
    s.run = 0;
    s.streak = 0;
    this.onSlow?.(k, ms, s.trips);
  }

  /** End of a thread-pool call for a slow key: enough fast ones in a row
   *  bring the key back to blocking calls. */
  asyncDone(k: K, t0: number): void {
    const s = this.store.get(k);
    if (s === undefined || !s.slow) return;
    if (this.clock() - t0 > this.slowMs) { s.streak = 0; return; }
    if (++s.streak >= Math.min(MAX_RECOVER, RECOVER * 2 ** (s.trips - 1))) s.slow = false;
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
