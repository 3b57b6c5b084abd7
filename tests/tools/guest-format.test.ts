import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrnoError, Errno } from '../../core/errno';
import { S_IFDIR, S_IFLNK, S_IFREG, type Stat } from '../../core/vfs';
import type { DaxSnapshot } from '../../fs/virtiofs/dax';
import { UsageError } from '../../tools/guest/args';
import { describeError, resolvePath } from '../../tools/guest/commands';
import {
  daxJson, dfJson, formatDax, formatDf, formatLsLong, formatStat, formatTree, humanSize, modeString, statJson, toJson, usePercent,
  type LsEntry,
} from '../../tools/guest/format';
import { formatSummary } from '../../tools/guest/start';
import { roundLine } from '../../tools/guest/start-summary';

const t = suite('guest output');
const MiB = 1 << 20;

const stats = {
  hits: 7, misses: 3, chunksMapped: 5, chunksEvicted: 2, setupMappingSent: 3, removeMappingSent: 1,
  writeMappings: 1, upgrades: 2, enospc: 1, chunksTruncated: 4, reclaimRuns: 6, adaptiveSwitches: 1, adaptiveMisses: 9,
  bytesDaxWritten: 8192,
  fallbacks: { 'no-window': 0, enosys: 0, setupmapping: 1, copy: 0 }, fallbackErrnos: { ENOMEM: 1 },
  bytesDax: 3 * MiB, bytesFuseRead: 4096,
};

t('mode strings as ls -l prints them', () => {
  assert.is(modeString(S_IFREG | 0o644), '-rw-r--r--');
  assert.is(modeString(S_IFDIR | 0o755), 'drwxr-xr-x');
  assert.is(modeString(S_IFLNK | 0o777), 'lrwxrwxrwx');
  assert.is(modeString(S_IFREG | 0o4755), '-rwsr-xr-x');
  assert.is(modeString(S_IFDIR | 0o1777), 'drwxrwxrwt');
  assert.is(modeString(S_IFREG | 0o2640), '-rw-r-S---');
});

t('sizes for people', () => {
  assert.is(humanSize(0), '0 B');
  assert.is(humanSize(1023), '1023 B');
  assert.is(humanSize(4096), '4.0 KiB');
  assert.is(humanSize(9 * MiB), '9.0 MiB');
});

t('ls -l lines: aligned columns, symlink targets', () => {
  const e: LsEntry[] = [
    { name: 'big', type: 'file', ino: '5', mode: '0644', nlink: 1, uid: 0, gid: 0, size: 9437184, mtime: '2024-05-01T12:34:56.000Z' },
    { name: 'link', type: 'symlink', ino: '6', mode: '0777', nlink: 1, uid: 1000, gid: 1000, size: 3, mtime: '2024-05-01T12:35:00.000Z', target: 'big' },
    { name: 'd', type: 'directory', ino: '7', mode: '0755', nlink: 12, uid: 0, gid: 0, size: 4096, mtime: '2024-05-02T00:00:00.000Z' },
  ];
  assert.is(formatLsLong(e),
    '-rw-r--r--  1 0    0    9437184 2024-05-01 12:34 big\n'
    + 'lrwxrwxrwx  1 1000 1000       3 2024-05-01 12:35 link -> big\n'
    + 'drwxr-xr-x 12 0    0       4096 2024-05-02 00:00 d\n');
});

t('stat: JSON-safe data and the text form', () => {
  const st: Stat = {
    ino: 123456789012345678n, mode: S_IFLNK | 0o777, nlink: 1, uid: 1, gid: 2, rdev: 0, size: 3, blocks: 0, blksize: 4096,
    atime: { sec: 0, nsec: 0 }, mtime: { sec: 86400, nsec: 5e8 }, ctime: { sec: 1, nsec: 0 },
  };
  const j = statJson('/l', st, 'abc');
  assert.equal(JSON.parse(toJson(j)), {
    path: '/l', type: 'symlink', mode: '0777', ino: '123456789012345678', nlink: 1, uid: 1, gid: 2, size: 3, blocks: 0,
    blksize: 4096, atime: '1970-01-01T00:00:00.000Z', mtime: '1970-01-02T00:00:00.500Z', ctime: '1970-01-01T00:00:01.000Z', target: 'abc',
  });
  const text = formatStat(j);
  assert.match(text, /File: \/l -> abc/);
  assert.match(text, /Access: \(0777\/lrwxrwxrwx\)/);
  assert.match(text, /Inode: 123456789012345678/);
});

t('tree: branches and the count line', () => {
  const text = formatTree({
    name: '/', type: 'directory', children: [
      { name: 'a', type: 'directory', children: [{ name: 'x', type: 'file', size: 1 }] },
      { name: 'l', type: 'symlink', target: 'a/x' },
      { name: 'z', type: 'file', size: 4096 },
    ],
  });
  assert.is(text, '/\n├── a\n│   └── x  (1 B)\n├── l -> a/x\n└── z  (4.0 KiB)\n\n1 directory, 3 files\n');
});

t('df: sizes from blocks and frsize', () => {
  const d = dfJson('myfs', { bsize: 4096, frsize: 4096, blocks: 1000, bfree: 250, bavail: 200, files: 100, ffree: 40, namelen: 255 });
  assert.is(d.size, 4096000);
  assert.is(d.used, 750 * 4096);
  assert.is(d.avail, 200 * 4096);
  // Use% as GNU df: used / (used + avail) = 750 / 950, rounded up; root's reserve (50 blocks) counts in neither.
  assert.match(formatDf(d), /myfs\s+3\.9 MiB\s+2\.9 MiB\s+800\.0 KiB\s+79%\s+100\s+40\s+60%/);
  assert.equal([usePercent(1, 2), usePercent(1, 1), usePercent(0, 5), usePercent(5, 0), usePercent(0, 0)], ['34%', '50%', '0%', '100%', '-']);
});

t('the dax picture: chunk 0 first, one row per mapping, RO or RW, the top marked, free chunks, statistics', () => {
  const snap: DaxSnapshot = {
    chunkSize: 2 * MiB, windowChunks: 8, firstEmpty: 6, freeChunks: 2, placement: 'lifo', canMap: true, bypassing: false,
    mappings: [
      { nodeid: 5n, mstart: 0, nchunks: 3, fstart: 0, foffset: 0, moffset: 0, writable: false },
      { nodeid: null, mstart: 3, nchunks: 1, fstart: 0, foffset: 0, moffset: 3 * 2 * MiB, writable: false },
      { nodeid: 9n, mstart: 4, nchunks: 2, fstart: 2, foffset: 4 * MiB, moffset: 8 * MiB, writable: true },
    ],
  };
  const names = new Map([[5n, '/big']]);
  const d = daxJson(16 * MiB, 12, snap, stats, (n) => names.get(n));
  const lines = formatDax(d).split('\n');
  assert.is(lines[0], 'DAX window: 16.0 MiB, chunk size 2.0 MiB, 8 chunks, map alignment 4.0 KiB, placement lifo');
  const rows = lines.slice(2, 6);
  assert.match(rows[0]!, /^\s+0-2\s+0x0\s+\/big\s+0x0\s+6\.0 MiB\s+RO$/);
  assert.match(rows[1]!, /^\s+3\s+0x600000\s+\(dropped\)/);
  assert.match(rows[2]!, /^\s+4-5\s+0x800000\s+nodeid 9\s+0x400000\s+4\.0 MiB\s+RW\s+<- top$/);
  assert.match(rows[3]!, /^\s+6-7\s+0xc00000\s+\(free\)\s+4\.0 MiB$/);
  const text = lines.join('\n');
  assert.match(text, /stack: 6 of 8 chunks in use, top at chunk 5/);
  assert.match(text, /hits 7, misses 3/);
  assert.match(text, /mapped 5, evicted 2, removed by truncation 4/);
  assert.match(text, /SETUPMAPPING 3 \(write mappings 1, upgrades 2\), REMOVEMAPPING 1/);
  assert.match(text, /ENOSPC\s+1/);
  assert.match(text, /reclaim\s+6 background runs/);
  assert.match(text, /adaptive\s+9 misses served by FUSE_READ\/FUSE_WRITE, 1 switches/);
  assert.match(text, /setupmapping 1.*ENOMEM 1/);
  assert.match(text, /DAX read 3145728 \(3\.0 MiB\), DAX written 8192 \(8\.0 KiB\), FUSE_READ 4096 \(4\.0 KiB\)/);
  assert.is((text.match(/<- top/g) ?? []).length, 1, 'one top');
});

t('the dax picture of Linux\'s range pool: no top, busy and free ranges, the adaptive rule shown', () => {
  const snap: DaxSnapshot = {
    chunkSize: 2 * MiB, windowChunks: 8, firstEmpty: 1, freeChunks: 5, placement: 'lru', canMap: true, bypassing: true,
    mappings: [
      { nodeid: 5n, mstart: 2, nchunks: 2, fstart: 0, foffset: 0, moffset: 4 * MiB, writable: true },
      { nodeid: 5n, mstart: 6, nchunks: 1, fstart: 7, foffset: 14 * MiB, moffset: 12 * MiB, writable: false },
    ],
  };
  const text = formatDax(daxJson(16 * MiB, 12, snap, undefined, () => '/f'));
  assert.match(text, /placement lru \(adaptive rule: misses go to FUSE_READ\/FUSE_WRITE for now\)/);
  assert.match(text, /\n\s+2-3\s+0x400000\s+\/f\s+0x0\s+4\.0 MiB\s+RW\n/);
  assert.match(text, /\n\s+6\s+0xc00000\s+\/f\s+0xe00000\s+2\.0 MiB\s+RO\n/);
  assert.match(text, /ranges: 3 of 8 busy, 5 free/);
  assert.not.match(text, /<- top|\(free\)/);
});

t('dax --json shape; no window', () => {
  const snap: DaxSnapshot = { chunkSize: 4096, windowChunks: 2, firstEmpty: 1, freeChunks: 1, placement: 'lifo', canMap: true,
    bypassing: false, mappings: [{ nodeid: 3n, mstart: 0, nchunks: 1, fstart: 1, foffset: 4096, moffset: 0, writable: true }] };
  const j = JSON.parse(toJson(daxJson(8192, 12, snap, stats, () => '/f')));
  assert.equal(j.window, {
    size: 8192, chunkSize: 4096, chunks: 2, mapAlignment: 4096, canMap: true, firstEmpty: 1, placement: 'lifo', freeChunks: 1,
    bypassing: false,
    mappings: [{ nodeid: '3', path: '/f', mstart: 0, nchunks: 1, fstart: 1, foffset: 4096, moffset: 0, writable: true }],
  });
  assert.is(j.stats.hits, 7);
  const none = daxJson(0, 12, undefined, undefined, () => undefined);
  assert.equal(none, { window: null, stats: null });
  assert.match(formatDax(none), /DAX window: none/);
  const empty = formatDax(daxJson(8192, 12, { ...snap, firstEmpty: 0, mappings: [] }, undefined, () => undefined));
  assert.match(empty, /\(stack empty\)/);
  assert.not.match(empty, /<- top/);
});

t('errors: errno names, usage text', () => {
  assert.is(describeError(['cat', '/nope'], new ErrnoError(Errno.ENOENT)), 'virtiofs: cat /nope: ENOENT');
  assert.is(describeError(['ls', '/f'], new ErrnoError(Errno.ENOTDIR, 'walk')), 'virtiofs: ls /f: ENOTDIR');
  assert.is(describeError(['df', 'x'], new UsageError('usage: df')), 'virtiofs: usage: df');
});

t('paths resolve against the shell cwd', () => {
  assert.is(resolvePath({ cwd: '/a/b' }, '../c'), '/a/c');
  assert.is(resolvePath({ cwd: '/a' }, '/x/./y/'), '/x/y');
  assert.is(resolvePath({ cwd: '/' }, '../..'), '/');
  assert.is(resolvePath({ cwd: '/d' }, undefined), '/d');
});

t('start summary: counts, the ratio of each pass, eviction, verdict', () => {
  const pass = (guestMs: number, selectedMs: number) => ({
    files: 3, bytes: 2 * MiB, ms: 2 * guestMs, guestMs, mismatches: [], selected: { files: 1, bytes: 2 * MiB - 10, guestMs: selectedMs },
  });
  const d = { setupMappings: 1, removeMappings: 0, hits: 0, misses: 1, evicted: 0, bytesDax: 2 * MiB, fallbacks: 0 };
  const ok = formatSummary({
    files: 3, symlinks: 1, dirs: 2, bytes: 2 * MiB, mismatches: [], window: { size: 8 * MiB, chunks: 4, chunkSize: 2 * MiB },
    rounds: [
      { dax: pass(900, 100), fuse: pass(1000, 200), stats: d },
      { dax: pass(850, 50), fuse: pass(1000, 200), stats: { ...d, setupMappings: 0, misses: 0, hits: 8 } },
    ],
    eviction: { dax: pass(2000, 100), fuse: pass(1000, 200), stats: { ...d, setupMappings: 7, evicted: 3, removeMappings: 2 }, chunksNeeded: 7 },
    fallbacks: { 'no-window': 0, setupmapping: 1 },
  });
  assert.match(ok, /mismatches   0\n/);
  assert.is(roundLine('pass 1', { dax: pass(900, 100), fuse: pass(1000, 200), stats: d }),
    'pass 1: 3 files, 2.0 MiB through each mount, 0 mismatches; DAX 0.90 s, FUSE_READ 1.00 s in the guest; '
    + 'the 1 file through the window (2.0 MiB): DAX 0.10 s, FUSE_READ 0.20 s; SETUPMAPPING 1, hits 0, misses 1, evicted 0');
  assert.match(ok, /window       8\.0 MiB, 4 chunks of 2\.0 MiB\n/);
  assert.match(ok, /ratios       DAX\/FUSE_READ is throughput over the same bytes: above 1x, DAX was faster\n/, 'the ratio read the right way round');
  assert.match(ok, /pass 1       DAX\/FUSE_READ 2\.00x on the 1 file through the window \(2\.0 MiB\), 1\.11x on every file; SETUPMAPPING 1, hits 0, misses 1, evicted 0\n/);
  assert.match(ok, /pass 2       DAX\/FUSE_READ 4\.00x .*hits 8, misses 0, evicted 0 \(from cached mappings\)\n/);
  assert.match(ok, /eviction     dax=always, every file: 7 chunks through 4: SETUPMAPPING 7, .*evicted 3, REMOVEMAPPING 2; DAX\/FUSE_READ 0\.50x on every file\n/);
  assert.match(ok, /fallbacks    setupmapping 1\n/);
  assert.match(ok, /result: OK/);
  const plain = { files: 3, bytes: 2, ms: 10, guestMs: 5, mismatches: [] };
  const bad = formatSummary({ files: 3, symlinks: 1, dirs: 2, bytes: 2, mismatches: [{ path: '/x', offset: 4, why: 'byte 4 is 1, host has 2' }],
    rounds: [{ dax: plain, fuse: plain }] });
  assert.match(bad, /mismatches   1\n/);
  assert.match(bad, /window       none/);
  assert.not.match(bad, /ratios/, 'no window, no ratios to read');
  assert.match(bad, /pass 1       DAX\/FUSE_READ 1\.00x on every file\n/);
  assert.match(bad, /MISMATCH \/x: byte 4/);
  assert.match(bad, /result: FAILED/);
});

t.run();
