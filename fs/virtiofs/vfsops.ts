// vfsops of virtiofs (OSv's virtiofs_vfsops.cc): mount, unmount, statfs,
// sync; and the per-mount inode table with its lookup bookkeeping.
//
// The VFS mounts by source string: the FileSystemType keeps a table of
// devices by tag (Linux: mount -t virtiofs <tag> /mnt); mountDevice takes a
// device directly.

import { Errno, ErrnoError } from '../../core/errno';
import { Log, consoleLog } from '../../core/log';
import type { FileSystemType, FsEntry, Mount, MountedFs, MountOptions, StatFs } from '../../core/vfs';
import { FuseConnection, acquireConnection, releaseConnection } from './connection';
import type { FuseDevice } from './device';
import { EntryOut, FUSE_ATTR_DAX, FUSE_GETATTR, FUSE_ROOT_ID, FUSE_STATFS } from '../fuse';
import { VirtiofsInode, checkAttr, expiry, typeOf } from './inode';
import { DaxMode, parseOptions } from './options';
import { VirtiofsVnops } from './vnops';

export class VirtiofsMount implements MountedFs {
  readonly vnops: VirtiofsVnops;
  /** Nodes this mount holds lookups on, by nodeid. */
  readonly inodes = new Map<bigint, VirtiofsInode>();
  private readonly pending = new Map<VirtiofsInode, Mount>();
  /** Inodes no vnode uses, oldest first, kept with their lookups (and their
   *  DAX mappings) until `inodeCache` is exceeded: Linux's icache, so that
   *  closing and reopening a file does not cost REMOVEMAPPING and
   *  SETUPMAPPING again. */
  private readonly idle = new Map<bigint, VirtiofsInode>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly forgetting = new Set<Promise<void>>();
  private unmounted = false;

  constructor(
    readonly conn: FuseConnection,
    /** The mode in force: never when the device has no window. */
    readonly daxMode: DaxMode,
    readonly aggressive: boolean,
    readonly log: Log,
    readonly inodeCache = 0,
  ) {
    this.vnops = new VirtiofsVnops(this);
  }

  /** Whether reads of ip go through the window. */
  daxFor(ip: VirtiofsInode): boolean {
    return this.daxMode === 'always' || (this.daxMode === 'inode' && ip.daxFlag);
  }

  async root(): Promise<FsEntry> {
    let ip = this.inodes.get(FUSE_ROOT_ID);
    if (!ip) {
      const out = await this.conn.session.call(FUSE_GETATTR, FUSE_ROOT_ID, { getattr_flags: 0, fh: 0n });
      checkAttr(out.attr);
      ip = {
        nodeid: FUSE_ROOT_ID, type: typeOf(out.attr.mode), nlookup: 0, attr: out.attr, size: Number(out.attr.size),
        attrExpires: expiry(out.attr_valid, out.attr_valid_nsec), daxFlag: (out.attr.flags & FUSE_ATTR_DAX) !== 0,
      };
      this.inodes.set(FUSE_ROOT_ID, ip);
    }
    return { ino: FUSE_ROOT_ID, mode: ip.attr.mode, data: ip };
  }

  /** The inode for a LOOKUP reply, counting the lookup: the held one (its
   *  attributes refreshed) or a new one. */
  instantiate(out: EntryOut): VirtiofsInode {
    const nodeid = out.nodeid;
    this.conn.noteLookup(nodeid);
    const held = this.inodes.get(nodeid);
    if (held) { held.nlookup++; this.idle.delete(nodeid); }
    try {
      checkAttr(out.attr);
      if (nodeid === FUSE_ROOT_ID && out.generation !== 0n) throw new ErrnoError(Errno.EIO, 'virtiofs: root nodeid with a generation');
      if (held && typeOf(out.attr.mode) !== held.type) throw new ErrnoError(Errno.EIO, `virtiofs: nodeid ${nodeid} changed type`);
    } catch (e) {
      // The server counted the lookup: give it back (a held node does at its drop).
      if (!held) this.forgetNow(nodeid, 1);
      throw e;
    }
    if (held) {
      held.attr = out.attr;
      held.size = Number(out.attr.size);
      held.attrExpires = expiry(out.attr_valid, out.attr_valid_nsec);
      return held;
    }
    const ip: VirtiofsInode = {
      nodeid, type: typeOf(out.attr.mode), nlookup: 1, attr: out.attr, size: Number(out.attr.size),
      attrExpires: expiry(out.attr_valid, out.attr_valid_nsec), daxFlag: (out.attr.flags & FUSE_ATTR_DAX) !== 0,
    };
    this.inodes.set(nodeid, ip);
    return ip;
  }

  /**
   * The VFS dropped ip's vnode: FORGET its lookups. Deferred to a macrotask,
   * after the walks in flight have made their vnodes: a LOOKUP that returned
   * this inode just before the drop revives it (the VFS then holds a vnode
   * for the nodeid again) and nothing is forgotten.
   */
  scheduleForget(mount: Mount, ip: VirtiofsInode): void {
    this.pending.set(ip, mount);
    this.timer ??= setTimeout(() => this.flushForgets(), 0);
  }

  /** Sends the FORGETs scheduled so far. */
  flushForgets(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const list = [...this.pending];
    this.pending.clear();
    for (const [ip, mount] of list) {
      if (!this.unmounted && mount.vnodes.has(ip.nodeid)) continue; // revived
      if (this.inodes.get(ip.nodeid) !== ip) continue;
      this.idle.delete(ip.nodeid);
      this.idle.set(ip.nodeid, ip); // newest last
    }
    while (this.idle.size > this.inodeCache) {
      const [nodeid, ip] = this.idle.entries().next().value as [bigint, VirtiofsInode];
      this.idle.delete(nodeid);
      this.inodes.delete(nodeid);
      const n = ip.nlookup;
      ip.nlookup = 0;
      this.forgetNow(nodeid, n);
    }
  }

  /** Unused inodes kept with their lookups (for tests and the shell). */
  get idleInodes(): number {
    return this.idle.size;
  }

  private forgetNow(nodeid: bigint, n: number): void {
    if (n <= 0) return;
    const p = this.conn.forget(nodeid, n).catch((e) => this.log(`virtiofs: FORGET ${nodeid} failed: ${String(e)}`));
    this.forgetting.add(p);
    void p.finally(() => this.forgetting.delete(p));
  }

  /** Called after the VFS dropped every vnode: forgets what is left, and
   *  with the device's last mount releases the window and sends DESTROY. */
  async unmount(_force: boolean): Promise<void> {
    if (this.unmounted) return;
    this.unmounted = true;
    this.flushForgets();
    this.idle.clear();
    for (const ip of this.inodes.values()) {
      const n = ip.nlookup;
      ip.nlookup = 0;
      this.forgetNow(ip.nodeid, n);
    }
    this.inodes.clear();
    await Promise.all([...this.forgetting]);
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

  /** A read-only client holds no dirty data (OSv's virtiofs_sync is empty). */
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
    const conn = await acquireConnection(device, { chunkSize: opts.chunkSize, log: this.log });
    if (opts.dax === 'always' && !conn.dax) {
      await releaseConnection(conn);
      // As Linux: dax=always on a device without a window is refused.
      throw new ErrnoError(Errno.EINVAL, 'virtiofs: dax=always but the device has no DAX window');
    }
    const mode: DaxMode = !conn.dax ? 'never' : opts.dax ?? 'always';
    return new VirtiofsMount(conn, mode, opts.aggressive, this.log, opts.inodeCache);
  }
}

/** The filesystem type an embedder registers; devices are added by tag. */
export const virtiofsFileSystemType = new VirtiofsFileSystemType();
