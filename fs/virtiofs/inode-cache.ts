// The one owner of lookup counting. The server counts a lookup for every
// entry it returns (LOOKUP today; CREATE, MKDIR, MKNOD, SYMLINK, LINK and
// READDIRPLUS alike) and the client gives each back with FORGET. Two levels:
//
// - LookupBook, one per connection (so shared by every mount of a device):
//   the count as the server keeps it, per nodeid, and the only path to
//   FORGET: an entry reply that comes after its caller gave up (an
//   interrupted LOOKUP or CREATE) is given back through it too. When the last lookup of a nodeid that went through the window
//   goes, its chunks are removed (REMOVEMAPPING) before the FORGET, so the
//   server cannot reuse the nodeid for another file while the window still
//   shows this one.
// - InodeCache, one per mount (each has its own vnode cache): the inode of
//   every node the mount holds, with its share of the count, and Linux's
//   icache: inodes no vnode uses keep their lookups (and so their DAX
//   mappings) in an LRU of `inode-cache` entries, the oldest forgotten
//   first. Every entry-returning reply goes through instantiate() or
//   adopt(); only this file decides when to FORGET.

import type { Log } from '../../core/log';
import type { Mount, Vnode } from '../../core/vfs';
import { Errno, ErrnoError } from '../../core/errno';
import type { DaxManager } from './dax';
import { AttrOut, EntryOut, FUSE_ROOT_ID, ForgetOne } from '../fuse';
import { VirtiofsInode, checkAttr, newInode, setAttr } from './inode';
import type { FuseSession, UnclaimedLookups } from './session';

/** The FORGET path (the session's hiprio requests); the book takes the
 *  session's unclaimed lookups. */
export type Forgetter = Pick<FuseSession, 'forget' | 'forgetMany'> & { unclaimedLookups?: UnclaimedLookups };
/** What the book needs of the window manager: removing a file's chunks. */
export type ChunkDropper = Pick<DaxManager, 'dropInode'>;

export class LookupBook implements UnclaimedLookups {
  /** Lookups the server counts per nodeid, over every mount. */
  private readonly counts = new Map<bigint, number>();
  /** Nodeids that went through the window: dropInode when they are forgotten. */
  private readonly daxNodeids = new Set<bigint>();

  constructor(
    private readonly session: Forgetter,
    /** Null when the device has no window. */
    private readonly dax: ChunkDropper | null,
    private readonly log: Log,
  ) {
    session.unclaimedLookups = this;
  }

  /** The server counted n more lookups of nodeid. */
  note(nodeid: bigint, n = 1): void {
    this.counts.set(nodeid, (this.counts.get(nodeid) ?? 0) + n);
  }

  count(nodeid: bigint): number {
    return this.counts.get(nodeid) ?? 0;
  }

  /** nodeid is read through the window: its chunks go before its last FORGET. */
  noteDax(nodeid: bigint): void {
    this.daxNodeids.add(nodeid);
  }

  /** A lookup the server counted in a reply nobody took (settled late by
   *  the session): counted and given back at once, so a nodeid a mount
   *  holds keeps its share, and its mappings. */
  giveBack(nodeid: bigint): Promise<void> {
    this.note(nodeid);
    return this.forget(nodeid, 1);
  }

  /** Gives back n lookups of nodeid (REMOVEMAPPING first if they were the last). */
  async forget(nodeid: bigint, n: number): Promise<void> {
    if (n <= 0) return;
    if (this.release(nodeid, n)) await this.dropDax(nodeid);
    await this.session.forget(nodeid, n);
  }

  /** Gives back a batch (BATCH_FORGET), REMOVEMAPPING first as forget(). */
  async forgetMany(list: readonly ForgetOne[]): Promise<void> {
    if (list.length === 0) return;
    for (const f of list) if (this.release(f.nodeid, Number(f.nlookup))) await this.dropDax(f.nodeid);
    await this.session.forgetMany(list);
  }

  /** True when the last lookup of a nodeid that used the window went. */
  private release(nodeid: bigint, n: number): boolean {
    const left = (this.counts.get(nodeid) ?? 0) - n;
    if (left > 0) {
      this.counts.set(nodeid, left);
      return false;
    }
    this.counts.delete(nodeid);
    return this.daxNodeids.delete(nodeid);
  }

  private async dropDax(nodeid: bigint): Promise<void> {
    try {
      await this.dax?.dropInode(nodeid);
    } catch (e) {
      this.log(`virtiofs: REMOVEMAPPING for nodeid ${nodeid} failed: ${String(e)}`);
    }
  }
}

export class InodeCache {
  /** Nodes this mount holds lookups on, by nodeid (the root with none). */
  readonly inodes = new Map<bigint, VirtiofsInode>();
  /** Inodes whose vnode the VFS dropped, to settle after the walks in flight. */
  private readonly pending = new Map<VirtiofsInode, Mount>();
  /** Inodes no vnode uses, oldest first, kept with their lookups (and their
   *  DAX mappings) until more than `size` are: closing and reopening a file
   *  costs no REMOVEMAPPING and no SETUPMAPPING. */
  private readonly idle = new Map<bigint, VirtiofsInode>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly forgetting = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly book: LookupBook,
    /** Unused inodes kept (the `inode-cache` mount option); 0: forget at once. */
    readonly size: number,
    private readonly log: Log,
    /** dax=inode: an inode whose FUSE_ATTR_DAX changed is forgotten once
     *  unused, whatever `size` (per-file DAX for virtio-fs, Jeffle Xu, 2021). */
    private readonly dropOnDaxChange = false,
  ) {}

  /** The root (nodeid 1) from its GETATTR, held with no lookup: it is never
   *  looked up, so never forgotten. */
  async root(getattr: () => Promise<AttrOut>): Promise<VirtiofsInode> {
    const held = this.inodes.get(FUSE_ROOT_ID);
    if (held) return held;
    const ip = newInode(FUSE_ROOT_ID, await getattr(), 0);
    this.inodes.set(FUSE_ROOT_ID, ip);
    return ip;
  }

  /** The inode for an entry reply, counting its lookup: the held one (its
   *  attributes refreshed) or a new one. EIO for attributes no file can
   *  have or a node that changed type; the lookup is given back then (a
   *  held node's at its drop). */
  instantiate(out: EntryOut): VirtiofsInode {
    const nodeid = out.nodeid;
    this.book.note(nodeid);
    const held = this.inodes.get(nodeid);
    if (held) { held.nlookup++; this.idle.delete(nodeid); }
    let ip: VirtiofsInode;
    try {
      checkAttr(out.attr);
      if (nodeid === FUSE_ROOT_ID && out.generation !== 0n) throw new ErrnoError(Errno.EIO, 'virtiofs: root nodeid with a generation');
      if (held) {
        setAttr(held, out);
        return held;
      }
      ip = newInode(nodeid, out, 1);
    } catch (e) {
      if (!held) this.forgetNow(nodeid, 1);
      throw e;
    }
    this.inodes.set(nodeid, ip);
    return ip;
  }

  /** A name cached for ip answered a lookup without LOOKUP: true (and ip
   *  leaves the idle LRU) when ip is still the inode held for its nodeid. */
  revive(ip: VirtiofsInode): boolean {
    if (this.inodes.get(ip.nodeid) !== ip) return false;
    this.idle.delete(ip.nodeid);
    return true;
  }

  /**
   * Entries the server counted without the VFS asking (READDIRPLUS; "." and
   * ".." left out by the caller), as Linux's fuse_direntplus_link: a node
   * this mount holds takes the lookup and the fresh attributes; another
   * becomes an idle inode, kept with its lookup like one a vnode let go, so
   * a stat of the name that follows sends nothing. Past `size` idle inodes
   * the oldest are forgotten, all in one BATCH_FORGET; with `size` 0, or
   * attributes no file can have, the lookup is given back in it too.
   * Returns each entry's inode, undefined for one not kept.
   */
  adopt(entries: readonly EntryOut[]): (VirtiofsInode | undefined)[] {
    const forgets: ForgetOne[] = [];
    const out = entries.map((e): VirtiofsInode | undefined => {
      if (e.nodeid === 0n) return undefined;
      this.book.note(e.nodeid);
      const held = this.inodes.get(e.nodeid);
      if (held) {
        held.nlookup++;
        try { setAttr(held, e); } catch { return undefined; } // kept for its drop, not entered
        if (this.dropOnDaxChange && held.daxHintChanged && this.idle.delete(e.nodeid)) {
          // Unused and its DAX hint changed: not cached (Linux's dontcache
          // dentry dies at fuse_direntplus_link's dput), so the next open
          // looks it up again and has the new state.
          this.inodes.delete(e.nodeid);
          forgets.push({ nodeid: e.nodeid, nlookup: BigInt(held.nlookup) });
          held.nlookup = 0;
          return undefined;
        }
        if (this.idle.delete(e.nodeid)) this.idle.set(e.nodeid, held); // newest last
        return held;
      }
      let ip: VirtiofsInode;
      try {
        if (this.size === 0 || e.nodeid === FUSE_ROOT_ID) throw new ErrnoError(Errno.EIO, 'not kept');
        ip = newInode(e.nodeid, e, 1);
      } catch {
        forgets.push({ nodeid: e.nodeid, nlookup: 1n });
        return undefined;
      }
      ip.fromPlus = true;
      this.inodes.set(e.nodeid, ip);
      this.idle.set(e.nodeid, ip);
      return ip;
    });
    forgets.push(...this.trimIdle());
    if (forgets.length > 0) {
      // In the background: a listing does not wait for the hiprio queue.
      this.track(this.book.forgetMany(mergeForgets(forgets)), 'FORGET failed');
    }
    return out.map((ip) => (ip && this.inodes.get(ip.nodeid) === ip ? ip : undefined));
  }

  /** ip is read through the window. */
  noteDax(ip: VirtiofsInode): void {
    this.book.noteDax(ip.nodeid);
  }

  /**
   * The VFS dropped vp (vnops.inactive). Settled from a macrotask, after the
   * walks in flight have made their vnodes: a LOOKUP that returned this
   * inode just before the drop revives it (the VFS holds a vnode for the
   * nodeid again) and nothing is forgotten. The root never is.
   */
  release(vp: Vnode): void {
    const ip = vp.data as VirtiofsInode | undefined;
    if (!ip || ip.nodeid === FUSE_ROOT_ID) return;
    this.pending.set(ip, vp.mount);
    this.timer ??= setTimeout(() => this.flush(), 0);
  }

  /** Settles the drops so far: unused inodes join the LRU (one whose DAX
   *  hint changed, with dax=inode, is forgotten instead), and past `size`
   *  the oldest are forgotten. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const list = [...this.pending];
    this.pending.clear();
    for (const [ip, mount] of list) {
      if (!this.closed && mount.vnodes.has(ip.nodeid)) continue; // revived
      if (this.inodes.get(ip.nodeid) !== ip) continue;
      this.idle.delete(ip.nodeid);
      if (this.dropOnDaxChange && ip.daxHintChanged) {
        // Not cached: the next open looks the node up again and takes the new hint.
        this.inodes.delete(ip.nodeid);
        const n = ip.nlookup;
        ip.nlookup = 0;
        this.forgetNow(ip.nodeid, n);
        continue;
      }
      this.idle.set(ip.nodeid, ip); // newest last
    }
    for (const f of this.trimIdle()) this.forgetNow(f.nodeid, Number(f.nlookup));
  }

  /** The oldest idle inodes past `size`, out of the cache: theirs to forget. */
  private trimIdle(): ForgetOne[] {
    const out: ForgetOne[] = [];
    while (this.idle.size > this.size) {
      const [nodeid, ip] = this.idle.entries().next().value as [bigint, VirtiofsInode];
      this.idle.delete(nodeid);
      this.inodes.delete(nodeid);
      if (ip.nlookup > 0) out.push({ nodeid, nlookup: BigInt(ip.nlookup) });
      ip.nlookup = 0;
    }
    return out;
  }

  /** Unused inodes kept with their lookups. */
  get idleCount(): number {
    return this.idle.size;
  }

  /** Unmount, after the VFS dropped every vnode: forgets everything held
   *  and waits for every FORGET this cache sent. */
  async forgetAll(): Promise<void> {
    this.closed = true;
    this.flush();
    this.idle.clear();
    for (const ip of this.inodes.values()) {
      const n = ip.nlookup;
      ip.nlookup = 0;
      this.forgetNow(ip.nodeid, n);
    }
    this.inodes.clear();
    await Promise.all([...this.forgetting]);
  }

  private forgetNow(nodeid: bigint, n: number): void {
    if (n <= 0) return;
    this.track(this.book.forget(nodeid, n), `FORGET ${nodeid} failed`);
  }

  private track(p: Promise<void>, what: string): void {
    const q = p.catch((e) => this.log(`virtiofs: ${what}: ${String(e)}`));
    this.forgetting.add(q);
    void q.finally(() => this.forgetting.delete(q));
  }
}

/** One record per nodeid (a listing may name a node twice: hard links). */
function mergeForgets(list: ForgetOne[]): ForgetOne[] {
  const m = new Map<bigint, bigint>();
  for (const f of list) m.set(f.nodeid, (m.get(f.nodeid) ?? 0n) + f.nlookup);
  return [...m].map(([nodeid, nlookup]) => ({ nodeid, nlookup }));
}
