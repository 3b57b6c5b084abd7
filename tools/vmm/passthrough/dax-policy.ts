// virtiofsd's per-inode DAX policies ("virtiofsd: implement DAX policies for
// per inode DAX mode", virtio-fs list, 2022): which regular files the guest
// should access through the DAX window, conveyed as FUSE_ATTR_DAX.

import { execFile } from 'node:child_process';
import type { BigIntStats } from 'node:fs';
import { isReg } from './host-attrs';

export type DaxPolicy = 'none' | 'always' | 'inode' | 'filesize';
export const DAX_POLICIES: readonly DaxPolicy[] = ['none', 'always', 'inode', 'filesize'];

/** FUSE_INODE_DAX_THRESH: a 2 MiB chunk costs 512 page descriptors of 64
 *  bytes = 32 KiB of guest memory; smaller files are not worth it. */
export const FUSE_INODE_DAX_THRESH = 1 << (21 - 12 + 6);

/** FS_DAX_FL, the persistent flag FS_IOC_GETFLAGS reports (lsattr: 'x'). */
export const FS_DAX_FL = 0x02000000;

const LSATTR = '/usr/bin/lsattr';

/** Reads FS_DAX_FL of a host path. Node has no ioctl, so this runs lsattr;
 *  any failure (a filesystem without flags) means "no DAX". */
export type DaxFlagReader = (path: string) => Promise<boolean>;

export const lsattrDaxFlag: DaxFlagReader = (path) => new Promise((resolve) => {
  execFile(LSATTR, ['-d', '--', path], { timeout: 5000 }, (err, stdout) => {
    if (err) { resolve(false); return; }
    // "--------------e-x----- path": the flag letters come before the space.
    const letters = String(stdout).split(' ', 1)[0] ?? '';
    resolve(letters.includes('x'));
  });
});

interface Cached { ctimeNs: bigint; dax: boolean }

/** Evaluates a policy; the `inode` policy's answers are cached per
 *  (dev, ino) and trusted while ctime is unchanged (chattr changes ctime). */
export class DaxPolicyEvaluator {
  private readonly cache = new Map<string, Cached>();
  private static readonly CACHE_MAX = 65536;

  constructor(readonly policy: DaxPolicy, private readonly readFlag: DaxFlagReader = lsattrDaxFlag) {}

  /** The answer when it needs no flag reader (every policy but an uncached
   *  `inode` one), else undefined: the per-entry fast path of READDIRPLUS. */
  enabledNow(st: BigIntStats): boolean | undefined {
    const mode = Number(st.mode);
    if (this.policy === 'none' || !isReg(mode)) return false;
    if (this.policy === 'always') return true;
    if (this.policy === 'filesize') return st.size > BigInt(FUSE_INODE_DAX_THRESH);
    const hit = this.cache.get(`${st.dev}:${st.ino}`);
    return hit !== undefined && hit.ctimeNs === st.ctimeNs ? hit.dax : undefined;
  }

  /** `path` names the file for the flag reader (a confined /proc path). */
  async enabled(st: BigIntStats, path: () => string): Promise<boolean> {
    const mode = Number(st.mode);
    if (this.policy === 'none' || !isReg(mode)) return false;
    if (this.policy === 'always') return true;
    if (this.policy === 'filesize') return st.size > BigInt(FUSE_INODE_DAX_THRESH);
    const key = `${st.dev}:${st.ino}`;
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.ctimeNs === st.ctimeNs) return hit.dax;
    const dax = await this.readFlag(path());
    if (this.cache.size >= DaxPolicyEvaluator.CACHE_MAX) this.cache.clear();
    this.cache.set(key, { ctimeNs: st.ctimeNs, dax });
    return dax;
  }

  forget(dev: bigint, ino: bigint): void {
    this.cache.delete(`${dev}:${ino}`);
  }
}
