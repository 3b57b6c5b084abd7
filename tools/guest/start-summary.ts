// What `npm start` prints: one line per finished step, then the summary.
// Plain data in, text out, so the unit tests need no device. A ratio is
// DAX/FUSE_READ throughput over the same bytes (FUSE_READ's guest time over
// DAX's): above 1, DAX was faster.

import type { DaxStatsSnapshot } from '../../fs/virtiofs/dax';
import { humanSize } from './format';
import type { Mismatch, PassResult } from './verify';

/** What the window manager did during one step (two snapshots' difference). */
export interface DaxDelta {
  setupMappings: number;
  removeMappings: number;
  hits: number;
  misses: number;
  evicted: number;
  bytesDax: number;
  fallbacks: number;
}

export function daxDelta(a: DaxStatsSnapshot, b: DaxStatsSnapshot): DaxDelta {
  const fb = (s: DaxStatsSnapshot): number => Object.values(s.fallbacks).reduce((x, y) => x + y, 0);
  return {
    setupMappings: b.setupMappingSent - a.setupMappingSent, removeMappings: b.removeMappingSent - a.removeMappingSent,
    hits: b.hits - a.hits, misses: b.misses - a.misses, evicted: b.chunksEvicted - a.chunksEvicted,
    bytesDax: b.bytesDax - a.bytesDax, fallbacks: fb(b) - fb(a),
  };
}

/** A pass through the DAX mount and one through FUSE_READ, file by file. */
export interface Round { dax: PassResult; fuse: PassResult; stats?: DaxDelta }

/** Every file through the window with dax=always, paired with FUSE_READ. */
export interface EvictionStep extends Round { stats: DaxDelta; chunksNeeded: number }

export interface SummaryInput {
  files: number;
  symlinks: number;
  dirs: number;
  bytes: number;
  mismatches: Mismatch[];
  /** Undefined: the device has no window (both mounts used FUSE_READ). */
  window?: { size: number; chunks: number; chunkSize: number };
  rounds: Round[];
  eviction?: EvictionStep;
  /** Fallbacks over the whole run, by kind. */
  fallbacks?: Record<string, number>;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** DAX/FUSE_READ throughput over the same bytes: FUSE_READ's guest time over DAX's. */
export function ratio(daxMs: number | undefined, fuseMs: number | undefined): number | undefined {
  return daxMs && fuseMs && daxMs > 0 && fuseMs > 0 ? fuseMs / daxMs : undefined;
}

export const fmtRatio = (r: number | undefined): string => (r === undefined ? '-' : `${r.toFixed(2)}x`);

function windowCounts(d: DaxDelta): string {
  return `SETUPMAPPING ${d.setupMappings}, hits ${d.hits}, misses ${d.misses}, evicted ${d.evicted}`;
}

/** The files the window's policy chose, as "the 4 files through the window (15.0 MiB)". */
function selectedText(r: Round): string | undefined {
  const s = r.dax.selected;
  if (!s || s.files === 0) return undefined;
  return `the ${s.files} file${s.files === 1 ? '' : 's'} through the window (${humanSize(s.bytes)})`;
}

/** One finished round, as printed when it ends. */
export function roundLine(label: string, r: Round): string {
  const sel = selectedText(r);
  const part = sel && r.fuse.selected ? `; ${sel}: DAX ${secs(r.dax.selected!.guestMs)}, FUSE_READ ${secs(r.fuse.selected.guestMs)}` : '';
  return `${label}: ${r.dax.files} files, ${humanSize(r.dax.bytes)} through each mount, `
    + `${r.dax.mismatches.length + r.fuse.mismatches.length} mismatches; DAX ${secs(r.dax.guestMs)}, `
    + `FUSE_READ ${secs(r.fuse.guestMs)} in the guest${part}${r.stats ? `; ${windowCounts(r.stats)}` : ''}`;
}

export function formatSummary(s: SummaryInput): string {
  const lines = [
    'summary:',
    `  files        ${s.files} regular, ${s.symlinks} symlinks, ${s.dirs} directories; ${humanSize(s.bytes)} per pass`,
    `  mismatches   ${s.mismatches.length}`,
  ];
  const w = s.window;
  lines.push(w ? `  window       ${humanSize(w.size)}, ${w.chunks} chunks of ${humanSize(w.chunkSize)}`
    : '  window       none: every pass used FUSE_READ');
  if (w && s.rounds.length > 0) lines.push('  ratios       DAX/FUSE_READ is throughput over the same bytes: above 1x, DAX was faster');
  s.rounds.forEach((r, i) => {
    const sel = selectedText(r);
    const on = sel ? `${fmtRatio(ratio(r.dax.selected!.guestMs, r.fuse.selected!.guestMs))} on ${sel}, ` : '';
    const cached = i > 0 && r.stats && r.stats.setupMappings === 0 ? ' (from cached mappings)' : '';
    lines.push(`  pass ${i + 1}       DAX/FUSE_READ ${on}${fmtRatio(ratio(r.dax.guestMs, r.fuse.guestMs))} on every file`
      + `${r.stats ? `; ${windowCounts(r.stats)}${cached}` : ''}`);
  });
  const e = s.eviction;
  if (e && w) {
    lines.push(`  eviction     dax=always, every file: ${e.chunksNeeded} chunks through ${w.chunks}: ${windowCounts(e.stats)}, `
      + `REMOVEMAPPING ${e.stats.removeMappings}; DAX/FUSE_READ ${fmtRatio(ratio(e.dax.guestMs, e.fuse.guestMs))} on every file`);
  }
  const fb = Object.entries(s.fallbacks ?? {}).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ');
  if (w) lines.push(`  fallbacks    ${fb || 'none'}`);
  for (const m of s.mismatches.slice(0, 20)) lines.push(`  MISMATCH ${m.path}: ${m.why}`);
  if (s.mismatches.length > 20) lines.push(`  ... and ${s.mismatches.length - 20} more`);
  lines.push(s.mismatches.length === 0 ? 'result: OK, every byte matches the host' : 'result: FAILED, bytes differ from the host');
  return lines.join('\n') + '\n';
}
