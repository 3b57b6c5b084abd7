// The host-calls addon (src/hostcalls.c, and src/unixsock.c for the
// vhost-user socket), loaded when it was built, with the
// reason when it was not: callers fall back then (core/addon.node.ts finds
// it from the package root).

import { loadAddon } from '../../core/index.node';

export interface HostCallsAddon {
  mknodat(dirfd: number, name: Buffer, mode: number, dev: number): void;
  renameat2(olddirfd: number, oldname: Buffer, newdirfd: number, newname: Buffer, flags: number): void;
  /** nsec may be UTIME_NOW or UTIME_OMIT; name null: the fd itself (futimens). */
  utimensat(dirfd: number, name: Buffer | null, asec: number, ansec: number, msec: number, mnsec: number, flags: number): void;
  fallocate(fd: number, mode: number, offset: number, len: number): void;
  lseek(fd: number, offset: number, whence: number): bigint;
  copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, len: number): number;
  /** size 0: the size; else the value. */
  lgetxattr(path: Buffer, name: Buffer, size: number): Buffer | number;
  llistxattr(path: Buffer, size: number): Buffer | number;
  lsetxattr(path: Buffer, name: Buffer, value: Buffer, flags: number): void;
  lremovexattr(path: Buffer, name: Buffer): void;
  /** The entries but "." and "..": records of u64 ino, u8 d_type, u16 name length, name. */
  listdir(dirfd: number): Buffer;
  /** A unix stream socket, non-blocking and close-on-exec, connected to
   *  path; throws (the socket closed) on failure, EAGAIN when the
   *  listener's backlog is full. */
  unixConnect(path: Buffer): number;
  /** Bytes of data sent, the fds as SCM_RIGHTS with the first byte; 0 when
   *  the socket is full (EAGAIN), nothing sent. Data must not be empty. */
  sendmsg(fd: number, data: Buffer, fds: readonly number[]): number;
  readonly UTIME_NOW: number;
  readonly UTIME_OMIT: number;
}

const loaded = loadAddon<HostCallsAddon>('tools/native', 'hostcalls', 'npm ci builds it; it needs g++ and make');
/** The addon, or undefined when it is not built. */
export const hostcalls: HostCallsAddon | undefined = loaded.addon;
/** Why there is no addon. */
export const hostcallsMissing: string | undefined = loaded.why;
