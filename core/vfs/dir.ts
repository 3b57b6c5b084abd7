// readdir on an open directory, and the whole listing of a path. Entries
// from the filesystem are checked (a name is bytes without '/' or NUL) and
// handed out with both their bytes and a display string.

import { Errno } from '../errno';
import { NAME_MAX, O_DIRECTORY, O_RDONLY } from './fcntl';
import type { FsDirEntry, OpContext } from './fs';
import { PathLike, nameString } from './namei';
import type { DirEntry } from './stat';
import { VfsState, err } from './state';

function checkEntries(batch: unknown): FsDirEntry[] {
  if (!Array.isArray(batch)) throw err(Errno.EIO, 'readdir: not a list');
  for (const e of batch as FsDirEntry[]) {
    if (e === null || typeof e !== 'object' || !(e.name instanceof Uint8Array) || e.name.length === 0
        || e.name.length > NAME_MAX || e.name.indexOf(0x2f) >= 0 || e.name.indexOf(0) >= 0
        || typeof e.ino !== 'bigint' || typeof e.nextCookie !== 'bigint' || typeof e.type !== 'number') {
      throw err(Errno.EIO, 'readdir: bad entry from filesystem');
    }
  }
  return batch as FsDirEntry[];
}

/** The next batch of entries ("." and ".." included, as the filesystem
 *  returns them); empty at the end. */
export async function readdir(s: VfsState, ctx: OpContext, fd: number): Promise<DirEntry[]> {
  const f = s.live(fd);
  if (!f.isDir) throw err(Errno.ENOTDIR);
  return f.serialize(async () => {
    if (f.eof) return [];
    const batch = checkEntries(await f.vp.mount.fs.vnops.readdir(f.vp, f.fh, f.cookie, ctx));
    if (batch.length === 0) {
      f.eof = true;
      return [];
    }
    const next = batch[batch.length - 1]!.nextCookie;
    if (next === f.cookie) throw err(Errno.EIO, 'readdir: cookie did not advance');
    f.cookie = next;
    return batch.map((e) => ({ name: nameString(e.name), nameBytes: e.name, type: e.type, ino: e.ino, nextCookie: e.nextCookie }));
  });
}

/** Every entry of the directory `path`. */
export async function readdirAll(s: VfsState, ctx: OpContext, path: PathLike,
  open: (path: PathLike, flags: number) => Promise<number>, close: (fd: number) => Promise<void>): Promise<DirEntry[]> {
  const fd = await open(path, O_RDONLY | O_DIRECTORY);
  const f = s.files.get(fd);
  const all: DirEntry[] = [];
  const seen = new Set<bigint>([0n]);
  try {
    for (;;) {
      const batch = await readdir(s, ctx, fd);
      if (batch.length === 0) break;
      // A filesystem that cycles its cookies would otherwise never end.
      if (seen.has(f.cookie)) throw err(Errno.EIO, 'readdir: cookie loop');
      seen.add(f.cookie);
      for (const e of batch) all.push(e);
    }
  } finally {
    await close(fd);
  }
  return all;
}
