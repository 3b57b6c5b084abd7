// fuse_dirent and fuse_direntplus records, the body of READDIR and
// READDIRPLUS replies. Each record is padded to 8 bytes (FUSE_DIRENT_ALIGN);
// the padding is part of the record, the last one included.

import { fuseDirentAlign } from './kernel';
import { ENTRY_NAME, checkName, nameProblem } from './names';
import { EntryOut, FUSE_ENTRY_OUT_SIZE, FUSE_NAME_OFFSET, fuseDirent, fuseEntryOut } from './structs';
import { LeReader, LeWriter } from './wire';

export interface Dirent {
  ino: bigint;
  /** Offset of the next entry: what the next READDIR passes as offset. */
  off: bigint;
  /** DT_* */
  type: number;
  name: Uint8Array;
}

export interface DirentPlus {
  entry_out: EntryOut;
  dirent: Dirent;
}

export function direntSize(namelen: number): number {
  return fuseDirentAlign(FUSE_NAME_OFFSET + namelen);
}

export function direntplusSize(namelen: number): number {
  return fuseDirentAlign(FUSE_ENTRY_OUT_SIZE + FUSE_NAME_OFFSET + namelen);
}

function writeDirent(w: LeWriter, off: number, d: Dirent): number {
  checkName(d.name, ENTRY_NAME);
  fuseDirent.write(w, off, { ino: d.ino, off: d.off, namelen: d.name.length, type: d.type });
  w.put(off + FUSE_NAME_OFFSET, d.name);
  const end = off + direntSize(d.name.length);
  w.bytes.fill(0, off + FUSE_NAME_OFFSET + d.name.length, end); // the record's padding
  return end;
}

function entrySize(e: Dirent | DirentPlus, plus: boolean): number {
  return plus ? direntplusSize((e as DirentPlus).dirent.name.length) : direntSize((e as Dirent).name.length);
}

/** How many leading entries fit whole in `size` bytes, and their length. */
export function direntsThatFit(
  entries: ReadonlyArray<Dirent> | ReadonlyArray<DirentPlus>, plus: boolean, size: number,
): { count: number; length: number } {
  let length = 0;
  let count = 0;
  for (; count < entries.length; count++) {
    const n = entrySize(entries[count]!, plus);
    if (length + n > size) break;
    length += n;
  }
  return { count, length };
}

/** Total length of all entries. */
export function direntsLength(entries: ReadonlyArray<Dirent> | ReadonlyArray<DirentPlus>, plus: boolean): number {
  let length = 0;
  for (const e of entries) length += entrySize(e, plus);
  return length;
}

/** Writes the first `count` entries at off (zero-filled buffer: padding
 *  stays 0); returns the end offset. Throws on an invalid name. */
export function writeDirents(
  w: LeWriter, off: number, entries: ReadonlyArray<Dirent> | ReadonlyArray<DirentPlus>, count: number, plus: boolean,
): number {
  for (let i = 0; i < count; i++) {
    if (plus) {
      const e = entries[i] as DirentPlus;
      fuseEntryOut.write(w, off, e.entry_out);
      off = writeDirent(w, off + FUSE_ENTRY_OUT_SIZE, e.dirent);
    } else {
      off = writeDirent(w, off, entries[i] as Dirent);
    }
  }
  return off;
}

function readDirent(r: LeReader, off: number, end: number): { d: Dirent; next: number } {
  r.need(off, FUSE_NAME_OFFSET, 'fuse_dirent', end);
  const h = fuseDirent.read(r, off);
  const namelen = h.namelen;
  if (namelen === 0 || namelen > ENTRY_NAME.max) r.fail(`fuse_dirent.namelen ${namelen} out of range`);
  const next = off + direntSize(namelen);
  if (next > end) r.fail(`fuse_dirent.namelen ${namelen} overruns its record (${end - off} bytes left)`);
  const name = r.view(off + FUSE_NAME_OFFSET, off + FUSE_NAME_OFFSET + namelen);
  const p = nameProblem(name, ENTRY_NAME);
  if (p !== undefined) r.fail(`fuse_dirent: ${p}`);
  return { d: { ino: h.ino, off: h.off, type: h.type, name }, next };
}

/** Reads the records of [off, end); names are views. Rejects with EIO, as
 *  Linux does, a record that overruns the buffer or has a bad name. */
export function readDirents(r: LeReader, off: number, end: number): Dirent[] {
  const out: Dirent[] = [];
  while (off < end) {
    const { d, next } = readDirent(r, off, end);
    out.push(d);
    off = next;
  }
  return out;
}

export function readDirentsPlus(r: LeReader, off: number, end: number): DirentPlus[] {
  const out: DirentPlus[] = [];
  while (off < end) {
    r.need(off, FUSE_ENTRY_OUT_SIZE, 'fuse_direntplus', end);
    const entry_out = fuseEntryOut.read(r, off);
    const { d, next } = readDirent(r, off + FUSE_ENTRY_OUT_SIZE, end);
    out.push({ entry_out, dirent: d });
    off = next;
  }
  return out;
}
