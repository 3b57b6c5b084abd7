// A tiny in-memory FUSE server behind the FuseDevice interface, for the
// filesystem's tests. It decodes requests with the codec, answers with
// encodeReply, counts lookups per nodeid as a server must, and maps file
// ranges into a WindowBacking on SETUPMAPPING so DAX reads see the bytes.
// Switches make it misbehave in the ways the tests need.

import { Errno } from '../../../core/errno';
import { GuestMemory } from '../../../core/memory';
import { WindowBacking } from '../../../core/window';
import { S_IFDIR, S_IFLNK, S_IFREG } from '../../../core/vfs';
import type { FuseDevice } from '../../../fs/virtiofs';
import {
  AnyRequest, Attr, DirentPlus, EntryOut, FUSE_ATTR_DAX, FUSE_BATCH_FORGET, FUSE_DESTROY, FUSE_FORGET, FUSE_GETATTR,
  FUSE_INIT, FUSE_LOOKUP, FUSE_MAP_ALIGNMENT, FUSE_OPEN, FUSE_OPENDIR, FUSE_READ, FUSE_READDIR, FUSE_READDIRPLUS,
  FUSE_READLINK, FUSE_RELEASE, FUSE_RELEASEDIR, FUSE_REMOVEMAPPING, FUSE_SETUPMAPPING, FUSE_STATFS, Opcode,
  FATTR_SIZE, FUSE_FALLOCATE, FUSE_FLUSH, FUSE_FSYNC, FUSE_SETATTR, FUSE_SETUPMAPPING_FLAG_WRITE, FUSE_WRITE,
  decodeRequest, encodeReaddirReply, encodeReply, fuseName, nameToString, opcodeName,
} from '../../../fs/fuse';

export interface FakeNode {
  nodeid: bigint;
  mode: number;
  data?: Uint8Array;
  children?: Map<string, bigint>;
  target?: string;
  /** FUSE_ATTR_DAX in its attr. */
  dax?: boolean;
}

export interface FakeOptions {
  /** Minor the server answers INIT with (default 36). */
  minor?: number;
  /** Window size in bytes; 0: no window. Default 16 MiB. */
  windowSize?: number;
  /** log2 map alignment announced; undefined: FUSE_MAP_ALIGNMENT not granted. Default 12. */
  mapAlignment?: number | undefined;
  /** Grant FUSE_DO_READDIRPLUS (default true). */
  readdirplus?: boolean;
  /** Grant FUSE_READDIRPLUS_AUTO when asked (default true). */
  readdirplusAuto?: boolean;
  /** entry_valid and attr_valid in seconds (default 0: nothing cached). */
  validSeconds?: bigint;
  /** max_pages granted (default 32). */
  maxPages?: number;
}

export const WINDOW_BASE = 0x1_0000_0000;

/** Deterministic contents, different per file and offset. */
export function content(seed: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (seed * 131 + i * 7 + (i >> 9)) & 255;
  return b;
}

export class FakeFuseDevice implements FuseDevice {
  readonly id = {};
  readonly tag = 'fake';
  readonly memory = new GuestMemory();
  readonly window: WindowBacking | undefined;
  readonly nodes = new Map<bigint, FakeNode>();
  /** The server's lookup count per nodeid. */
  readonly lookups = new Map<bigint, number>();
  readonly log: AnyRequest[] = [];
  readonly forgets: { nodeid: bigint; nlookup: bigint }[] = [];
  readonly openHandles = new Set<bigint>();
  /** What the filesystem attached (FuseDevice.attachInit), in order. */
  readonly inits: ({ readonly mapAlignment: number } | undefined)[] = [];
  private nextNodeid = 2n;
  private nextFh = 100n;
  private readonly alignment: number | undefined;

  // Switches.
  setupErrno = 0;
  /** SETUPMAPPINGs that succeed before the rest fail with EIO. */
  setupFailAfter: number | undefined;
  /** READ replies carry at most this many bytes. */
  shortRead: number | undefined;
  /** The next reply to this opcode carries another unique. */
  badUniqueFor: number | undefined;
  /** Rewrites the next reply to this opcode (bytes in, bytes out). */
  tamper: { opcode: number; fn: (b: Uint8Array) => Uint8Array } | undefined;
  /** Awaited before each reply (concurrency tests). */
  delay: (() => Promise<void>) | undefined;
  /** Bytes write mappings may still reserve (as fallocate KEEP_SIZE on the
   *  host would); a write SETUPMAPPING beyond it is ENOSPC. Infinite by default. */
  space = Infinity;

  constructor(readonly opts: FakeOptions = {}) {
    const size = opts.windowSize ?? 16 << 20;
    this.alignment = 'mapAlignment' in opts ? opts.mapAlignment : 12;
    if (size > 0) {
      this.window = new WindowBacking(size);
      this.memory.addRegion('dax', WINDOW_BASE, this.window);
    }
    this.nodes.set(1n, { nodeid: 1n, mode: S_IFDIR | 0o755, children: new Map() });
  }

  getDax() {
    return this.window ? { base: WINDOW_BASE, len: this.window.size } : undefined;
  }

  attachInit(init: { readonly mapAlignment: number } | undefined): void {
    this.inits.push(init);
  }

  // ---- building the tree ----
  add(parent: bigint, name: string, node: Omit<FakeNode, 'nodeid'>): bigint {
    const nodeid = this.nextNodeid++;
    this.nodes.set(nodeid, { ...node, nodeid });
    this.nodes.get(parent)!.children!.set(name, nodeid);
    return nodeid;
  }
  file(parent: bigint, name: string, data: Uint8Array, dax = false): bigint {
    return this.add(parent, name, { mode: S_IFREG | 0o644, data, dax });
  }
  dir(parent: bigint, name: string): bigint {
    return this.add(parent, name, { mode: S_IFDIR | 0o755, children: new Map() });
  }
  symlink(parent: bigint, name: string, target: string): bigint {
    return this.add(parent, name, { mode: S_IFLNK | 0o777, target });
  }

  count(opcode: number): number {
    return this.log.filter((r) => r.opcode === opcode).length;
  }
  /** Nodeids the server still counts lookups for. */
  liveLookups(): bigint[] {
    return [...this.lookups].filter(([, n]) => n > 0).map(([k]) => k);
  }

  attr(n: FakeNode): Attr {
    const size = BigInt(n.data?.length ?? (n.target ? fuseName(n.target).length : 4096));
    return {
      ino: 1000n + n.nodeid, size, blocks: (size + 511n) / 512n, atime: 1n, mtime: 2n, ctime: 3n,
      atimensec: 4, mtimensec: 5, ctimensec: 6, mode: n.mode, nlink: n.children ? 2 : 1,
      uid: 7, gid: 8, rdev: 0, blksize: 4096, flags: n.dax ? FUSE_ATTR_DAX : 0,
    };
  }
  entry(n: FakeNode): EntryOut {
    const valid = this.opts.validSeconds ?? 0n;
    return { nodeid: n.nodeid, generation: 0n, entry_valid: valid, attr_valid: valid, entry_valid_nsec: 0, attr_valid_nsec: 0, attr: this.attr(n) };
  }
  /** A new byte array of `size` for the node (truncated or zero-extended). */
  resize(n: FakeNode, size: number): void {
    if (n.data && n.data.length === size) return;
    const b = new Uint8Array(size);
    if (n.data) b.set(n.data.subarray(0, size));
    n.data = b;
  }
  private countLookup(nodeid: bigint): void {
    this.lookups.set(nodeid, (this.lookups.get(nodeid) ?? 0) + 1);
  }

  // ---- FuseDevice ----
  async send(bytes: Uint8Array): Promise<void> {
    const d = decodeRequest(bytes);
    if (!d.ok) throw new Error(`fake: bad hiprio request: ${d.reason}`);
    const req = d.value;
    this.log.push(req);
    const forget = (nodeid: bigint, n: bigint) => {
      this.forgets.push({ nodeid, nlookup: n });
      const left = (this.lookups.get(nodeid) ?? 0) - Number(n);
      if (left < 0) throw new Error(`fake: FORGET ${n} of nodeid ${nodeid} below zero`);
      this.lookups.set(nodeid, left);
    };
    if (req.opcode === FUSE_FORGET) forget(req.nodeid, req.body.nlookup);
    else if (req.opcode === FUSE_BATCH_FORGET) for (const f of req.body.forgets) forget(f.nodeid, f.nlookup);
    else throw new Error(`fake: ${opcodeName(req.opcode)} on hiprio`);
  }

  async request(bytes: Uint8Array, replyCapacity: number): Promise<Uint8Array> {
    const d = decodeRequest(bytes);
    if (!d.ok) throw new Error(`fake: bad request: ${d.reason}`);
    const req = d.value;
    this.log.push(req);
    if (this.delay) await this.delay();
    let reply = this.answer(req);
    if (this.badUniqueFor === req.opcode) {
      this.badUniqueFor = undefined;
      reply = reply.slice();
      new DataView(reply.buffer).setBigUint64(8, req.unique + 2n, true);
    }
    if (this.tamper && this.tamper.opcode === req.opcode) {
      const fn = this.tamper.fn;
      this.tamper = undefined;
      reply = fn(reply);
    }
    if (reply.length > replyCapacity) throw new Error(`fake: ${reply.length}-byte reply for a ${replyCapacity}-byte buffer`);
    return reply;
  }

  private answer(req: AnyRequest): Uint8Array {
    const u = req.unique;
    const node = this.nodes.get(req.nodeid);
    const fail = (op: Opcode, errno: number) => encodeReply(op, u, errno);
    switch (req.opcode) {
      case FUSE_INIT: {
        let flags = req.body.flags;
        if (this.alignment === undefined) flags &= ~FUSE_MAP_ALIGNMENT;
        if (this.opts.readdirplus === false) flags &= ~(1n << 13n);
        if (this.opts.readdirplusAuto === false) flags &= ~(1n << 14n);
        return encodeReply(FUSE_INIT, u, {
          major: 7, minor: this.opts.minor ?? 36, max_readahead: req.body.max_readahead, flags,
          max_background: 16, congestion_threshold: 12, max_write: 1 << 20, time_gran: 1,
          max_pages: this.opts.maxPages ?? 32, map_alignment: this.alignment ?? 0, max_stack_depth: 0,
        });
      }
      case FUSE_DESTROY: return encodeReply(FUSE_DESTROY, u, null);
      case FUSE_STATFS:
        return encodeReply(FUSE_STATFS, u, { blocks: 1000n, bfree: 500n, bavail: 400n, files: 100n, ffree: 50n, bsize: 4096, namelen: 255, frsize: 4096 });
    }
    if (!node) return fail(req.opcode, Errno.ENOENT);
    switch (req.opcode) {
      case FUSE_LOOKUP: {
        const id = node.children?.get(nameToString(req.body.name));
        if (id === undefined) return fail(FUSE_LOOKUP, Errno.ENOENT);
        this.countLookup(id);
        return encodeReply(FUSE_LOOKUP, u, this.entry(this.nodes.get(id)!));
      }
      case FUSE_GETATTR: return encodeReply(FUSE_GETATTR, u, { attr_valid: this.opts.validSeconds ?? 0n, attr_valid_nsec: 0, attr: this.attr(node) });
      case FUSE_READLINK:
        return node.target ? encodeReply(FUSE_READLINK, u, { link: fuseName(node.target) }) : fail(FUSE_READLINK, Errno.EINVAL);
      case FUSE_OPEN: case FUSE_OPENDIR: {
        const fh = this.nextFh++;
        this.openHandles.add(fh);
        return encodeReply(req.opcode, u, { fh, open_flags: 0, backing_id: 0 });
      }
      case FUSE_RELEASE: case FUSE_RELEASEDIR:
        if (!this.openHandles.delete(req.body.fh)) return fail(req.opcode, Errno.EBADF);
        return encodeReply(req.opcode, u, null);
      case FUSE_READ: {
        if (!this.openHandles.has(req.body.fh)) return fail(FUSE_READ, Errno.EBADF);
        const off = Number(req.body.offset);
        let n = req.body.size;
        if (this.shortRead !== undefined) n = Math.min(n, this.shortRead);
        return encodeReply(FUSE_READ, u, { data: node.data!.subarray(off, off + n) });
      }
      case FUSE_READDIR: case FUSE_READDIRPLUS: {
        if (!this.openHandles.has(req.body.fh)) return fail(req.opcode, Errno.EBADF);
        const names = ['.', '..', ...[...node.children!.keys()].sort()];
        const plus = req.opcode === FUSE_READDIRPLUS;
        const start = Number(req.body.offset);
        const entries: DirentPlus[] = names.slice(start).map((name, i) => {
          const id = name === '.' || name === '..' ? 0n : node.children!.get(name)!;
          const n = id ? this.nodes.get(id)! : node;
          const e = id ? this.entry(n) : { ...this.entry(n), nodeid: 0n };
          return { entry_out: e, dirent: { ino: 1000n + n.nodeid, off: BigInt(start + i + 1), type: (n.mode >> 12) & 15, name: fuseName(name) } };
        });
        const r = encodeReaddirReply(req.opcode, u, plus ? entries : entries.map((e) => e.dirent), req.body.size);
        if (plus) for (const e of entries.slice(0, r.count)) if (e.entry_out.nodeid) this.countLookup(e.entry_out.nodeid);
        return r.bytes;
      }
      case FUSE_SETUPMAPPING: {
        if (this.setupErrno) return fail(FUSE_SETUPMAPPING, this.setupErrno);
        if (this.setupFailAfter !== undefined && this.setupFailAfter-- <= 0) return fail(FUSE_SETUPMAPPING, Errno.EIO);
        const { foffset, len, moffset, fh } = req.body;
        const a = 2 ** (this.alignment ?? 12);
        if (!this.window || !node.data || !this.openHandles.has(fh) || Number(foffset) % a || Number(moffset) % a
            || Number(moffset + len) > this.window.size) return fail(FUSE_SETUPMAPPING, Errno.EINVAL);
        const writable = (req.body.flags & FUSE_SETUPMAPPING_FLAG_WRITE) !== 0n;
        if (writable) {
          if (Number(len) > this.space) return fail(FUSE_SETUPMAPPING, Errno.ENOSPC);
          this.space -= Number(len);
        }
        // The node's bytes as they are at each access: WRITE and SETATTR replace them.
        this.window.map(Number(moffset), Number(len), {
          read: (pos, dst) => { dst.fill(0); dst.set(node.data!.subarray(pos, pos + dst.length)); },
          write: (pos, src) => {
            if (!writable) throw new Error('read mapping');
            if (pos + src.length > node.data!.length) throw new Error('window write past the end of the file');
            node.data!.set(src, pos);
          },
        }, Number(foffset), writable);
        return encodeReply(FUSE_SETUPMAPPING, u, null);
      }
      case FUSE_WRITE: {
        if (!this.openHandles.has(req.body.fh)) return fail(FUSE_WRITE, Errno.EBADF);
        const off = Number(req.body.offset);
        const src = req.body.data;
        this.resize(node, Math.max(node.data!.length, off + src.length));
        node.data!.set(src, off);
        return encodeReply(FUSE_WRITE, u, { size: src.length });
      }
      case FUSE_SETATTR:
        if (req.body.valid & FATTR_SIZE) this.resize(node, Number(req.body.size));
        return encodeReply(FUSE_SETATTR, u, { attr_valid: 0n, attr_valid_nsec: 0, attr: this.attr(node) });
      case FUSE_FSYNC: return encodeReply(FUSE_FSYNC, u, null);
      case FUSE_FLUSH: return encodeReply(FUSE_FLUSH, u, null);
      case FUSE_FALLOCATE: return encodeReply(FUSE_FALLOCATE, u, null); // a hole punched: nothing to model
      case FUSE_REMOVEMAPPING:
        for (const m of req.body.mappings) this.window!.unmap(Number(m.moffset), Number(m.len));
        return encodeReply(FUSE_REMOVEMAPPING, u, null);
      default:
        return fail(req.opcode, Errno.ENOSYS);
    }
  }
}

/** Lets deferred FORGETs (a macrotask) and their sends run. */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 5));
}
