// Locks the VFS keeps itself when the filesystem does not (Linux's
// posix_lock_file and flock_lock_file_wait for a FUSE server without
// FUSE_POSIX_LOCKS/FUSE_FLOCK_LOCKS): per file, POSIX record locks by owner
// (a process) with ranges split and merged as fcntl does, and flock locks by
// owner (an open file description). They hold between callers of this VFS
// only; a server that does not know of them cannot enforce them elsewhere.

import { Errno, ErrnoError } from '../errno';
import { F_UNLCK, F_WRLCK } from './fcntl';
import type { FileLock } from './stat';

interface Held {
  owner: bigint;
  type: number;
  start: number;
  end: number;
  pid: number;
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start <= b.end && b.start <= a.end;

class FileLocks {
  posix: Held[] = [];
  flock: Held[] = [];
  readonly waiters = new Set<() => void>();

  wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

export class LocalLocks {
  private readonly files = new Map<string, FileLocks>();

  private of(file: string): FileLocks {
    let f = this.files.get(file);
    if (!f) this.files.set(file, (f = new FileLocks()));
    return f;
  }

  private static conflict(list: Held[], owner: bigint, l: { type: number; start: number; end: number }): Held | undefined {
    return list.find((h) => h.owner !== owner && overlaps(h, l) && (h.type === F_WRLCK || l.type === F_WRLCK));
  }

  /** F_GETLK: the first lock of another owner that conflicts, or type F_UNLCK. */
  getlk(file: string, owner: bigint, l: FileLock): FileLock {
    const c = LocalLocks.conflict(this.of(file).posix, owner, l);
    return c ? { type: c.type, start: c.start, end: c.end, pid: c.pid } : { ...l, type: F_UNLCK };
  }

  /** F_SETLK/F_SETLKW: EAGAIN on a conflict unless `wait`; an abort ends a wait with EINTR. */
  async setlk(file: string, owner: bigint, l: FileLock, wait: boolean, signal?: AbortSignal): Promise<void> {
    const f = this.of(file);
    if (l.type !== F_UNLCK) await this.until(f, () => !LocalLocks.conflict(f.posix, owner, l), wait, signal);
    // Cut the owner's locks out of the range, then add the new one and merge
    // with its neighbours of the same type, as fcntl's ranges behave.
    const rest: Held[] = [];
    for (const h of f.posix) {
      if (h.owner !== owner || !overlaps(h, l)) { rest.push(h); continue; }
      if (h.start < l.start) rest.push({ ...h, end: l.start - 1 });
      if (h.end > l.end) rest.push({ ...h, start: l.end + 1 });
    }
    if (l.type !== F_UNLCK) {
      let n: Held = { owner, type: l.type, start: l.start, end: l.end, pid: l.pid };
      const keep: Held[] = [];
      for (const h of rest) {
        if (h.owner === owner && h.type === n.type && h.start <= n.end + 1 && n.start <= h.end + 1) {
          n = { ...n, start: Math.min(n.start, h.start), end: Math.max(n.end, h.end) };
        } else keep.push(h);
      }
      keep.push(n);
      f.posix = keep;
    } else {
      f.posix = rest;
    }
    f.wake();
    this.tidy(file, f);
  }

  /** flock(2): type F_RDLCK (LOCK_SH), F_WRLCK (LOCK_EX) or F_UNLCK. */
  async flock(file: string, owner: bigint, type: number, wait: boolean, signal?: AbortSignal): Promise<void> {
    const f = this.of(file);
    const whole = { start: 0, end: Number.MAX_SAFE_INTEGER };
    // A conversion drops the old lock first (flock(2) is not atomic here either).
    f.flock = f.flock.filter((h) => h.owner !== owner);
    f.wake();
    if (type !== F_UNLCK) {
      await this.until(f, () => !LocalLocks.conflict(f.flock, owner, { type, ...whole }), wait, signal);
      f.flock.push({ owner, type, ...whole, pid: 0 });
    }
    this.tidy(file, f);
  }

  /** A process closed a descriptor of the file: its POSIX locks on it go (POSIX). */
  releasePosix(file: string, owner: bigint): void {
    const f = this.files.get(file);
    if (!f) return;
    f.posix = f.posix.filter((h) => h.owner !== owner);
    f.wake();
    this.tidy(file, f);
  }

  /** The open file description is gone: its flock lock goes. */
  releaseFlock(file: string, owner: bigint): void {
    const f = this.files.get(file);
    if (!f) return;
    f.flock = f.flock.filter((h) => h.owner !== owner);
    f.wake();
    this.tidy(file, f);
  }

  private until(f: FileLocks, free: () => boolean, wait: boolean, signal?: AbortSignal): Promise<void> {
    if (free()) return Promise.resolve();
    if (!wait) return Promise.reject(new ErrnoError(Errno.EAGAIN));
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!free()) return;
        f.waiters.delete(check);
        signal?.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        f.waiters.delete(check);
        reject(new ErrnoError(Errno.EINTR, 'lock wait aborted'));
      };
      if (signal?.aborted) { abort(); return; }
      f.waiters.add(check);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  private tidy(file: string, f: FileLocks): void {
    if (f.posix.length === 0 && f.flock.length === 0 && f.waiters.size === 0) this.files.delete(file);
  }
}

