// The harness's own test tree: every shape of answer a guest must get right.
// Built fresh in a temporary directory; paths here are relative to its root.

import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Files whose sizes sit on the edges of pages, reads and DAX chunks. */
export const SIZED: Record<string, number> = {
  'sizes/empty': 0, 'sizes/one': 1, 'sizes/p4095': 4095, 'sizes/p4096': 4096, 'sizes/p4097': 4097,
  'sizes/k128': 128 * KiB, 'sizes/m2minus': 2 * MiB - 1, 'sizes/m2': 2 * MiB, 'sizes/m2plus': 2 * MiB + 1,
  'sizes/m5odd': 5 * MiB + 123,
};

export const BIG = 'data/big-100M.bin';
export const BIG_SIZE = 100 * MiB;
export const SPARSE = 'data/sparse-64M.bin';
export const SPARSE_SIZE = 64 * MiB;
/** Written ranges of the sparse file: [offset, length]; the rest are holes. */
export const SPARSE_BLOCKS: ReadonlyArray<readonly [number, number]> = [
  [0, 4096], [2 * MiB - 2048, 4096], [31 * MiB + 77, 10], [SPARSE_SIZE - 4096, 4096],
];
export const MANY = 'many';
export const MANY_COUNT = 10_000;
export const EMPTY_DIR = 'emptydir';

export const NAMES = [
  'with space.txt', 'naïve café.txt', '日本語のファイル', 'emoji 🎉 party', ' leading space', 'trailing space ',
  '-dash', 'quote\'s "double"', 'x'.repeat(255), 'dir with space/inner file', 'Ünïcödé dir/ß',
].map((n) => `names/${n}`);

/** Paths whose lookups must fail, with the errno Linux gives. */
export const PROBES: ReadonlyArray<{ call: 'lstat' | 'stat' | 'readlink' | 'opendir' | 'open' | 'read'; path: string }> = [
  { call: 'lstat', path: 'no-such-file' },
  { call: 'lstat', path: 'sizes/no-such-file' },
  { call: 'lstat', path: 'no-such-dir/x' },
  { call: 'open', path: 'names/no such name' },
  { call: 'stat', path: 'links/dangling' },
  { call: 'lstat', path: 'sizes/p4096/x' },
  { call: 'lstat', path: 'sizes/empty/x/y' },
  { call: 'stat', path: 'links/rel/x' },
  { call: 'opendir', path: 'sizes/one' },
  { call: 'opendir', path: 'links/rel' },
  { call: 'stat', path: 'links/loop' },
  { call: 'readlink', path: 'sizes/one' },
  { call: 'read', path: 'deep' },
];

/** Deterministic, non-repeating bytes (a repeat would hide a read at the wrong offset). */
function content(size: number, seed: string): Buffer {
  const out = Buffer.allocUnsafe(size);
  const key = crypto.createHash('sha256').update(seed).digest();
  const cipher = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zero = Buffer.alloc(Math.min(size, 4 * MiB));
  for (let off = 0; off < size; off += zero.length) {
    const n = Math.min(zero.length, size - off);
    cipher.update(zero.subarray(0, n)).copy(out, off);
  }
  return out;
}

function write(root: string, rel: string, data: string | Uint8Array): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
}

/** Build the tree under `root` (an empty directory). */
export function buildTree(root: string, progress: (m: string) => void = () => {}): void {
  progress('building the test tree');
  for (const [rel, size] of Object.entries(SIZED)) write(root, rel, content(size, rel));

  progress(`writing ${BIG} (${BIG_SIZE / MiB} MiB)`);
  fs.mkdirSync(path.join(root, 'data'), { recursive: true });
  const bigFd = fs.openSync(path.join(root, BIG), 'w');
  try {
    const piece = 8 * MiB;
    for (let off = 0; off < BIG_SIZE; off += piece) {
      const b = content(Math.min(piece, BIG_SIZE - off), `${BIG}@${off}`);
      fs.writeSync(bigFd, b, 0, b.length, off);
    }
  } finally { fs.closeSync(bigFd); }

  const sparseFd = fs.openSync(path.join(root, SPARSE), 'w');
  try {
    fs.ftruncateSync(sparseFd, SPARSE_SIZE);
    for (const [off, len] of SPARSE_BLOCKS) fs.writeSync(sparseFd, content(len, `sparse@${off}`), 0, len, off);
  } finally { fs.closeSync(sparseFd); }

  for (const rel of NAMES) write(root, rel, `${rel}\n`);

  fs.mkdirSync(path.join(root, EMPTY_DIR));
  write(root, 'deep/a/b/c/d/e/f/g/h/leaf', 'leaf\n');

  // Modes and owners: a guest sees the host's bits and ids unchanged.
  write(root, 'modes/0600', 'x');
  fs.chmodSync(path.join(root, 'modes/0600'), 0o600);
  write(root, 'modes/0755', '#!/bin/sh\n');
  fs.chmodSync(path.join(root, 'modes/0755'), 0o755);
  write(root, 'modes/0444', 'ro');
  fs.chmodSync(path.join(root, 'modes/0444'), 0o444);
  fs.mkdirSync(path.join(root, 'modes/setgid-dir'));
  fs.chmodSync(path.join(root, 'modes/setgid-dir'), 0o2750);
  fs.mkdirSync(path.join(root, 'modes/sticky-dir'));
  fs.chmodSync(path.join(root, 'modes/sticky-dir'), 0o1777);
  if (process.getuid?.() === 0) {
    write(root, 'modes/owned-1234-5678', 'owned');
    fs.chownSync(path.join(root, 'modes/owned-1234-5678'), 1234, 5678);
  }

  // Times to the nanosecond's edges: sub-second, before the epoch.
  write(root, 'times/subsecond', 't');
  fs.utimesSync(path.join(root, 'times/subsecond'), 1_600_000_000.123456, 1_600_000_000.987654);
  write(root, 'times/before-epoch', 't');
  fs.utimesSync(path.join(root, 'times/before-epoch'), -86_400.5, -86_400.25);

  fs.mkdirSync(path.join(root, 'links'));
  fs.symlinkSync('../sizes/p4096', path.join(root, 'links/rel'));
  fs.symlinkSync('/etc/hostname', path.join(root, 'links/abs'));
  fs.symlinkSync('nowhere', path.join(root, 'links/dangling'));
  fs.symlinkSync('../names', path.join(root, 'links/dir'));
  fs.symlinkSync('rel', path.join(root, 'links/chain'));
  fs.symlinkSync('loop', path.join(root, 'links/loop'));
  fs.symlinkSync('naïve 🎉 target', path.join(root, 'links/utf8 target'));

  write(root, 'hardlinks/a', 'shared inode\n');
  fs.linkSync(path.join(root, 'hardlinks/a'), path.join(root, 'hardlinks/b'));

  try {
    fs.mkdirSync(path.join(root, 'special'));
    execFileSync('mkfifo', [path.join(root, 'special/fifo')], { stdio: 'ignore' });
  } catch { /* no mkfifo here: the walk simply has no FIFO */ }

  progress(`creating ${MANY}/ (${MANY_COUNT} entries)`);
  fs.mkdirSync(path.join(root, MANY));
  for (let i = 0; i < MANY_COUNT; i++) {
    const name = path.join(root, MANY, `e${String(i).padStart(5, '0')}`);
    if (i % 1000 === 999) fs.mkdirSync(name);
    else fs.writeFileSync(name, i % 100 === 0 ? `${i}\n` : '');
  }
}
