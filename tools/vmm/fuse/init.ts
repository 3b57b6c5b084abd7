// FUSE_INIT negotiation, as virtiofsd (libfuse's do_init) does it. The
// server's: a filesystem only says what it adds (FsInit).

import { Errno } from '../../../core';
import * as K from '../../../fs/fuse';
import { InitIn, InitOut } from '../../../fs/fuse';

/** Oldest minor virtiofsd accepts. */
export const MIN_MINOR = 31;
/** log2 of the host page size: foffset, moffset and len of SETUPMAPPING
 *  must be multiples of 1 << MAP_ALIGNMENT_LOG2. */
export const MAP_ALIGNMENT_LOG2 = 12;
export const MAP_ALIGNMENT = 1 << MAP_ALIGNMENT_LOG2;
export const DEFAULT_MAX_PAGES = 256;
const PAGE = 4096;

/** What the server offers (when the client asks for it). */
const OFFERED = K.FUSE_ASYNC_READ | K.FUSE_BIG_WRITES | K.FUSE_DO_READDIRPLUS | K.FUSE_READDIRPLUS_AUTO
  | K.FUSE_PARALLEL_DIROPS | K.FUSE_MAX_PAGES | K.FUSE_MAP_ALIGNMENT;

export interface InitResult {
  /** An errno, or the reply. */
  out: InitOut | number;
  /** True when the session is now initialized. */
  initialized: boolean;
  /** Negotiated minor (valid when initialized). */
  minor: number;
}

/** A version we serve: 7.x with x >= MIN_MINOR (the filesystem's init is
 *  asked only then; a newer major is answered with our version alone). */
export function initVersionServed(i: InitIn): boolean {
  return i.major === 7 && i.minor >= MIN_MINOR;
}

export function negotiateInit(i: InitIn, opts: { inodeDax: boolean; readdirplus?: boolean; maxPages: number }): InitResult {
  const base: InitOut = {
    major: K.FUSE_KERNEL_VERSION, minor: K.FUSE_KERNEL_MINOR_VERSION, max_readahead: 0, flags: 0n,
    max_background: 0, congestion_threshold: 0, max_write: 0, time_gran: 0, max_pages: 0,
    map_alignment: 0, max_stack_depth: 0,
  };
  if (i.major < 7 || (i.major === 7 && i.minor < MIN_MINOR)) {
    return { out: Errno.EPROTO, initialized: false, minor: 0 };
  }
  // libfuse: a newer major gets our version only, and the kernel is
  // expected to retry with 7.x.
  if (i.major > 7) return { out: base, initialized: false, minor: 0 };

  const ext = (i.flags & K.FUSE_INIT_EXT) !== 0n;
  let offer = OFFERED;
  if (ext && opts.inodeDax) offer |= K.FUSE_HAS_INODE_DAX;
  if (opts.readdirplus === false) offer &= ~(K.FUSE_DO_READDIRPLUS | K.FUSE_READDIRPLUS_AUTO);
  let flags = i.flags & offer;
  // flags2 exists on the wire only with FUSE_INIT_EXT.
  if (ext) flags |= K.FUSE_INIT_EXT;
  else flags &= 0xffffffffn;
  const minor = Math.min(i.minor, K.FUSE_KERNEL_MINOR_VERSION);
  const maxPages = (flags & K.FUSE_MAX_PAGES) !== 0n ? opts.maxPages : 0;
  return {
    initialized: true,
    minor,
    out: {
      ...base,
      minor,
      max_readahead: i.max_readahead,
      flags,
      max_write: (maxPages || 32) * PAGE,
      time_gran: 1,
      max_pages: maxPages,
      map_alignment: (flags & K.FUSE_MAP_ALIGNMENT) !== 0n ? MAP_ALIGNMENT_LOG2 : 0,
    },
  };
}
