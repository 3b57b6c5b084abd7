// Names on the wire: NUL-terminated bytes. The codec keeps them as bytes
// (Uint8Array, without the NUL) because a host name need not be valid UTF-8;
// fuseName/nameToString convert at the edges.

import { Errno, ErrnoError } from '../../core/errno';
import { FUSE_NAME_MAX, FUSE_PATH_MAX, FUSE_XATTR_NAME_MAX } from './kernel';
import { LeReader, LeWriter } from './wire';

const SLASH = 0x2f;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/** What a name may be: an entry name (no '/', at most 1024 bytes) or a
 *  symlink target (any bytes but NUL, at most PATH_MAX - 1). */
export interface NameRule {
  readonly what: string;
  readonly max: number;
  readonly slash: boolean;
}
export const ENTRY_NAME: NameRule = { what: 'name', max: FUSE_NAME_MAX, slash: false };
/** A name in a request: Linux sends up to PATH_MAX - 1 bytes (LOOKUP of a
 *  long component) and leaves ENAMETOOLONG to the server. */
export const REQUEST_NAME: NameRule = { what: 'name', max: FUSE_PATH_MAX - 1, slash: false };
export const LINK_TARGET: NameRule = { what: 'symlink target', max: FUSE_PATH_MAX - 1, slash: true };
/** An extended attribute name ("user.x"): any bytes but NUL, '/' included. */
export const XATTR_NAME: NameRule = { what: 'xattr name', max: FUSE_XATTR_NAME_MAX, slash: true };

/** UTF-8 bytes of a name. */
export function fuseName(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** A name's bytes as a string; bytes that are not UTF-8 become U+FFFD. */
export function nameToString(b: Uint8Array): string {
  return utf8Decoder.decode(b);
}

/** Why `name` breaks `rule`, or undefined when it is fine. */
export function nameProblem(name: Uint8Array, rule: NameRule): string | undefined {
  if (name.length === 0) return `empty ${rule.what}`;
  if (name.length > rule.max) return `${rule.what} of ${name.length} bytes exceeds ${rule.max}`;
  if (name.indexOf(0) >= 0) return `${rule.what} contains a NUL`;
  if (!rule.slash && name.indexOf(SLASH) >= 0) return `${rule.what} contains '/'`;
  return undefined;
}

/** Encoder side: a bad name is the caller's error, thrown as an errno. */
export function checkName(name: Uint8Array, rule: NameRule): void {
  const p = nameProblem(name, rule);
  if (p !== undefined) {
    throw new ErrnoError(name.length > rule.max ? Errno.ENAMETOOLONG : Errno.EINVAL, p);
  }
}

/** Writes name and its NUL at off; returns the offset after the NUL. */
export function writeName(w: LeWriter, off: number, name: Uint8Array): number {
  w.put(off, name);
  w.u8(off + name.length, 0);
  return off + name.length + 1;
}

/** Reads a NUL-terminated name in [off, end); the name is a view. */
export function readName(r: LeReader, off: number, end: number, rule: NameRule): { name: Uint8Array; next: number } {
  const lim = Math.min(end, off + rule.max + 1);
  const nul = off < lim ? r.bytes.subarray(off, lim).indexOf(0) : -1;
  if (nul < 0) {
    if (end - off > rule.max) r.fail(`${rule.what} longer than ${rule.max} bytes`);
    r.fail(`${rule.what} without its NUL`);
  }
  const name = r.view(off, off + nul);
  const p = nameProblem(name, rule);
  if (p !== undefined) r.fail(p);
  return { name, next: off + nul + 1 };
}
