// Reserving host blocks for a write mapping ("virtiofs: add dmap flags to
// differentiate write mapping from read mapping", virtio-fs list): fallocate with
// FALLOC_FL_KEEP_SIZE over the range, so ENOSPC surfaces at SETUPMAPPING
// instead of as a fault the guest cannot handle. Node has no fallocate(2),
// so this runs util-linux's fallocate on the fd through /proc.

import { execFile } from 'node:child_process';
import { Errno, ErrnoError } from '../../../core/errno';

const FALLOCATE = '/usr/bin/fallocate';

export type Reserver = (fd: number, offset: number, len: number) => Promise<void>;

/** Resolves when the blocks are reserved, or when the filesystem cannot
 *  preallocate at all (EOPNOTSUPP: nothing to reserve, as with tmpfs
 *  before 2.6.x); rejects with ENOSPC/EDQUOT/EIO. */
export const fallocateKeepSize: Reserver = (fd, offset, len) => new Promise((resolve, reject) => {
  const path = `/proc/${process.pid}/fd/${fd}`;
  execFile(FALLOCATE, ['-n', '-o', String(offset), '-l', String(len), path], { timeout: 30000 },
    (err, _stdout, stderr) => {
      if (!err) { resolve(); return; }
      const text = String(stderr);
      if (/No space left/i.test(text)) reject(new ErrnoError(Errno.ENOSPC, 'fallocate: no space for the write mapping'));
      else if (/quota/i.test(text)) reject(new ErrnoError(Errno.EDQUOT, 'fallocate: quota exceeded'));
      else if (/not supported/i.test(text)) resolve();
      else reject(new ErrnoError(Errno.EIO, `fallocate failed: ${text.trim() || String(err)}`));
    });
});
