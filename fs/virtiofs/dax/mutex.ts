// A FIFO async mutex: the manager holds it from choosing chunks to map until
// the data is copied out, as OSv holds dax_manager::_lock.

export type Release = () => void;

export class AsyncMutex {
  private locked = false;
  private waiters: Array<(release: Release) => void> = [];
  private head = 0;

  get isLocked(): boolean {
    return this.locked;
  }

  lock(): Promise<Release> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return; // a second call must not free someone else's hold
      released = true;
      if (this.head < this.waiters.length) {
        const next = this.waiters[this.head++]!;
        if (this.head > 64 && this.head * 2 > this.waiters.length) {
          this.waiters = this.waiters.slice(this.head);
          this.head = 0;
        }
        next(this.releaser()); // ownership passes directly: no barging
      } else {
        this.locked = false;
        this.waiters.length = 0;
        this.head = 0;
      }
    };
  }
}
