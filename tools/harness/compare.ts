// The comparison rules of the harness: a guest answer against the host's own
// view of the same name. Pure functions over plain values, so the rules are
// unit-tested without a device.

import type { BigIntStats } from 'node:fs';
import { S_IFBLK, S_IFCHR, S_IFMT, type Stat } from '../../core/vfs';

const NS = 1_000_000_000n;

/** The stat fields FUSE carries, on one scale for both sides: the VFS's
 *  Stat, its times in nanoseconds. */
export type StatView = Pick<Stat, 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size'> & {
  mtimeNs: bigint;
  ctimeNs: bigint;
};

export interface Mismatch {
  /** Guest path the answer was about. */
  path: string;
  field: string;
  host: string;
  guest: string;
}

export function hostStatView(st: BigIntStats): StatView {
  return {
    ino: st.ino, mode: Number(st.mode), nlink: Number(st.nlink), uid: Number(st.uid), gid: Number(st.gid),
    // fuse_attr.rdev is 32 bits.
    rdev: Number(st.rdev & 0xffffffffn), size: Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs,
  };
}

export function guestStatView(st: Stat): StatView {
  return {
    ino: st.ino, mode: st.mode, nlink: st.nlink, uid: st.uid, gid: st.gid, rdev: st.rdev, size: st.size,
    mtimeNs: BigInt(st.mtime.sec) * NS + BigInt(st.mtime.nsec),
    ctimeNs: BigInt(st.ctime.sec) * NS + BigInt(st.ctime.nsec),
  };
}

/** "sec.nnnnnnnnn", exact for negative times too. */
export function formatNs(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  return `${neg ? '-' : ''}${a / NS}.${(a % NS).toString().padStart(9, '0')}`;
}

export interface StatCompareOptions {
  /** Compare st_ino (false when the device numbers nodes its own way). */
  ino: boolean;
}

/** Every field where the guest's stat differs from the host's. atime is left
 *  out: the harness's own reads move it. */
export function compareStat(path: string, host: StatView, guest: StatView, opts: StatCompareOptions): Mismatch[] {
  const out: Mismatch[] = [];
  const diff = (field: string, h: string, g: string) => { if (h !== g) out.push({ path, field, host: h, guest: g }); };
  const oct = (m: number) => `0o${m.toString(8)}`;
  diff('type', oct(host.mode & S_IFMT), oct(guest.mode & S_IFMT));
  diff('mode', oct(host.mode & 0o7777), oct(guest.mode & 0o7777));
  diff('size', String(host.size), String(guest.size));
  diff('nlink', String(host.nlink), String(guest.nlink));
  diff('uid', String(host.uid), String(guest.uid));
  diff('gid', String(host.gid), String(guest.gid));
  diff('mtime', formatNs(host.mtimeNs), formatNs(guest.mtimeNs));
  diff('ctime', formatNs(host.ctimeNs), formatNs(guest.ctimeNs));
  if (opts.ino) diff('ino', String(host.ino), String(guest.ino));
  const t = host.mode & S_IFMT;
  if (t === S_IFCHR || t === S_IFBLK) diff('rdev', String(host.rdev), String(guest.rdev));
  return out;
}

/** Names one side has and the other lacks (order does not matter). */
export function compareNames(path: string, host: readonly string[], guest: readonly string[]): Mismatch[] {
  const h = new Set(host);
  const g = new Set(guest);
  const out: Mismatch[] = [];
  for (const n of host) if (!g.has(n)) out.push({ path, field: 'name', host: JSON.stringify(n), guest: 'missing' });
  for (const n of guest) if (!h.has(n)) out.push({ path, field: 'name', host: 'missing', guest: JSON.stringify(n) });
  if (guest.length !== g.size) out.push({ path, field: 'entries', host: `${host.length}`, guest: `${guest.length} (duplicates)` });
  return out;
}

/** The first differing byte of two reads of the same range. */
export function compareBytes(path: string, what: string, host: Uint8Array, guest: Uint8Array): Mismatch[] {
  if (host.length !== guest.length) return [{ path, field: `${what} length`, host: String(host.length), guest: String(guest.length) }];
  const n = host.length;
  // Fast path: Buffer.compare is native.
  if (Buffer.from(host.buffer, host.byteOffset, n).equals(Buffer.from(guest.buffer, guest.byteOffset, n))) return [];
  let i = 0;
  while (i < n && host[i] === guest[i]) i++;
  return [{ path, field: `${what} byte ${i}`, host: `0x${host[i]!.toString(16)}`, guest: `0x${guest[i]!.toString(16)}` }];
}

/** An error as the errno name a call ended with, or "ok". */
export function outcome(err: unknown): string {
  if (err === undefined) return 'ok';
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : `error: ${(err as Error).message ?? err}`;
}

export function compareOutcome(path: string, call: string, host: string, guest: string): Mismatch[] {
  return host === guest ? [] : [{ path, field: call, host, guest }];
}

export function formatMismatch(m: Mismatch): string {
  return `${m.path}: ${m.field}: host ${m.host}, guest ${m.guest}`;
}
