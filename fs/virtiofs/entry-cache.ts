// Names looked up, kept for their entry_valid (Linux's dcache timeouts): a
// LOOKUP of a name still valid sends nothing. An entry names the inode
// object it found, so an inode the cache has since forgotten (its nodeid
// maybe reused by the server for another file) never answers for it. The
// mount's own namespace calls keep it right: what they create is entered,
// what they remove or rename leaves.

import type { VirtiofsInode } from './inode';

interface Entry {
  readonly ip: VirtiofsInode;
  /** Date.now() until which the name may be used without LOOKUP. */
  readonly expires: number;
}

/** A map key for a name's bytes. */
function key(name: Uint8Array): string {
  return String.fromCharCode.apply(null, name as unknown as number[]);
}

export class EntryCache {
  private readonly dirs = new Map<bigint, Map<string, Entry>>();

  /** The inode `name` in directory `parent` named within its timeout, or undefined. */
  get(parent: bigint, name: Uint8Array): VirtiofsInode | undefined {
    const d = this.dirs.get(parent);
    const e = d?.get(key(name));
    if (!e) return undefined;
    if (Date.now() >= e.expires) {
      d!.delete(key(name));
      return undefined;
    }
    return e.ip;
  }

  /** Enters a name valid until `expires` (0: not at all). */
  set(parent: bigint, name: Uint8Array, ip: VirtiofsInode, expires: number): void {
    if (!(expires > Date.now())) { this.drop(parent, name); return; }
    let d = this.dirs.get(parent);
    if (!d) this.dirs.set(parent, (d = new Map()));
    d.set(key(name), { ip, expires });
  }

  drop(parent: bigint, name: Uint8Array): void {
    const d = this.dirs.get(parent);
    if (!d) return;
    d.delete(key(name));
    if (d.size === 0) this.dirs.delete(parent);
  }

  /** Every name in a directory (it went, or its listing may have changed). */
  dropDir(parent: bigint): void {
    this.dirs.delete(parent);
  }

  clear(): void {
    this.dirs.clear();
  }

  get size(): number {
    let n = 0;
    for (const d of this.dirs.values()) n += d.size;
    return n;
  }
}
