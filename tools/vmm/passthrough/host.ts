// The host metadata calls (open, fstat, lstat, readlink, close, readdir),
// blocking on the event loop while the filesystem is fast, through the
// thread pool once it was not (SlowGuard, keyed by the st_dev of the
// filesystem the call is for: slowness is a filesystem's). Every fd is a
// plain number: a FileHandle could not be closed synchronously.

import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import { SlowGuard } from './slow-guard';
import * as K from '../../../fs/fuse';
import { hostcalls } from '../../native/hostcalls.node';

const openAsync = promisify(fs.open);
const closeAsync = promisify(fs.close);
const fstatAsync = (fd: number): Promise<BigIntStats> => new Promise((resolve, reject) => {
  fs.fstat(fd, { bigint: true }, (err, st) => { if (err) reject(err); else resolve(st); });
});
const BIG = { bigint: true } as const;
/** Entries fetched per getdents by a blocking listing. */
const LIST_BATCH = 256;

/** A directory entry as a listing gives it. */
export interface Listed {
  name: Buffer;
  /** DT_* from the listing. */
  type: number;
  /** d_ino, when the listing had it (the addon's getdents64; Node's Dirent
   *  has none): READDIR then needs no lstat. */
  ino?: bigint;
}

function direntType(e: fs.Dirent): number {
  return e.isFile() ? K.DT_REG : e.isDirectory() ? K.DT_DIR : e.isSymbolicLink() ? K.DT_LNK
    : e.isFIFO() ? K.DT_FIFO : e.isCharacterDevice() ? K.DT_CHR : e.isBlockDevice() ? K.DT_BLK
      : e.isSocket() ? K.DT_SOCK : K.DT_UNKNOWN;
}

const listed = (d: fs.Dirent): Listed => ({ name: d.name as unknown as Buffer, type: direntType(d) });

/** The addon's packed records (u64 ino, u8 type, u16 length, name). */
function unpack(b: Buffer): Listed[] {
  const out: Listed[] = [];
  for (let at = 0; at + 11 <= b.length;) {
    const n = b.readUInt16LE(at + 9);
    out.push({ ino: b.readBigUInt64LE(at), type: b[at + 8]!, name: b.subarray(at + 11, at + 11 + n) });
    at += 11 + n;
  }
  return out;
}

export class HostCalls {
  constructor(readonly guard: SlowGuard<bigint>) {}

  lstat(dev: bigint, path: Buffer): Promise<BigIntStats> | BigIntStats {
    if (!this.guard.fast(dev)) return this.guard.runAsync(dev, () => fs.promises.lstat(path, BIG));
    const t0 = this.guard.start();
    try { return fs.lstatSync(path, BIG); } finally { this.guard.done(dev, t0); }
  }

  fstat(dev: bigint, fd: number): Promise<BigIntStats> | BigIntStats {
    if (!this.guard.fast(dev)) return this.guard.runAsync(dev, () => fstatAsync(fd));
    const t0 = this.guard.start();
    try { return fs.fstatSync(fd, BIG); } finally { this.guard.done(dev, t0); }
  }

  open(dev: bigint, path: Buffer, flags: number): Promise<number> | number {
    if (!this.guard.fast(dev)) return this.guard.runAsync(dev, () => openAsync(path, flags));
    const t0 = this.guard.start();
    try { return fs.openSync(path, flags); } finally { this.guard.done(dev, t0); }
  }

  readlink(dev: bigint, path: Buffer): Promise<Buffer> | Buffer {
    if (!this.guard.fast(dev)) return this.guard.runAsync(dev, () => fs.promises.readlink(path, { encoding: 'buffer' }));
    const t0 = this.guard.start();
    try { return fs.readlinkSync(path, { encoding: 'buffer' }); } finally { this.guard.done(dev, t0); }
  }

  /** Any other host call: blocking while the filesystem is fast, the async
   *  form in the thread pool once it was not. */
  call<T>(dev: bigint, sync: () => T, async: () => Promise<T>): Promise<T> | T {
    if (!this.guard.fast(dev)) return this.guard.runAsync(dev, async);
    const t0 = this.guard.start();
    try { return sync(); } finally { this.guard.done(dev, t0); }
  }

  /** Closes an fd; never throws (there is nothing to do about a failed close). */
  close(dev: bigint, fd: number): Promise<void> | void {
    if (!this.guard.fast(dev)) return this.guard.runAsync(dev, () => closeAsync(fd)).catch(() => undefined);
    const t0 = this.guard.start();
    try { fs.closeSync(fd); } catch { /* already closed */ } finally { this.guard.done(dev, t0); }
  }

  /** The entries of the directory `dirfd` (at `path`; not '.' nor '..').
   *  A blocking listing is timed per getdents batch, so a big directory on
   *  a fast filesystem is not mistaken for a slow one; Node's listing yields
   *  to the event loop whenever it has held it for longer than the threshold. */
  async list(dev: bigint, dirfd: number, path: Buffer): Promise<Listed[]> {
    if (!this.guard.fast(dev)) {
      const list = await this.guard.runAsync(dev, () => fs.promises.readdir(path, { encoding: 'buffer', withFileTypes: true }));
      return list.map((d) => listed(d as unknown as fs.Dirent));
    }
    // An addon built before listdir existed (a stale build) lists as Node does.
    if (typeof hostcalls?.listdir === 'function') {
      const t0 = this.guard.start();
      let packed: Buffer;
      try { packed = hostcalls.listdir(dirfd); } catch (e) { this.guard.done(dev, t0); throw e; }
      const entries = unpack(packed);
      this.guard.done(dev, t0, Math.ceil(entries.length / LIST_BATCH));
      return entries;
    }
    const out: Listed[] = [];
    // Node's types omit the 'buffer' encoding opendir accepts (names are
    // host bytes, not necessarily UTF-8).
    const opts = { encoding: 'buffer', bufferSize: LIST_BATCH } as unknown as fs.OpenDirOptions;
    const dir = this.guard.run(dev, () => fs.opendirSync(path as unknown as string, opts));
    try {
      let slice = this.guard.start();
      for (;;) {
        if (!this.guard.fast(dev)) {
          // Turned slow mid-listing: the rest through the thread pool.
          for (let d = await dir.read(); d !== null; d = await dir.read()) out.push(listed(d));
          break;
        }
        const t0 = this.guard.start();
        let d: fs.Dirent | null;
        try { d = dir.readSync(); } finally { this.guard.done(dev, t0); }
        if (d === null) break;
        out.push(listed(d));
        if ((out.length & (LIST_BATCH - 1)) === 0 && this.guard.clock() - slice > this.guard.slowMs) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          slice = this.guard.start();
        }
      }
    } finally {
      dir.closeSync();
    }
    return out;
  }
}
