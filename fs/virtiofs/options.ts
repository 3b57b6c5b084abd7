// Mount options of virtiofs: dax=always|never|inode (Linux's tri-state:
// per-file DAX for virtio-fs, Jeffle Xu, 2021), chunk-size (the DAX
// manager's), dax-placement=lifo|lru (OSv's stack or Linux's range pool),
// dax-adaptive (misses under heavy eviction go to FUSE_READ/FUSE_WRITE),
// aggressive (OSv's read(..., aggressive): map the rest of the file on a
// miss), inode-cache (how many unused inodes keep their lookups, and so
// their DAX mappings), request-timeout (seconds a request may go unanswered
// before FUSE_INTERRUPT, as long again before the connection is aborted; 0
// none: Linux's default_request_timeout of 2025), and ro/rw for the VFS.

import { Errno, ErrnoError } from '../../core/errno';
import type { MountOptions } from '../../core/vfs';
import type { PlacementName } from './dax';

export type DaxMode = 'always' | 'never' | 'inode';

export interface VirtiofsOptions {
  /** Undefined: always when the device has a window, never otherwise. */
  dax: DaxMode | undefined;
  /** Bytes; undefined: the default (2 MiB) or the device's shared manager's. */
  chunkSize: number | undefined;
  /** Undefined: lifo (OSv's stack), or the device's shared manager's. */
  placement: PlacementName | undefined;
  /** The adaptive rule (fs/virtiofs/dax/adaptive.ts); default on. */
  adaptive: boolean;
  aggressive: boolean;
  /** Unused inodes kept (Linux's icache) before their FORGET; 0: forget at once. */
  inodeCache: number;
  /** Milliseconds; undefined: the default (session.ts), 0: no deadline. */
  requestTimeoutMs: number | undefined;
}

/** setTimeout's limit, in whole seconds. */
export const MAX_REQUEST_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000);

export const DEFAULT_INODE_CACHE = 1024;

const KNOWN = new Set(['dax', 'chunk-size', 'dax-placement', 'dax-adaptive', 'aggressive', 'inode-cache', 'request-timeout', 'ro', 'rw']);
const SIZE = /^(\d+)([kmg]?)$/i;
const UNITS: Record<string, number> = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

function bad(msg: string): never {
  throw new ErrnoError(Errno.EINVAL, `virtiofs: ${msg}`);
}

function flag(name: string, v: string | boolean): boolean {
  if (typeof v === 'boolean') return v;
  if (v === '' || v === 'true' || v === '1' || v === 'on') return true;
  if (v === 'false' || v === '0' || v === 'off') return false;
  return bad(`${name}=${v}: not a boolean`);
}

/** Parses the options; EINVAL for an unknown option or a bad value. */
export function parseOptions(options: MountOptions): VirtiofsOptions {
  const out: VirtiofsOptions = {
    dax: undefined, chunkSize: undefined, placement: undefined, adaptive: true, aggressive: false, inodeCache: DEFAULT_INODE_CACHE,
    requestTimeoutMs: undefined,
  };
  for (const [k, v] of Object.entries(options)) {
    if (!KNOWN.has(k)) bad(`unknown mount option ${k}`);
    if (k === 'dax') {
      // "-o dax" alone is dax=always, as on Linux.
      if (v === true || v === '') out.dax = 'always';
      else if (v === false) out.dax = 'never';
      else if (v === 'always' || v === 'never' || v === 'inode') out.dax = v;
      else bad(`dax=${String(v)}: always, never or inode`);
    } else if (k === 'chunk-size') {
      const m = typeof v === 'string' ? SIZE.exec(v.trim()) : null;
      const n = m ? Number(m[1]) * UNITS[m[2]!.toLowerCase()]! : NaN;
      if (!Number.isSafeInteger(n) || n <= 0) bad(`chunk-size=${String(v)}: a positive size in bytes (k, m, g suffixes)`);
      out.chunkSize = n;
    } else if (k === 'dax-placement') {
      if (v !== 'lifo' && v !== 'lru') bad(`dax-placement=${String(v)}: lifo (OSv's stack) or lru (Linux's range pool)`);
      out.placement = v;
    } else if (k === 'dax-adaptive') {
      out.adaptive = flag(k, v);
    } else if (k === 'aggressive') {
      out.aggressive = flag(k, v);
    } else if (k === 'inode-cache') {
      const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n)) bad(`inode-cache=${String(v)}: a number of inodes (0: none)`);
      out.inodeCache = n;
    } else if (k === 'request-timeout') {
      const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n) || n > MAX_REQUEST_TIMEOUT_S) {
        bad(`request-timeout=${String(v)}: whole seconds up to ${MAX_REQUEST_TIMEOUT_S} (0: none)`);
      }
      out.requestTimeoutMs = n * 1000;
    } else {
      flag(k, v);
    }
  }
  return out;
}
