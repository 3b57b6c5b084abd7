// A read-only share as a decorator over any FuseFilesystem (virtiofsd's
// --readonly): EROFS for every op that would change the filesystem, for an
// OPEN with write access or O_TRUNC, and for a write SETUPMAPPING; every
// other op is the inner filesystem's own (absent stays absent: ENOSYS).
//
// The refusal comes first, before the inner filesystem looks at the
// request, as a read-only mount refuses before the filesystem is asked.

import { Errno, ErrnoError } from '../../../core';
import { wantsWrite } from '../../../core/vfs';
import { FUSE_SETUPMAPPING_FLAG_WRITE } from '../../../fs/fuse';
import type { FuseContext, FuseFilesystem } from './filesystem';

/** Ops passed through unchanged. */
const PASSED = [
  'init', 'destroy', 'close', 'lookup', 'forget', 'getattr', 'readlink', 'statfs', 'read', 'release', 'flush',
  'fsync', 'lseek', 'syncfs', 'opendir', 'readdir', 'readdirplus', 'releasedir', 'removemapping',
  'getxattr', 'listxattr', 'getlk', 'setlk', 'setlkw', 'access', 'fsyncdir',
] as const satisfies ReadonlyArray<keyof FuseFilesystem>;

/** Ops that only ever change the filesystem. */
export const MUTATING = [
  'setattr', 'symlink', 'mknod', 'mkdir', 'unlink', 'rmdir', 'rename', 'rename2', 'link', 'create', 'write',
  'fallocate', 'setxattr', 'removexattr', 'copyFileRange',
] as const satisfies ReadonlyArray<keyof FuseFilesystem>;

/** Ops that write depending on their arguments. */
const CHECKED = ['open', 'setupmapping'] as const satisfies ReadonlyArray<keyof FuseFilesystem>;

// Every op of the interface is classified: a new one (xattrs, locks,
// COPY_FILE_RANGE, ...) does not compile until it is put in a list.
type Unclassified = Exclude<keyof FuseFilesystem, (typeof PASSED | typeof MUTATING | typeof CHECKED)[number]>;
const everyOpClassified: [Unclassified] extends [never] ? true : Unclassified = true;
void everyOpClassified;

function erofs(what: string): never {
  throw new ErrnoError(Errno.EROFS, `${what} on a read-only share`);
}

type AnyOp = (this: FuseFilesystem, ...args: unknown[]) => unknown;

/** `inner` as a read-only share. */
export function readonlyFilesystem(inner: FuseFilesystem): FuseFilesystem {
  const out: Record<string, unknown> = {};
  for (const m of PASSED) {
    const op = inner[m] as AnyOp | undefined;
    if (op !== undefined) out[m] = op.bind(inner);
  }
  for (const m of MUTATING) out[m] = () => erofs(m.toUpperCase());
  const ro = out as FuseFilesystem;
  const { open, setupmapping } = inner;
  ro.open = (ctx: FuseContext, body) => {
    if (wantsWrite(body.flags)) erofs('OPEN for writing');
    return open === undefined ? notImplemented('OPEN') : open.call(inner, ctx, body);
  };
  ro.setupmapping = (ctx: FuseContext, body) => {
    if ((body.flags & FUSE_SETUPMAPPING_FLAG_WRITE) !== 0n) erofs('a write mapping');
    return setupmapping === undefined ? notImplemented('SETUPMAPPING') : setupmapping.call(inner, ctx, body);
  };
  return ro;
}

function notImplemented(what: string): never {
  throw new ErrnoError(Errno.ENOSYS, `${what} is not implemented`);
}
