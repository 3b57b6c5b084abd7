// How the guest shell shows things: one function per kind of output, each
// from plain data, so the text and the --json form come from the same values
// and the unit tests need no device.

import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, type Stat, type StatFs } from '../../core/vfs';
import type { DaxSnapshot, DaxStatsSnapshot } from '../../fs/virtiofs/dax';

const TYPE_NAMES: Record<number, string> = {
  [S_IFREG]: 'file', [S_IFDIR]: 'directory', [S_IFLNK]: 'symlink', [S_IFCHR]: 'char-device',
  [S_IFBLK]: 'block-device', [S_IFIFO]: 'fifo', [S_IFSOCK]: 'socket',
};
const TYPE_CHARS: Record<number, string> = {
  [S_IFREG]: '-', [S_IFDIR]: 'd', [S_IFLNK]: 'l', [S_IFCHR]: 'c', [S_IFBLK]: 'b', [S_IFIFO]: 'p', [S_IFSOCK]: 's',
};

export function typeName(mode: number): string {
  return TYPE_NAMES[mode & S_IFMT] ?? 'unknown';
}

/** `ls -l`'s mode column: "-rw-r--r--", with setuid/setgid/sticky letters. */
export function modeString(mode: number): string {
  const rwx = (bits: number, special: boolean, s: string, S: string): string =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? s : S) : (bits & 1 ? 'x' : '-'));
  return (TYPE_CHARS[mode & S_IFMT] ?? '?')
    + rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's', 'S')
    + rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's', 'S')
    + rwx(mode & 7, (mode & 0o1000) !== 0, 't', 'T');
}

/** Bytes for a person: "0 B", "4.0 KiB", "9.0 MiB". */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}

function isoTime(t: { sec: number; nsec: number }): string {
  const ms = t.sec * 1000 + Math.floor(t.nsec / 1e6);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(t.sec) : d.toISOString();
}

/** A Stat as JSON-safe data (bigint as a decimal string, mode in octal). */
export interface StatJson {
  path: string;
  type: string;
  mode: string;
  ino: string;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  blksize: number;
  atime: string;
  mtime: string;
  ctime: string;
  target?: string;
}

export function statJson(path: string, st: Stat, target?: string): StatJson {
  const out: StatJson = {
    path, type: typeName(st.mode), mode: (st.mode & 0o7777).toString(8).padStart(4, '0'), ino: st.ino.toString(),
    nlink: st.nlink, uid: st.uid, gid: st.gid, size: st.size, blocks: st.blocks, blksize: st.blksize,
    atime: isoTime(st.atime), mtime: isoTime(st.mtime), ctime: isoTime(st.ctime),
  };
  if (target !== undefined) out.target = target;
  return out;
}

export function formatStat(s: StatJson): string {
  const name = s.target !== undefined ? `${s.path} -> ${s.target}` : s.path;
  return [
    `  File: ${name}`,
    `  Size: ${s.size}\tBlocks: ${s.blocks}\tIO Block: ${s.blksize}\t${s.type}`,
    ` Inode: ${s.ino}\tLinks: ${s.nlink}`,
    `Access: (${s.mode}/${modeString(modeOf(s))})\tUid: ${s.uid}\tGid: ${s.gid}`,
    `Access: ${s.atime}`,
    `Modify: ${s.mtime}`,
    `Change: ${s.ctime}`,
  ].join('\n') + '\n';
}

function modeOf(s: StatJson): number {
  const type = Object.entries(TYPE_NAMES).find(([, n]) => n === s.type);
  return (type ? Number(type[0]) : 0) | parseInt(s.mode, 8);
}

/** One entry of `ls`; the stat fields only with -l. */
export interface LsEntry {
  name: string;
  type: string;
  ino: string;
  mode?: string;
  nlink?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: string;
  target?: string;
}

/** `ls -l` lines, columns padded to the widest value. */
export function formatLsLong(entries: readonly LsEntry[]): string {
  const rows = entries.map((e) => {
    const st = e as Required<Omit<LsEntry, 'target'>> & { target?: string };
    const mode = modeString(modeOf({ type: e.type, mode: st.mode } as StatJson));
    const name = e.target !== undefined ? `${e.name} -> ${e.target}` : e.name;
    return [mode, String(st.nlink), String(st.uid), String(st.gid), String(st.size), shortTime(st.mtime), name];
  });
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(0, ...rows.map((r) => r[i]!.length)));
  return rows.map((r) => [
    r[0], r[1]!.padStart(widths[1]!), r[2]!.padEnd(widths[2]!), r[3]!.padEnd(widths[3]!), r[4]!.padStart(widths[4]!), r[5], r[6],
  ].join(' ') + '\n').join('');
}

/** "2024-05-01 12:34" from an ISO time. */
function shortTime(iso: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? iso.slice(0, 16).replace('T', ' ') : iso;
}

export function formatLs(entries: readonly LsEntry[]): string {
  return entries.map((e) => `${e.name}${e.type === 'directory' ? '/' : e.type === 'symlink' ? '@' : ''}\n`).join('');
}

/** A node of `tree`. */
export interface TreeNode {
  name: string;
  type: string;
  size?: number;
  target?: string;
  children?: TreeNode[];
  /** Set when the directory could not be read. */
  error?: string;
}

export function formatTree(root: TreeNode): string {
  const lines: string[] = [root.name];
  let dirs = 0;
  let files = 0;
  const walk = (node: TreeNode, prefix: string): void => {
    const kids = node.children ?? [];
    kids.forEach((k, i) => {
      const last = i === kids.length - 1;
      let label = k.name;
      if (k.type === 'symlink') label += ` -> ${k.target ?? '?'}`;
      else if (k.type === 'file') label += `  (${humanSize(k.size ?? 0)})`;
      if (k.error) label += `  [${k.error}]`;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${label}`);
      if (k.type === 'directory') { dirs++; walk(k, prefix + (last ? '    ' : '│   ')); } else files++;
    });
  };
  walk(root, '');
  lines.push('', `${dirs} ${dirs === 1 ? 'directory' : 'directories'}, ${files} ${files === 1 ? 'file' : 'files'}`);
  return lines.join('\n') + '\n';
}

export interface DfJson extends StatFs {
  tag: string;
  size: number;
  used: number;
  avail: number;
}

export function dfJson(tag: string, s: StatFs): DfJson {
  const unit = s.frsize || s.bsize;
  return { tag, ...s, size: s.blocks * unit, used: (s.blocks - s.bfree) * unit, avail: s.bavail * unit };
}

/** Use% as GNU df computes it: used / (used + available), rounded up; the
 *  blocks reserved for root count in neither, so it is not used / size. */
export function usePercent(used: number, avail: number): string {
  const total = used + avail;
  if (!(total > 0)) return '-';
  return `${Math.ceil((used * 100) / total - 1e-9)}%`;
}

export function formatDf(d: DfJson): string {
  const pct = usePercent(d.used, d.avail);
  const ipct = d.files > 0 ? usePercent(d.files - d.ffree, d.ffree) : '-';
  const rows = [
    ['Filesystem', 'Size', 'Used', 'Avail', 'Use%', 'Inodes', 'IFree', 'IUse%'],
    [d.tag, humanSize(d.size), humanSize(d.used), humanSize(d.avail), pct, String(d.files), String(d.ffree), ipct],
  ];
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ') + '\n').join('')
    + `block size ${d.bsize}, fragment size ${d.frsize}, names up to ${d.namelen} bytes\n`;
}

/** Everything `dax` shows. `window` is null when the device has no window. */
export interface DaxJson {
  window: null | {
    size: number;
    chunkSize: number;
    chunks: number;
    /** Bytes (2^mapAlignment). */
    mapAlignment: number;
    canMap: boolean;
    firstEmpty: number;
    /** 'lifo' (OSv's stack) or 'lru' (Linux's range pool). */
    placement: string;
    freeChunks: number;
    /** The adaptive rule is serving misses with FUSE_READ/FUSE_WRITE now. */
    bypassing: boolean;
    /** Window order; for the stack, the last one is the top. */
    mappings: {
      nodeid: string | null;
      path: string | null;
      mstart: number;
      nchunks: number;
      fstart: number;
      foffset: number;
      moffset: number;
      /** RW: a write mapping (FUSE_SETUPMAPPING_FLAG_WRITE); RO otherwise. */
      writable: boolean;
    }[];
  };
  stats: DaxStatsSnapshot | null;
}

export function daxJson(
  windowSize: number, mapAlignmentLog2: number, snap: DaxSnapshot | undefined, stats: DaxStatsSnapshot | undefined,
  nameOf: (nodeid: bigint) => string | undefined,
): DaxJson {
  if (!snap) return { window: null, stats: stats ?? null };
  return {
    window: {
      size: windowSize, chunkSize: snap.chunkSize, chunks: snap.windowChunks, mapAlignment: 2 ** mapAlignmentLog2,
      canMap: snap.canMap, firstEmpty: snap.firstEmpty, placement: snap.placement, freeChunks: snap.freeChunks,
      bypassing: snap.bypassing,
      mappings: snap.mappings.map((m) => ({
        nodeid: m.nodeid === null ? null : m.nodeid.toString(),
        path: m.nodeid === null ? null : nameOf(m.nodeid) ?? null,
        mstart: m.mstart, nchunks: m.nchunks, fstart: m.fstart, foffset: m.foffset, moffset: m.moffset, writable: m.writable,
      })),
    },
    stats: stats ?? null,
  };
}

type DaxMappingJson = NonNullable<DaxJson['window']>['mappings'][number];

const hex = (n: number): string => `0x${n.toString(16)}`;

/** The window as a picture, chunk 0 first (OSv's stack: its top marked;
 *  Linux's pool: ranges and how many are free), each mapping RO or RW,
 *  then the statistics. */
export function formatDax(d: DaxJson): string {
  const out: string[] = [];
  const w = d.window;
  if (!w) {
    out.push('DAX window: none (the device has no cache window: every read is a FUSE_READ)');
  } else {
    const stack = w.placement === 'lifo';
    out.push(`DAX window: ${humanSize(w.size)}, chunk size ${humanSize(w.chunkSize)}, ${w.chunks} chunks, `
      + `map alignment ${humanSize(w.mapAlignment)}, placement ${w.placement}`
      + `${w.canMap ? '' : ' (mapping disabled: SETUPMAPPING not supported)'}`
      + `${w.bypassing ? ' (adaptive rule: misses go to FUSE_READ/FUSE_WRITE for now)' : ''}`);
    const rows: string[][] = [['chunks', 'moffset', 'file', 'foffset', 'size', 'map', '']];
    const label = (m: DaxMappingJson): string =>
      m.nodeid === null ? '(dropped)' : m.path ?? `nodeid ${m.nodeid}`;
    const range = (a: number, n: number): string => (n === 1 ? String(a) : `${a}-${a + n - 1}`);
    w.mappings.forEach((m, i) => {
      const top = stack && i === w.mappings.length - 1;
      rows.push([range(m.mstart, m.nchunks), hex(m.moffset), label(m), hex(m.foffset), humanSize(m.nchunks * w.chunkSize),
        m.nodeid === null ? '' : m.writable ? 'RW' : 'RO', top ? '<- top' : '']);
    });
    const free = w.chunks - w.firstEmpty;
    if (stack && free > 0) rows.push([range(w.firstEmpty, free), hex(w.firstEmpty * w.chunkSize), '(free)', '', humanSize(free * w.chunkSize), '', '']);
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) out.push('  ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
    if (w.mappings.length === 0) out.push(stack ? '  (stack empty)' : '  (no range mapped)');
    if (stack) out.push(`  stack: ${w.firstEmpty} of ${w.chunks} chunks in use${w.mappings.length ? `, top at chunk ${w.firstEmpty - 1}` : ''}`);
    else out.push(`  ranges: ${w.chunks - w.freeChunks} of ${w.chunks} busy, ${w.freeChunks} free`);
  }
  const s = d.stats;
  if (s) {
    const fb = Object.entries(s.fallbacks).map(([k, v]) => `${k} ${v}`).join(', ');
    const errs = Object.entries(s.fallbackErrnos).map(([k, v]) => `${k} ${v}`).join(', ');
    out.push(
      'statistics:',
      `  lookups      hits ${s.hits}, misses ${s.misses}`,
      `  chunks       mapped ${s.chunksMapped}, evicted ${s.chunksEvicted}, removed by truncation ${s.chunksTruncated}`,
      `  requests     SETUPMAPPING ${s.setupMappingSent} (write mappings ${s.writeMappings}, upgrades ${s.upgrades}), REMOVEMAPPING ${s.removeMappingSent}`,
      `  ENOSPC       ${s.enospc} (write mappings refused for want of space)`,
      `  reclaim      ${s.reclaimRuns} background runs`,
      `  adaptive     ${s.adaptiveMisses} misses served by FUSE_READ/FUSE_WRITE, ${s.adaptiveSwitches} switches`,
      `  fallbacks    ${fb}${errs ? ` (SETUPMAPPING errors: ${errs})` : ''}`,
      `  bytes        DAX read ${s.bytesDax} (${humanSize(s.bytesDax)}), DAX written ${s.bytesDaxWritten} (${humanSize(s.bytesDaxWritten)}), FUSE_READ ${s.bytesFuseRead} (${humanSize(s.bytesFuseRead)})`,
    );
  }
  return out.join('\n') + '\n';
}

/** JSON.stringify with bigint as decimal strings. */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}
