// Verified directory fds kept open, keyed by nodeid, least recently used
// first out, so that repeated requests in one directory neither reopen nor
// re-verify it from scratch (see docs/PASSTHROUGH.md, Confinement). An fd
// in use by a request (refs > 0) is closed only when the last user lets it
// go: an fd number closed under an in-flight /proc/self/fd/<fd>/<name> could
// be reused by an unrelated open.

import type { BigIntStats } from 'node:fs';

export class DirFd {
  refs = 0;
  dropped = false;
  /** The directory's attributes at the last verification. */
  stat: BigIntStats;
  /** /proc/self/fd/<fd>/: names below it are resolved from the directory. */
  private readonly prefix: Buffer;

  constructor(readonly fd: number, stat: BigIntStats,
    private closeFd: ((fd: number) => void) | null) {
    this.stat = stat;
    this.prefix = Buffer.from(`/proc/self/fd/${fd}/`);
  }

  /** /proc/self/fd/<fd>/<name>: a name resolved from this directory. */
  child(name: Buffer): Buffer {
    return Buffer.concat([this.prefix, name]);
  }

  /** The same for another process (lsattr): /proc/<pid>/fd/<fd>/<name>. */
  childForChild(name: string): string {
    return `/proc/${process.pid}/fd/${this.fd}/${name}`;
  }

  /** The directory itself, for a listing. */
  get self(): Buffer {
    return this.prefix;
  }

  acquire(): this {
    this.refs++;
    return this;
  }

  release(): void {
    this.refs--;
    this.closeIfDone();
  }

  drop(): void {
    this.dropped = true;
    this.closeIfDone();
  }

  private closeIfDone(): void {
    if (this.dropped && this.refs === 0 && this.closeFd !== null) {
      const close = this.closeFd;
      this.closeFd = null; // once only
      close(this.fd);
    }
  }
}

export class DirCache {
  /** Map order is insertion order: the first key is the least recently used. */
  private readonly map = new Map<bigint, DirFd>();

  constructor(readonly max = 256) {}

  get size(): number {
    return this.map.size;
  }

  /** The cached fd of nodeid, now the most recently used. */
  get(nodeid: bigint): DirFd | undefined {
    const d = this.map.get(nodeid);
    if (d !== undefined) {
      this.map.delete(nodeid);
      this.map.set(nodeid, d);
    }
    return d;
  }

  put(nodeid: bigint, d: DirFd): void {
    this.drop(nodeid);
    this.map.set(nodeid, d);
    while (this.map.size > this.max) {
      const [k, old] = this.map.entries().next().value as [bigint, DirFd];
      this.map.delete(k);
      old.drop();
    }
  }

  /** Forgets nodeid's fd (closed now, or when its last user is done). */
  drop(nodeid: bigint): void {
    const d = this.map.get(nodeid);
    if (d === undefined) return;
    this.map.delete(nodeid);
    d.drop();
  }

  clear(): void {
    const all = [...this.map.values()];
    this.map.clear();
    for (const d of all) d.drop();
  }
}
