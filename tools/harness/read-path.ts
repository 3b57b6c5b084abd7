// Which read path served a mount's reads, from the DAX manager's counters,
// and whether that path is a healthy one.

import type { DaxStatsSnapshot } from '../../fs/virtiofs/dax';
import type { ReadPathKind, Status } from './result';

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

/** The expected difference of a daemon without DAX, named as the table prints it. */
export const NO_DAX = 'dax: not offered by virtiofsd (SETUPMAPPING → ENOSYS); reads served by FUSE_READ';

export const NO_WINDOW = 'dax: the device offers no window; reads served by FUSE_READ';
export const NO_SMALL = 'dax: the window is smaller than a chunk; reads served by FUSE_READ';

export interface ReadPath { kind: ReadPathKind; status: Status; details: string; expected?: string }

export function classifyReadPath(dax: 'always' | 'never', s: DaxStatsSnapshot | undefined): ReadPath {
  if (!s) {
    return dax === 'never'
      ? { kind: 'fuse-read', status: 'pass', details: 'FUSE_READ (dax=never; the device has no window)' }
      : { kind: 'fuse-read-no-window', status: 'expected', details: NO_WINDOW, expected: NO_WINDOW };
  }
  const fuse = `${mib(s.bytesFuseRead)} by FUSE_READ`;
  const errors = s.fallbacks.setupmapping + s.fallbacks.copy;
  if (errors > 0) {
    const errnos = Object.entries(s.fallbackErrnos).map(([k, v]) => `${k}×${v}`).join(', ');
    return { kind: 'broken', status: 'fail', details: `DAX failed: ${s.fallbacks.setupmapping} SETUPMAPPING errors${errnos ? ` (${errnos})` : ''}, ${s.fallbacks.copy} copy errors; ${fuse}` };
  }
  if (dax === 'never') {
    if (s.bytesDax > 0 || s.setupMappingSent > 0) {
      return { kind: 'dax', status: 'fail', details: `dax=never, yet ${s.setupMappingSent} SETUPMAPPING sent and ${mib(s.bytesDax)} read through the window` };
    }
    return { kind: 'fuse-read', status: 'pass', details: `FUSE_READ: ${fuse}` };
  }
  if (s.fallbacks.enosys > 0) {
    // ENOSYS is remembered: one SETUPMAPPING per device, then FUSE_READ only.
    if (s.setupMappingSent !== 1 || s.bytesDax > 0) {
      return { kind: 'broken', status: 'fail', details: `ENOSYS to SETUPMAPPING, yet ${s.setupMappingSent} sent (want 1) and ${mib(s.bytesDax)} through the window` };
    }
    return { kind: 'fuse-read-enosys', status: 'expected', details: `${NO_DAX}: ${fuse}, 1 SETUPMAPPING`, expected: NO_DAX };
  }
  if (s.fallbacks['no-window'] > 0 && s.bytesDax === 0) {
    return { kind: 'fuse-read-no-window', status: 'expected', details: `${NO_SMALL}: ${fuse}`, expected: NO_SMALL };
  }
  if (s.bytesDax === 0) {
    return { kind: 'broken', status: 'fail', details: `dax=always with a window, yet nothing read through it; ${fuse}` };
  }
  return {
    kind: 'dax', status: 'pass',
    details: `DAX: ${mib(s.bytesDax)} through the window (${s.setupMappingSent} SETUPMAPPING, ${s.chunksEvicted} chunks evicted, ${s.hits} hits); ${fuse}`,
  };
}
