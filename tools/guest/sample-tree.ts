// The tree `npm start` shares when given no directory: text files, symlinks,
// nested directories, the sizes around page and chunk boundaries, a file
// larger than the default start window, and a directory of many files. The
// content is deterministic, so a mismatch can be reproduced.

import * as fs from 'node:fs';
import * as path from 'node:path';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Sizes that straddle a page (4 KiB) and a DAX chunk (2 MiB). */
export const SAMPLE_SIZES: Readonly<Record<string, number>> = {
  'empty': 0, 'one-byte': 1, '4k-minus-1': 4 * KiB - 1, '4k': 4 * KiB, '4k-plus-1': 4 * KiB + 1,
  '2m-minus-1': 2 * MiB - 1, '2m': 2 * MiB, '2m-plus-1': 2 * MiB + 1, '9m': 9 * MiB,
};

/** Deterministic bytes (an LCG seeded by `seed`). */
export function samplePattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

export interface SampleTreeOptions {
  /** Files in many/ (default 300). */
  manyFiles?: number;
}

/** Writes the sample tree into dir (which must exist and be empty). */
export function buildSampleTree(dir: string, opts: SampleTreeOptions = {}): void {
  const w = (rel: string, data: string | Uint8Array): void => {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
  };
  w('README.txt', 'A sample tree served by virtiofs-vmm for npm start.\nEvery file is read through DAX and FUSE_READ.\n');
  w('hello.txt', 'hello, virtio-fs\n');
  w('docs/notes.md', '# Notes\n\nThe DAX window is a stack of 2 MiB chunks.\n');
  w('docs/lorem.txt', 'Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n'.repeat(200));
  w('a/b/c/d/deep.txt', 'deep\n');
  let seed = 1;
  for (const [name, size] of Object.entries(SAMPLE_SIZES)) w(`sizes/${name}`, samplePattern(size, seed++));
  const n = opts.manyFiles ?? 300;
  fs.mkdirSync(path.join(dir, 'many'));
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, 'many', `file-${String(i).padStart(4, '0')}.txt`), `file ${i}\n`.repeat(1 + (i % 7)));
  fs.symlinkSync('a/b/c/d/deep.txt', path.join(dir, 'link-to-deep'));
  fs.symlinkSync('docs', path.join(dir, 'link-to-docs'));
  fs.symlinkSync('../hello.txt', path.join(dir, 'a', 'up-link'));
}
