// vfsops of virtiofs (OSv's virtiofs_vfsops.cc): mount, unmount, statfs,
// sync. A mount is its inode cache and its vnops over the device's shared
// connection.
//
// The VFS mounts by source string: the FileSystemType keeps a table of
// devices by tag (Linux: mount -t virtiofs <tag> /mnt); mountDevice takes a
// device directly.

import { Errno, ErrnoError } from '../../core/errno';
import { Log, consoleLog } from '../../core/log';
import type { FileSystemType, FsEntry, MountedFs, MountOptions, StatFs, Vnops } from '../../core/vfs';
import { FuseConnection, acquireConnection, releaseConnection } from './connection';
import type { FuseDevice } from './device';
import { FUSE_GETATTR, FUSE_ROOT_ID, FUSE_STATFS } from '../fuse';
import type { VirtiofsInode } from './inode';
import { EntryCache } from './entry-cache';
import { InodeCache } from './inode-cache';
import { DaxMode, parseOptions } from './options';
import { virtiofsVnops } from './vnops';

export class VirtiofsMount implements MountedFs {
  readonly vnops: Vnops;
  /** The inodes this mount holds, its idle LRU, its FORGETs. */
  readonly cache: InodeCache;
  /** Names within their entry_valid. */
  readonly entries = new EntryCache();
  private unmounted = false;

  constructor(
    readonly conn: FuseConnection,
    /** The mode in force: never when the device has no window. */
    readonly daxMode: DaxMode,
    readonly aggressive: boolean,
    readonly log: Log,
    inodeCache = 0,
    /** The adaptive rule for this mount's reads and writes (dax-adaptive). */
    readonly adaptive = true,
  ) {
    // dax=inode: an inode whose FUSE_ATTR_DAX changed is not kept once
    // unused (Linux's fuse_dax_dontcache), so the next open sees the hint.
    this.cache = new InodeCache(conn.lookups, inodeCache, log, daxMode === 'inode');
    this.vnops = virtiofsVnops({
      session: conn.session,
      dax: conn.dax,
      inodes: this.cache,
      entries: this.entries,
      limits: conn.info,
      nosys: conn.nosys,
      daxFor: (ip) => this.daxFor(ip),
      aggressive,
      adaptive,
    });
  }

  /** Nodes this mount holds lookups on, by nodeid (the shell names files from it). */
  get inodes(): ReadonlyMap<bigint, VirtiofsInode> {
    return this.cache.inodes;
  }

  /** Unused inodes kept with their lookups (for tests and the shell). */
  get idleInodes(): number {
    return this.cache.idleCount;
  }

  /** Whether reads and writes of ip go through the window: always, or
   *  with dax=inode the FUSE_ATTR_DAX its inode was made with, when INIT
   *  granted FUSE_HAS_INODE_DAX (Linux's fuse_should_enable_dax); never
   *  and always ignore the per-inode flag. */
  daxFor(ip: VirtiofsInode): boolean {
    return this.daxMode === 'always' || (this.daxMode === 'inode' && ip.daxFlag && this.conn.info.inodeDax);
  }

  async root(): Promise<FsEntry> {
    const ip = await this.cache.root(() => this.conn.session.call(FUSE_GETATTR, FUSE_ROOT_ID, { getattr_flags: 0, fh: 0n }));
    return { ino: FUSE_ROOT_ID, mode: ip.attr.mode, data: ip };
  }

  /** Called after the VFS dropped every vnode: forgets what is left, and
   *  with the device's last mount releases the window and sends DESTROY. */
  async unmount(_force: boolean): Promise<void> {
    if (this.unmounted) return;
    this.unmounted = true;
    await this.cache.forgetAll();
    await releaseConnection(this.conn);
  }

  async statfs(): Promise<StatFs> {
    const s = await this.conn.session.call(FUSE_STATFS, FUSE_ROOT_ID, null);
    const n = (v: bigint): number => (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v));
    return {
      bsize: s.bsize, frsize: s.frsize || s.bsize, blocks: n(s.blocks), bfree: n(s.bfree), bavail: n(s.bavail),
      files: n(s.files), ffree: n(s.ffree), namelen: s.namelen,
    };
  }

  /** Nothing dirty is held here: FUSE_WRITE goes to the server when made,
   *  and writes through the window land in the host file itself (OSv's
   *  virtiofs_sync is empty; fsync sends FUSE_FSYNC). */
  async sync(): Promise<void> {}
}

export interface VirtiofsTypeOptions {
  /** Where protocol violations and failed background requests are told. */
  log?: Log;
}

export class VirtiofsFileSystemType implements FileSystemType {
  readonly name = 'virtiofs';
  private readonly devices = new Map<string, FuseDevice>();
  private readonly log: Log;

  constructor(options: VirtiofsTypeOptions = {}) {
    this.log = options.log ?? consoleLog;
  }

  /** Makes the device mountable by its tag. */
  addDevice(device: FuseDevice, tag: string | undefined = device.tag): void {
    if (!tag) throw new ErrnoError(Errno.EINVAL, 'virtiofs: a device needs a tag');
    const had = this.devices.get(tag);
    if (had && had !== device) throw new ErrnoError(Errno.EEXIST, `virtiofs: tag ${tag} taken`);
    this.devices.set(tag, device);
  }

  removeDevice(tag: string): void {
    this.devices.delete(tag);
  }

  /** `source` is the device's tag. ENODEV when no device has it. */
  mount(source: string, options: MountOptions): Promise<MountedFs> {
    const device = this.devices.get(source);
    if (!device) return Promise.reject(new ErrnoError(Errno.ENODEV, `virtiofs: no device with tag ${source}`));
    return this.mountDevice(device, options);
  }

  async mountDevice(device: FuseDevice, options: MountOptions): Promise<VirtiofsMount> {
    const opts = parseOptions(options);
    const conn = await acquireConnection(device, {
      chunkSize: opts.chunkSize, placement: opts.placement, inodeDax: opts.dax === 'inode', requestTimeoutMs: opts.requestTimeoutMs,
      log: this.log,
    });
    if (opts.dax === 'always' && !conn.dax) {
      await releaseConnection(conn);
      // As Linux: dax=always on a device without a window is refused.
      throw new ErrnoError(Errno.EINVAL, 'virtiofs: dax=always but the device has no DAX window');
    }
    const mode: DaxMode = !conn.dax ? 'never' : opts.dax ?? 'always';
    return new VirtiofsMount(conn, mode, opts.aggressive, this.log, opts.inodeCache, opts.adaptive);
  }
}

/** The filesystem type an embedder registers; devices are added by tag. */
export const virtiofsFileSystemType = new VirtiofsFileSystemType();
