// The host-calls addon (src/hostcalls.c), loaded when it was built, with the
// reason when it was not: callers fall back then. Found from the package
// root, so the bundled programs in dist/ load it too.

import * as fs from 'node:fs';
import * as path from 'node:path';

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
  readonly UTIME_NOW: number;
  readonly UTIME_OMIT: number;
}

function packageRoot(from: string): string | undefined {
  for (let d = from; ; d = path.dirname(d)) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj)) {
      try { if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'virtiofs-dax') return d; } catch { /* not ours */ }
    }
    if (path.dirname(d) === d) return undefined;
  }
}

function load(): { addon?: HostCallsAddon; why?: string } {
  const root = packageRoot(__dirname);
  const file = root && path.join(root, 'tools', 'native', 'build', 'Release', 'hostcalls.node');
  if (!file || !fs.existsSync(file)) return { why: 'tools/native was not built (npm ci builds it; it needs g++ and make)' };
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return { addon: require(file) as HostCallsAddon };
  } catch (e) {
    return { why: `tools/native/build/Release/hostcalls.node: ${(e as Error).message}` };
  }
}

const loaded = load();
/** The addon, or undefined when it is not built. */
export const hostcalls: HostCallsAddon | undefined = process.env.VIRTIOFS_NO_ADDON ? undefined : loaded.addon;
/** Why there is no addon. */
export const hostcallsMissing: string | undefined = process.env.VIRTIOFS_NO_ADDON ? 'VIRTIOFS_NO_ADDON is set' : loaded.why;
