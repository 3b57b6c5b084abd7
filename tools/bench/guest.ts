// A job through the guest's VFS on a fresh mount (dax=always: the window,
// dax=never: FUSE_READ and FUSE_WRITE), so each job starts with an empty
// window and its own window statistics, as a fresh fio run on a fresh mount
// would. Writes stay inside the files (they exist at their size): through
// the window with DAX, as Linux's DAX write path sends writes that do not
// extend the file.

import { O_RDONLY, O_RDWR } from '../../core/vfs';
import type { DaxStatsSnapshot } from '../../fs/virtiofs/dax';
import { mountShare } from '../guest/mount';
import { driveAsync, resultOf, writePattern, writesOf, type DaxJobStats, type JobResult, type ProgressFn } from './job';
import type { JobSpec } from './options';
import type { Target } from './target';

function diff(a: DaxStatsSnapshot, b: DaxStatsSnapshot): DaxJobStats {
  const fallbacks = (s: DaxStatsSnapshot) => Object.values(s.fallbacks).reduce((x, y) => x + y, 0);
  return {
    hits: b.hits - a.hits,
    misses: b.misses - a.misses,
    evictions: b.chunksEvicted - a.chunksEvicted,
    setupMappings: b.setupMappingSent - a.setupMappingSent,
    fallbacks: fallbacks(b) - fallbacks(a),
    bytesDax: b.bytesDax - a.bytesDax,
    bytesFuseRead: b.bytesFuseRead - a.bytesFuseRead,
    bytesDaxWritten: b.bytesDaxWritten - a.bytesDaxWritten,
    upgrades: b.upgrades - a.upgrades,
    writeMappings: b.writeMappings - a.writeMappings,
    adaptiveMisses: b.adaptiveMisses - a.adaptiveMisses,
    reclaimRuns: b.reclaimRuns - a.reclaimRuns,
  };
}

export async function guestJob(
  target: Target, spec: JobSpec, path: 'dax' | 'fuse', files: readonly string[], chunkSize?: string, progress?: ProgressFn,
): Promise<JobResult> {
  const mount = await mountShare({
    connect: target.connect, token: target.token, tokenFile: target.tokenFile,
    dax: path === 'dax' ? 'always' : 'never', chunkSize, options: spec.mount, doorbells: target.doorbells,
  });
  try {
    const vfs = mount.vfs;
    const flags = writesOf(spec.rw) === 'none' ? O_RDONLY : O_RDWR;
    const fds: number[] = [];
    for (let j = 0; j < spec.numjobs; j++) fds.push(await vfs.open(`/${files[j]}`, flags));
    const manager = path === 'dax' ? await mount.dax() : undefined;
    if (path === 'dax' && !manager) throw new Error('dax=always, but the device has no DAX window');
    const before = manager?.stats.snapshot();
    // One buffer per worker, read into (POSIX pread), as fio's io_u buffers; one pattern written.
    const bufs = Array.from({ length: spec.numjobs * spec.iodepth }, () => new Uint8Array(spec.bs));
    const src = writePattern(spec.bs);
    const tally = await driveAsync(spec, (j, slot, off, w) => (w ? vfs.pwrite(fds[j]!, src, off)
      : vfs.preadInto(fds[j]!, bufs[j * spec.iodepth + slot]!, off)), progress);
    await manager?.idle();
    const stats = manager && before ? diff(before, manager.stats.snapshot()) : undefined;
    for (const fd of fds) await vfs.close(fd);
    return resultOf(spec, path, tally, stats);
  } finally {
    await mount.close();
  }
}
