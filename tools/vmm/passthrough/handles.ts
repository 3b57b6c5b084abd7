// The fh table: small integers (from 1) mapping to open host files and to
// directory snapshots. An fh the table does not hold is EBADF.

import type { DirFd } from './dir-cache';
import type { Listed as DirEntryName } from './host';
import type { Inode } from './inodes';

export interface FileFh {
  kind: 'file';
  /** The open host file (a plain fd: closed by RELEASE, DESTROY, close()). */
  fd: number;
  inode: Inode;
  /** Opened O_WRONLY or O_RDWR (a write mapping needs it). */
  writable: boolean;
}

export type { DirEntryName };

export interface DirFh {
  kind: 'dir';
  /** The verified directory, held (one DirFd reference) until RELEASEDIR
   *  so entries are reached from it. */
  dir: DirFd;
  inode: Inode;
  /** Snapshot at OPENDIR: '.', '..', then the host entries. A dirent's
   *  off is the index of the entry after it, so offsets stay stable. */
  entries: DirEntryName[];
}

export type Fh = FileFh | DirFh;

export class HandleTable {
  private readonly map = new Map<bigint, Fh>();
  private next = 1n;

  add(h: Fh): bigint {
    const fh = this.next++;
    this.map.set(fh, h);
    return fh;
  }

  get(fh: bigint): Fh | undefined {
    return this.map.get(fh);
  }

  remove(fh: bigint): Fh | undefined {
    const h = this.map.get(fh);
    if (h !== undefined) this.map.delete(fh);
    return h;
  }

  /** An open file of inode i, if any (GETATTR of an unlinked open file). */
  anyFileOf(i: Inode): FileFh | undefined {
    for (const h of this.map.values()) if (h.kind === 'file' && h.inode === i) return h;
    return undefined;
  }

  get size(): number {
    return this.map.size;
  }

  /** Removes every handle and returns them (DESTROY closes them). */
  drain(): Fh[] {
    const all = [...this.map.values()];
    this.map.clear();
    return all;
  }
}
