// Guest RAM as a shared file, mapped when it safely can be. A sealed memfd
// (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, as QEMU's
// memory-backend-memfd seals it) is mapped into this process
// (MappedFileBacking: loads and stores); anything else, or any file when
// the addon is not built, is reached by positioned reads and writes
// (ShmFileBacking). Both hand the same fd to a vhost-user backend and the
// same path to a guest in another process.

import * as fs from 'node:fs';
import type { MemoryBacking } from './memory';
import { MAX_MAPPED, MappedFileBacking, unmappableWhy } from './mapped-file.node';
import { mmapAddon } from './native/mmap.node';
import { ShmFileBacking, type ShmCreateOptions } from './shm-file.node';

/** Guest RAM in a file another process (a guest, virtiofsd) can reach. */
export interface RamFile extends MemoryBacking {
  /** What another process opens: /dev/shm/<name>, or /proc/<pid>/fd/<n> for a memfd. */
  readonly path: string;
  /** The open fd (throws once closed): sent to virtiofsd by SCM_RIGHTS. */
  readonly fd: number;
  readonly closed: boolean;
  close(): void;
  /** Remove the file's name, if it has one; open fds and mappings keep working. */
  unlink(): void;
}

export interface CreateRamOptions extends ShmCreateOptions {
  /** A /dev/shm file reached by positioned I/O even when a memfd could be mapped. */
  positioned?: boolean;
}

export function isRamFile(b: MemoryBacking): b is RamFile {
  return b instanceof MappedFileBacking || b instanceof ShmFileBacking;
}

/** Is this RAM mapped (a live view), or reached by positioned I/O? */
export function ramIsMapped(b: MemoryBacking): boolean {
  return b instanceof MappedFileBacking;
}

/**
 * New guest RAM of `size` zero bytes: a sealed memfd, mapped, when the addon
 * is built (and no /dev/shm name or dir was asked for, and it fits one
 * ArrayBuffer); else a /dev/shm file.
 */
export function createRam(size: number, opts: CreateRamOptions = {}): RamFile {
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`guest RAM: bad size ${size}`);
  const addon = mmapAddon;
  if (!addon || size > MAX_MAPPED || opts.positioned || opts.dir !== undefined || opts.name !== undefined) {
    return ShmFileBacking.create(size, opts);
  }
  const fd = addon.memfdCreate('virtiofs-ram', size);
  try {
    return MappedFileBacking.map(fd, procPath(fd));
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/**
 * Guest RAM another process made: a path (e.g. /proc/<pid>/fd/<n>, opened
 * here) or an fd (adopted: closed by close(); still the caller's if this
 * throws). Mapped when the fd actually
 * opened is sealed against shrinking and the addon is built; else
 * positioned I/O. `size`, when given, must be the file's size.
 */
export function openRam(source: string | number, size?: number): RamFile {
  const own = typeof source === 'string';
  // O_NONBLOCK: a FIFO put at the path must not hang us (fstat refuses it next).
  const fd = own ? fs.openSync(source, fs.constants.O_RDWR | fs.constants.O_NONBLOCK) : source;
  const name = own ? source : procPath(fd);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`guest RAM ${name}: not a regular file`);
    if (size !== undefined && st.size !== size) throw new Error(`guest RAM ${name}: ${st.size} bytes, expected ${size}`);
    if (unmappableWhy(fd, st.size) === undefined) return MappedFileBacking.map(fd, name);
    return ShmFileBacking.fromFd(fd, name);
  } catch (e) {
    if (own) fs.closeSync(fd);
    throw e;
  }
}

function procPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}
