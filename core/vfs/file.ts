// Open file descriptions and the numbered descriptor table.

import { Errno, ErrnoError } from '../errno';
import type { FsHandle } from './fs';
import type { Vnode } from './vnode';

export class File {
  /** Byte offset for files. */
  offset = 0;
  /** Directories: where the next readdir resumes. */
  cookie = 0n;
  /** Directories: true once the filesystem returned an empty batch. */
  eof = false;
  /** Set when a forced umount released the handle. */
  dead = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly vp: Vnode,
    readonly fh: FsHandle,
    readonly flags: number,
    readonly isDir: boolean,
    /** Unique per open file description: the owner of its flock(2) locks. */
    readonly id: bigint = 0n,
  ) {}

  /** Runs `fn` after earlier position-moving calls on this file, as f_pos_lock does. */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.then(() => undefined, () => undefined);
    return run;
  }
}

export class FileTable {
  private readonly slots: (File | undefined)[] = [];
  private count_ = 0;

  constructor(readonly firstFd = 0, readonly maxFiles = 1024) {}

  get count(): number { return this.count_; }

  /** The lowest free descriptor >= firstFd; EMFILE when the table is full. */
  alloc(file: File): number {
    if (this.count_ >= this.maxFiles) throw new ErrnoError(Errno.EMFILE);
    let i = 0;
    while (i < this.slots.length && this.slots[i] !== undefined) i++;
    this.slots[i] = file;
    this.count_++;
    return i + this.firstFd;
  }

  get(fd: number): File {
    const f = Number.isInteger(fd) ? this.slots[fd - this.firstFd] : undefined;
    if (f === undefined) throw new ErrnoError(Errno.EBADF);
    return f;
  }

  remove(fd: number): File {
    const f = this.get(fd);
    this.slots[fd - this.firstFd] = undefined;
    this.count_--;
    while (this.slots.length > 0 && this.slots[this.slots.length - 1] === undefined) this.slots.pop();
    return f;
  }

  *entries(): IterableIterator<[number, File]> {
    for (let i = 0; i < this.slots.length; i++) {
      const f = this.slots[i];
      if (f !== undefined) yield [i + this.firstFd, f];
    }
  }
}
