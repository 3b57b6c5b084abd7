// Guest memory in a shared-memory file, as QEMU's
// memory-backend-memfd,share=on: the device model, the guest process and a
// vhost-user backend (virtiofsd mmaps it) all see the same bytes. Accesses
// are positioned reads and writes on the fd; there is no live `bytes` view
// and GuestMemory takes its copying path. This is the fallback: a sealed
// memfd is mapped instead when the addon is built (ram.node.ts).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MemoryBacking } from './memory';

export interface ShmCreateOptions {
  /** Directory for the file; /dev/shm by default. */
  dir?: string;
  /** File name inside `dir`; `virtiofs-<pid>-<random>` by default. */
  name?: string;
}

export const SHM_DIR = '/dev/shm';

export class ShmFileBacking implements MemoryBacking {
  private _fd: number;

  private constructor(readonly path: string, fd: number, readonly size: number) {
    this._fd = fd;
  }

  /** Create a new file of `size` zero bytes; fails if the name exists. */
  static create(size: number, opts: ShmCreateOptions = {}): ShmFileBacking {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new RangeError(`shm file: bad size ${size}`);
    }
    const name = opts.name ?? `virtiofs-${process.pid}-${randomBytes(6).toString('hex')}`;
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
      throw new RangeError(`shm file: bad name ${JSON.stringify(name)}`);
    }
    const file = path.join(opts.dir ?? SHM_DIR, name);
    const { O_RDWR, O_CREAT, O_EXCL } = fs.constants;
    const fd = fs.openSync(file, O_RDWR | O_CREAT | O_EXCL, 0o600);
    try {
      fs.ftruncateSync(fd, size);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw e;
    }
    return new ShmFileBacking(file, fd, size);
  }

  /** Open a file another process created; its size is the file's size. */
  static open(file: string): ShmFileBacking {
    const fd = fs.openSync(file, fs.constants.O_RDWR);
    try {
      return ShmFileBacking.fromFd(fd, file);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Adopt an open read-write fd (closed by close(), not on a throw); `file` names it. */
  static fromFd(fd: number, file: string): ShmFileBacking {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`shm file ${file}: not a regular file`);
    if (st.size <= 0 || !Number.isSafeInteger(st.size)) throw new Error(`shm file ${file}: bad size ${st.size}`);
    return new ShmFileBacking(file, fd, st.size);
  }

  get fd(): number {
    if (this._fd < 0) throw new Error(`shm file ${this.path}: closed`);
    return this._fd;
  }

  get closed(): boolean { return this._fd < 0; }

  read(offset: number, dst: Uint8Array): void {
    const fd = this.fd;
    let done = 0;
    while (done < dst.length) {
      const n = fs.readSync(fd, dst, done, dst.length - done, offset + done);
      // The file shrank under us (mmap would SIGBUS): fail, never spin.
      if (n <= 0) throw new Error(`shm file ${this.path}: short read at ${offset + done}`);
      done += n;
    }
  }

  write(offset: number, src: Uint8Array): void {
    const fd = this.fd;
    let done = 0;
    while (done < src.length) {
      const n = fs.writeSync(fd, src, done, src.length - done, offset + done);
      if (n <= 0) throw new Error(`shm file ${this.path}: short write at ${offset + done}`);
      done += n;
    }
  }

  /** Close the fd; the file stays until unlink(). Idempotent. */
  close(): void {
    if (this._fd < 0) return;
    const fd = this._fd;
    this._fd = -1;
    fs.closeSync(fd);
  }

  /** Remove the file's name; open fds (and mappings) keep working. */
  unlink(): void {
    fs.rmSync(this.path, { force: true });
  }
}
