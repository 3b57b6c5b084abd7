// Whole-tree views for the write checks: a host directory as node:fs sees
// it (the reference's, and the share's own), and the guest's walk through
// the VFS; the rules that compare them, and which times an op changed.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O_RDONLY, S_IFMT, type Vfs } from '../../core/vfs';
import { compareNames, compareStat, guestStatView, hostStatView, outcome, type Mismatch } from './compare';

export interface Node {
  /** Path relative to the snapshot's root ('' for the root). */
  rel: string;
  mode: number;
  size: number;
  nlink: number;
  uid: number;
  gid: number;
  target?: string;
  /** sha256 of a regular file's content. */
  hash?: string;
  ino: bigint;
  /** Birth time: an inode number reused after an unlink is another file. */
  btimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  st: fs.BigIntStats;
}

export type Snapshot = Map<string, Node>;

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const isType = (m: number, t: number) => (m & S_IFMT) === t;

function sha256File(p: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally { fs.closeSync(fd); }
  return h.digest('hex');
}

/** Content hashes by (ino, size, mtime, ctime): only a changed file is read again. */
export class HashCache {
  private map = new Map<string, string>();
  get(p: string, st: fs.BigIntStats, fresh: boolean): string {
    const k = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    let h = fresh ? undefined : this.map.get(k);
    if (h === undefined) {
      h = sha256File(p);
      if (this.map.size > 10_000) this.map.clear();
      this.map.set(k, h);
    }
    return h;
  }
}

/** Every name under root (lstat, readlink, content hash); `fresh` reads every file again. */
export function snapshot(root: string, cache: HashCache, fresh = false): Snapshot {
  const out: Snapshot = new Map();
  const visit = (rel: string) => {
    const p = rel ? path.join(root, rel) : root;
    const st = fs.lstatSync(p, { bigint: true });
    const mode = Number(st.mode);
    const n: Node = {
      rel, mode, size: Number(st.size), nlink: Number(st.nlink), uid: Number(st.uid), gid: Number(st.gid),
      ino: st.ino, btimeNs: st.birthtimeNs, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, st,
    };
    if (isType(mode, S_IFLNK)) n.target = fs.readlinkSync(p);
    if (isType(mode, S_IFREG)) n.hash = cache.get(p, st, fresh);
    out.set(rel, n);
    if (isType(mode, S_IFDIR)) for (const name of fs.readdirSync(p).sort()) visit(rel ? `${rel}/${name}` : name);
  };
  visit('');
  return out;
}

const oct = (m: number) => `0o${m.toString(8)}`;
const show = (rel: string) => `/${rel}`;

/** The other names of the same file, for comparing hard links. */
function linkGroups(s: Snapshot): Map<string, string> {
  const byIno = new Map<string, string[]>();
  for (const n of s.values()) {
    if (isType(n.mode, S_IFDIR)) continue;
    const k = `${n.st.dev}:${n.ino}`;
    byIno.set(k, [...(byIno.get(k) ?? []), n.rel]);
  }
  const out = new Map<string, string>();
  for (const names of byIno.values()) for (const r of names) out.set(r, names.filter((x) => x !== r).map(show).join(' ') || '-');
  return out;
}

/** The reference tree against the share's (both host views): names, types,
 *  modes, sizes (not of directories: a filesystem's own), nlink, owners,
 *  link targets, contents, which names are one file. Not times or inode numbers. */
export function compareTrees(ref: Snapshot, share: Snapshot): Mismatch[] {
  const mm: Mismatch[] = [];
  const rg = linkGroups(ref);
  const sg = linkGroups(share);
  for (const [rel, r] of ref) {
    const s = share.get(rel);
    if (!s) { mm.push({ path: show(rel), field: 'exists', host: 'yes', guest: 'no' }); continue; }
    const diff = (field: string, h: string, g: string) => { if (h !== g) mm.push({ path: show(rel), field, host: h, guest: g }); };
    diff('type', oct(r.mode & S_IFMT), oct(s.mode & S_IFMT));
    if ((r.mode & S_IFMT) !== (s.mode & S_IFMT)) continue;
    diff('mode', oct(r.mode & 0o7777), oct(s.mode & 0o7777));
    if (!isType(r.mode, S_IFDIR)) diff('size', String(r.size), String(s.size));
    diff('nlink', String(r.nlink), String(s.nlink));
    diff('uid', String(r.uid), String(s.uid));
    diff('gid', String(r.gid), String(s.gid));
    if (r.target !== undefined) diff('symlink target', JSON.stringify(r.target), JSON.stringify(s.target));
    if (r.hash !== undefined) diff('sha256', r.hash.slice(0, 16), (s.hash ?? '').slice(0, 16));
    if (!isType(r.mode, S_IFDIR)) diff('same file as', rg.get(rel)!, sg.get(rel)!);
  }
  for (const rel of share.keys()) if (!ref.has(rel)) mm.push({ path: show(rel), field: 'exists', host: 'no', guest: 'yes' });
  return mm;
}

/** Which of mtime and ctime changed from `before` to `after`, per name in
 *  `after`, for the files that were there before (by inode and birth time). */
export function timeChanges(before: Snapshot, after: Snapshot): Map<string, string> {
  const prev = new Map<string, Node>();
  const key = (n: Node) => `${n.st.dev}:${n.ino}:${n.btimeNs}`;
  for (const n of before.values()) prev.set(key(n), n);
  const out = new Map<string, string>();
  for (const n of after.values()) {
    const p = prev.get(key(n));
    if (!p) continue;
    out.set(n.rel, `${p.mtimeNs !== n.mtimeNs ? 'mtime' : ''}${p.ctimeNs !== n.ctimeNs ? ' ctime' : ''}`.trim() || 'none');
  }
  return out;
}

/** The times the op changed on the reference against those it changed on the share. */
export function compareTimeChanges(ref: Map<string, string>, share: Map<string, string>): Mismatch[] {
  const mm: Mismatch[] = [];
  for (const [rel, h] of ref) {
    const g = share.get(rel);
    if (g !== undefined && g !== h) mm.push({ path: show(rel), field: 'times changed', host: h, guest: g });
  }
  return mm;
}

async function guestSha(vfs: Vfs, p: string): Promise<string> {
  const h = crypto.createHash('sha256');
  const fd = await vfs.open(p, O_RDONLY);
  try {
    for (;;) {
      const b = await vfs.read(fd, 1 << 20);
      if (b.length === 0) break;
      h.update(b);
    }
  } finally { await vfs.close(fd); }
  return h.digest('hex');
}

/** The guest's own view of the share's subtree `guestRoot` (host `share`
 *  snapshot of the same directory): readdir, lstat (every field the read
 *  checks compare, times to the ns), readlink, content by sha256; as root,
 *  so modes do not hide anything. */
export async function compareGuestView(vfs: Vfs, guestRoot: string, share: Snapshot, ino: boolean): Promise<Mismatch[]> {
  const mm: Mismatch[] = [];
  const gp = (rel: string) => (rel ? `${guestRoot}/${rel}` : guestRoot);
  for (const [rel, h] of share) {
    const where = `guest ${show(rel)}`;
    let call = 'lstat';
    try {
      const st = await vfs.lstat(gp(rel));
      mm.push(...compareStat(where, hostStatView(h.st), guestStatView(st), { ino }));
      if (h.target !== undefined) {
        call = 'readlink';
        const t = await vfs.readlink(gp(rel));
        if (t !== h.target) mm.push({ path: where, field: 'readlink', host: JSON.stringify(h.target), guest: JSON.stringify(t) });
      }
      if (h.hash !== undefined) {
        call = 'read';
        const g = await guestSha(vfs, gp(rel));
        if (g !== h.hash) mm.push({ path: where, field: 'sha256 (guest read)', host: h.hash.slice(0, 16), guest: g.slice(0, 16) });
      }
      if (isType(h.mode, S_IFDIR)) {
        call = 'readdir';
        const entries = (await vfs.readdirAll(gp(rel))).filter((e) => e.name !== '.' && e.name !== '..');
        const hostNames = [...share.keys()].filter((r) => r !== '' && path.posix.dirname(r) === (rel || '.')).map((r) => path.posix.basename(r));
        mm.push(...compareNames(where, hostNames, entries.map((e) => e.name)));
        for (const e of entries) {
          const hn = share.get(rel ? `${rel}/${e.name}` : e.name);
          if (!hn) continue;
          const dt = (hn.mode & S_IFMT) >>> 12;
          if (e.type !== dt) mm.push({ path: `${where}/${e.name}`, field: 'd_type', host: String(dt), guest: String(e.type) });
          if (ino && e.ino !== hn.ino) mm.push({ path: `${where}/${e.name}`, field: 'd_ino', host: String(hn.ino), guest: String(e.ino) });
        }
      }
    } catch (err) {
      mm.push({ path: where, field: call, host: 'ok', guest: outcome(err) });
    }
  }
  return mm;
}
