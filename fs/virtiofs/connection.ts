// One FUSE connection per device, shared by every mount of it, as Linux's
// virtio-fs shares one fuse_conn per tag: FUSE_INIT on the first mount, the
// DAX window manager created then (OSv made one per mount: the second mount
// of a device had a manager of its own over the same window), the lookup
// book every mount's inode cache counts in, and at the last unmount the
// window released (REMOVEMAPPING of everything) and FUSE_DESTROY sent, as
// Linux's virtio_kill_sb does (virtio-fs mounts with fc->destroy set).

import { Errno, ErrnoError } from '../../core/errno';
import type { Log } from '../../core/log';
import { DaxManager, PAGE_SHIFT, type PlacementName } from './dax';
import { SessionDaxPort } from './dax-port';
import type { FuseDevice } from './device';
import {
  FUSE_ASYNC_READ, FUSE_BIG_WRITES, FUSE_FLOCK_LOCKS, FUSE_POSIX_LOCKS, FUSE_DESTROY, FUSE_DO_READDIRPLUS, FUSE_READDIRPLUS_AUTO, FUSE_HAS_INODE_DAX, FUSE_INIT, FUSE_INIT_EXT,
  FUSE_KERNEL_VERSION, FUSE_MAP_ALIGNMENT, FUSE_MAX_PAGES, FUSE_PARALLEL_DIROPS, InitOut,
} from '../fuse';
import { LookupBook } from './inode-cache';
import { FuseSession } from './session';

/** The minor this client speaks (flags2, FUSE_HAS_INODE_DAX, FUSE_ATTR_DAX). */
export const CLIENT_MINOR = 36;
/** The oldest server minor accepted: 7.31 brought map_alignment and the DAX
 *  mapping requests. */
export const MIN_SERVER_MINOR = 31;
/** Linux's FUSE_DEFAULT_MAX_PAGES_PER_REQ, used without FUSE_MAX_PAGES. */
export const DEFAULT_MAX_PAGES = 32;
/** Linux's FUSE_MAX_MAX_PAGES. */
export const MAX_MAX_PAGES = 256;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** What FUSE_INIT asks. Locks are the server's when it grants them (else
 *  the VFS keeps them locally, as Linux does); no writeback cache: every
 *  write goes to the server when it is made. FUSE_HAS_INODE_DAX is asked
 *  only for a dax=inode mount (INODE_DAX_FLAG), as the per-file DAX series
 *  settled (per-file DAX for virtio-fs, Jeffle Xu, 2021, v4). */
export const INIT_FLAGS = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_MAX_PAGES | FUSE_PARALLEL_DIROPS
  | FUSE_MAP_ALIGNMENT | FUSE_INIT_EXT | FUSE_BIG_WRITES | FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS;
export const INODE_DAX_FLAG = FUSE_HAS_INODE_DAX;

/** The outcome of FUSE_INIT. */
export interface FuseConnInfo {
  readonly major: number;
  /** min(server minor, CLIENT_MINOR). */
  readonly minor: number;
  /** Flags both sides have (asked & granted), flags2 in the high word. */
  readonly flags: bigint;
  readonly maxPages: number;
  /** Largest FUSE_READ: maxPages pages. */
  readonly maxRead: number;
  /** log2 of the DAX map alignment in force: the server's, or PAGE_SHIFT
   *  when it announced none or 0 (OSv shifted by -1 then). The driver
   *  reports this one (getMapAlignment()): it holds this record. */
  readonly mapAlignment: number;
  /** The server's map_alignment field as sent (undefined without FUSE_MAP_ALIGNMENT). */
  readonly announcedMapAlignment: number | undefined;
  readonly readdirplus: boolean;
  /** FUSE_READDIRPLUS_AUTO granted too: READDIRPLUS only where it pays. */
  readonly readdirplusAuto: boolean;
  /** Largest FUSE_WRITE: the server's max_write (at least a page, Linux). */
  readonly maxWrite: number;
  /** FUSE_POSIX_LOCKS / FUSE_FLOCK_LOCKS granted: the server holds the locks. */
  readonly posixLocks: boolean;
  readonly flockLocks: boolean;
  /** FUSE_HAS_INODE_DAX asked (a dax=inode first mount) and granted:
   *  FUSE_ATTR_DAX in attributes means something. */
  readonly inodeDax: boolean;
}

export interface ConnectionOptions {
  /** DAX chunk size; undefined: the default, or the shared manager's. */
  chunkSize?: number;
  /** DAX placement; undefined: lifo, or the shared manager's. */
  placement?: PlacementName;
  /** The mount is dax=inode: INIT asks FUSE_HAS_INODE_DAX. */
  inodeDax?: boolean;
  /** The session's request timeout (ms); undefined: the default, or the
   *  connection's when it exists. */
  requestTimeoutMs?: number;
  log: Log;
}

export class FuseConnection {
  mounts = 0;
  /** Lookups the server counts, over every mount; the one path to FORGET. */
  readonly lookups: LookupBook;
  /** Opcodes the server answered ENOSYS: not asked again (Linux's fc->no_*). */
  readonly nosys = new Set<number>();

  constructor(
    readonly device: FuseDevice,
    readonly session: FuseSession,
    readonly info: FuseConnInfo,
    /** Null when the device has no window. */
    readonly dax: DaxManager | null,
    readonly log: Log,
    /** Its FUSE_INIT asked FUSE_HAS_INODE_DAX (the first mount was dax=inode). */
    readonly askedInodeDax = false,
  ) {
    this.lookups = new LookupBook(session, dax, log);
  }
}

// ---- the per-device registry ----------------------------------------------

interface Entry {
  conn: Promise<FuseConnection>;
}

const registry = new Map<object | string, Entry>();
/** Teardowns in progress: a new mount of the device waits for its DESTROY. */
const closing = new Map<object | string, Promise<void>>();

/** The live connection of a device, if mounted (for tests and the shell). */
export async function connectionOf(device: FuseDevice): Promise<FuseConnection | undefined> {
  const e = registry.get(device.id);
  return e ? e.conn.catch(() => undefined) : undefined;
}

/** Takes the device's connection for one more mount: INIT and the DAX
 *  manager on the first. A later mount asking for another chunk size or
 *  placement than the shared manager's, or dax=inode on a connection whose
 *  INIT did not ask FUSE_HAS_INODE_DAX, is refused with EINVAL. */
export async function acquireConnection(device: FuseDevice, opts: ConnectionOptions): Promise<FuseConnection> {
  const id = device.id;
  for (;;) {
    const c = closing.get(id);
    if (!c) break;
    await c.catch(() => {});
  }
  let e = registry.get(id);
  if (!e) {
    const entry: Entry = { conn: connect(device, opts) };
    registry.set(id, entry);
    entry.conn.catch(() => { if (registry.get(id) === entry) registry.delete(id); });
    e = entry;
  }
  const conn = await e.conn;
  let refused: string | undefined;
  if (opts.chunkSize !== undefined && conn.dax && conn.dax.chunkSize !== opts.chunkSize) {
    refused = `chunk-size ${opts.chunkSize}: the device's window manager uses ${conn.dax.chunkSize} (one manager per device)`;
  } else if (opts.placement !== undefined && conn.dax && conn.dax.placementName !== opts.placement) {
    refused = `dax-placement=${opts.placement}: the device's window manager uses ${conn.dax.placementName} (one manager per device)`;
  } else if (opts.inodeDax && conn.dax && !conn.askedInodeDax) {
    refused = 'dax=inode: the device was first mounted without it, and its FUSE_INIT did not ask FUSE_HAS_INODE_DAX';
  }
  if (refused) {
    if (conn.mounts === 0) await releaseIfUnused(conn);
    throw new ErrnoError(Errno.EINVAL, `virtiofs: ${refused}`);
  }
  if (opts.requestTimeoutMs !== undefined && conn.session.requestTimeoutMs !== opts.requestTimeoutMs) {
    if (conn.mounts === 0) await releaseIfUnused(conn);
    throw new ErrnoError(Errno.EINVAL, `virtiofs: request-timeout ${opts.requestTimeoutMs / 1000}: the device's `
      + `connection uses ${conn.session.requestTimeoutMs / 1000} (one FUSE connection per device)`);
  }
  conn.mounts++;
  return conn;
}

/** Gives back one mount; the last one releases the window and sends DESTROY. */
export async function releaseConnection(conn: FuseConnection): Promise<void> {
  if (conn.mounts <= 0) return;
  conn.mounts--;
  await releaseIfUnused(conn);
}

async function releaseIfUnused(conn: FuseConnection): Promise<void> {
  if (conn.mounts > 0) return;
  const id = conn.device.id;
  const e = registry.get(id);
  if (!e) return;
  registry.delete(id);
  const teardown = shutdown(conn);
  closing.set(id, teardown);
  try {
    await teardown;
  } finally {
    if (closing.get(id) === teardown) closing.delete(id);
  }
}

async function shutdown(conn: FuseConnection): Promise<void> {
  if (conn.dax) {
    try {
      await conn.dax.unmapAll();
    } catch (e) {
      conn.log(`virtiofs: REMOVEMAPPING at unmount failed: ${String(e)}`);
    }
  }
  try {
    await conn.session.call(FUSE_DESTROY, 0n, null);
  } catch (e) {
    // A lost device or a server without DESTROY: nothing left to tell it.
    conn.log(`virtiofs: DESTROY failed: ${String(e)}`);
  }
  conn.device.attachInit?.(undefined);
}

async function connect(device: FuseDevice, opts: ConnectionOptions): Promise<FuseConnection> {
  const session = new FuseSession(device, opts.log, { requestTimeoutMs: opts.requestTimeoutMs });
  const inodeDax = opts.inodeDax ?? false;
  const info = await init(session, inodeDax);
  const region = device.getDax();
  let dax: DaxManager | null = null;
  if (region && region.len > 0) {
    try {
      dax = new DaxManager(new SessionDaxPort(device, region, session), {
        chunkSize: opts.chunkSize, mapAlignment: info.mapAlignment, placement: opts.placement,
      });
    } catch (e) {
      await session.call(FUSE_DESTROY, 0n, null).catch(() => {});
      throw e;
    }
  }
  // One owner: the driver reports info.mapAlignment, it keeps no copy.
  device.attachInit?.(info);
  return new FuseConnection(device, session, info, dax, opts.log, inodeDax);
}

/** FUSE_INIT: 7.36 asked, 7.31 or later accepted; FUSE_HAS_INODE_DAX
 *  asked only for dax=inode. */
async function init(session: FuseSession, inodeDax: boolean): Promise<FuseConnInfo> {
  const asked = INIT_FLAGS | (inodeDax ? INODE_DAX_FLAG : 0n);
  const out: InitOut = await session.call(FUSE_INIT, 0n, {
    major: FUSE_KERNEL_VERSION, minor: CLIENT_MINOR, max_readahead: 128 * 1024, flags: asked,
  });
  if (out.major !== FUSE_KERNEL_VERSION) {
    throw new ErrnoError(Errno.EPROTO, `virtiofs: server speaks FUSE ${out.major}.${out.minor}, not ${FUSE_KERNEL_VERSION}.x`);
  }
  if (out.minor < MIN_SERVER_MINOR) {
    throw new ErrnoError(Errno.EPROTO, `virtiofs: server speaks FUSE 7.${out.minor}; 7.${MIN_SERVER_MINOR} or later needed`);
  }
  const minor = Math.min(out.minor, CLIENT_MINOR);
  // flags2 exists from 7.36 and only with FUSE_INIT_EXT; before that its
  // bytes are unused and may hold anything.
  let granted = out.flags;
  if (minor < 36 || !(granted & FUSE_INIT_EXT)) granted &= 0xffffffffn;
  const flags = granted & asked;
  const maxPages = flags & FUSE_MAX_PAGES ? Math.min(MAX_MAX_PAGES, Math.max(1, out.max_pages)) : DEFAULT_MAX_PAGES;
  const announced = flags & FUSE_MAP_ALIGNMENT ? out.map_alignment : undefined;
  return {
    major: out.major,
    minor,
    flags,
    maxPages,
    maxRead: maxPages * PAGE_SIZE,
    mapAlignment: announced ? announced : PAGE_SHIFT,
    announcedMapAlignment: announced,
    readdirplus: (flags & FUSE_DO_READDIRPLUS) !== 0n,
    readdirplusAuto: (flags & FUSE_DO_READDIRPLUS) !== 0n && (flags & FUSE_READDIRPLUS_AUTO) !== 0n,
    maxWrite: Math.max(PAGE_SIZE, out.max_write),
    posixLocks: (flags & FUSE_POSIX_LOCKS) !== 0n,
    flockLocks: (flags & FUSE_FLOCK_LOCKS) !== 0n,
    inodeDax: (flags & FUSE_HAS_INODE_DAX) !== 0n,
  };
}
