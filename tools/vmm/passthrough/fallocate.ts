// Reserving host blocks for a write mapping ("virtiofs: add dmap flags to
// differentiate write mapping from read mapping", virtio-fs list): fallocate with
// FALLOC_FL_KEEP_SIZE over the range, so ENOSPC surfaces at SETUPMAPPING
// instead of as a fault the guest cannot handle. Node has no fallocate(2):
// this calls it through the project's addon (tools/native) when it is
// built — one system call per write mapping — and otherwise runs
// util-linux's fallocate on the fd through /proc (a process per mapping).

import { execFile } from 'node:child_process';
import { Errno, ErrnoError } from '../../../core';
import { hostcalls } from '../../native/hostcalls.node';

const FALLOCATE = '/usr/bin/fallocate';
const FALLOC_FL_KEEP_SIZE = 1;

export type Reserver = (fd: number, offset: number, len: number) => Promise<void>;

/** Resolves when the blocks are reserved, or when the filesystem cannot
 *  preallocate at all (EOPNOTSUPP: nothing to reserve, as with tmpfs
 *  before 2.6.x); rejects with ENOSPC/EDQUOT/EIO. */
export const fallocateKeepSize: Reserver = (fd, offset, len) => (hostcalls ? addonKeepSize(fd, offset, len) : execKeepSize(fd, offset, len));

async function addonKeepSize(fd: number, offset: number, len: number): Promise<void> {
  try {
    hostcalls!.fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, len);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOSPC') throw new ErrnoError(Errno.ENOSPC, 'fallocate: no space for the write mapping');
    if (code === 'EDQUOT') throw new ErrnoError(Errno.EDQUOT, 'fallocate: quota exceeded');
    if (code === 'EOPNOTSUPP' || code === 'ENOSYS') return;
    throw new ErrnoError(Errno.EIO, `fallocate failed: ${String(e)}`);
  }
}

const execKeepSize: Reserver = (fd, offset, len) => new Promise((resolve, reject) => {
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
