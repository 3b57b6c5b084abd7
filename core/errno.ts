// errno values as the Linux kernel (and FUSE on the wire) has them.
// FUSE replies carry them negated in fuse_out_header.error.

export const Errno = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7,
  ENOEXEC: 8, EBADF: 9, ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13,
  EFAULT: 14, ENOTBLK: 15, EBUSY: 16, EEXIST: 17, EXDEV: 18, ENODEV: 19,
  ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25,
  ETXTBSY: 26, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31,
  EPIPE: 32, EDOM: 33, ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36,
  ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40, ENOMSG: 42,
  ENODATA: 61, ETIME: 62, EPROTO: 71, EOVERFLOW: 75, EBADFD: 77, EUSERS: 87,
  EOPNOTSUPP: 95, EADDRINUSE: 98, ENETDOWN: 100, ECONNABORTED: 103, ECONNRESET: 104,
  ENOBUFS: 105, ENOTCONN: 107, ETIMEDOUT: 110, ECONNREFUSED: 111,
  EALREADY: 114, EINPROGRESS: 115, ESTALE: 116, EDQUOT: 122,
  ECANCELED: 125,
} as const;

export type ErrnoName = keyof typeof Errno;

const names = new Map<number, ErrnoName>();
for (const [k, v] of Object.entries(Errno)) names.set(v, k as ErrnoName);

/** "ENOENT" for 2; "E123" for a number the table does not know. */
export function errnoName(errno: number): string {
  return names.get(errno) ?? `E${errno}`;
}

/** Largest errno a FUSE reply may carry (Linux's MAX_ERRNO). */
export const MAX_ERRNO = 4095;

/** An error carrying an errno, as a kernel call would return it. */
export class ErrnoError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(errno: number, message?: string) {
    const code = errnoName(errno);
    super(message ? `${code}: ${message}` : code);
    this.name = 'ErrnoError';
    this.errno = errno;
    this.code = code;
  }
}
