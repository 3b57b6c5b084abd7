// Per-session caps as a decorator over any FuseFilesystem, so one guest can
// exhaust only itself: open handles (file and directory fhs) and inodes
// held (nodeids with lookups). Counted from the replies that pass, so the
// filesystem below needs no change; each FuseServer (one per guest
// session) has its own.
//
// - An OPEN, OPENDIR or CREATE past maxHandles is EMFILE before the
//   filesystem sees it (a process's RLIMIT_NOFILE errno: the guest is the
//   process here).
// - A reply that would make the guest hold a new nodeid past maxInodes is
//   given back to the filesystem (FORGET 1, and RELEASE for CREATE's
//   handle) and answered ENFILE (the kernel's "file table overflow"); a
//   READDIRPLUS entry becomes nodeid 0, which the guest skips (Linux:
//   fuse_direntplus_link treats a zero nodeid as "no inode").

import { Errno, ErrnoError } from '../../../core';
import { FUSE_ROOT_ID, type EntryOut, type ForgetOne } from '../../../fs/fuse';
import type { FuseContext, FuseFilesystem } from './filesystem';

export interface SessionLimits {
  /** Open file and directory handles at once. */
  maxHandles: number;
  /** Nodeids the guest holds lookups on (the root not counted). */
  maxInodes: number;
}

/** Defaults: what a guest doing real work needs, a fraction of the vmm's fds. */
export const DEFAULT_LIMITS: SessionLimits = { maxHandles: 1024, maxInodes: 65536 };

type AnyOp = (...args: unknown[]) => unknown;

export class LimitedFilesystem {
  readonly fs: FuseFilesystem;
  /** Handles open now, by kind and fh. */
  readonly handles = new Set<string>();
  /** Lookups the guest holds, by nodeid. */
  readonly inodes = new Map<bigint, bigint>();
  /** Refusals so far, for logs and tests. */
  refusedHandles = 0;
  refusedInodes = 0;
  private opening = 0;

  constructor(private readonly inner: FuseFilesystem, readonly limits: SessionLimits) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(proto(inner)) as (keyof FuseFilesystem)[]) {
      const op = inner[key] as AnyOp | undefined;
      if (typeof op === 'function') out[key] = op.bind(inner);
    }
    const fs = out as FuseFilesystem;
    const { open, opendir, create, release, releasedir, forget, destroy, readdirplus } = inner;
    if (open) fs.open = (ctx, body) => this.opened('f', () => open.call(inner, ctx, body), (o) => o.fh);
    if (opendir) fs.opendir = (ctx, body) => this.opened('d', () => opendir.call(inner, ctx, body), (o) => o.fh);
    if (release) fs.release = async (ctx, body) => { const r = await release.call(inner, ctx, body); this.handles.delete(`f${body.fh}`); return r; };
    if (releasedir) fs.releasedir = async (ctx, body) => { const r = await releasedir.call(inner, ctx, body); this.handles.delete(`d${body.fh}`); return r; };
    for (const m of ['lookup', 'mknod', 'mkdir', 'symlink', 'link'] as const) {
      const op = inner[m] as ((ctx: FuseContext, body: unknown) => Promise<EntryOut> | EntryOut) | undefined;
      if (op) (fs as Record<string, unknown>)[m] = async (ctx: FuseContext, body: unknown) => this.entry(ctx, await op.call(inner, ctx, body));
    }
    if (create) {
      fs.create = (ctx, body) => this.opened('f', async () => {
        const out = await create.call(inner, ctx, body);
        if (!this.admit(out.entry_out.nodeid)) {
          this.giveBack(ctx, out.entry_out.nodeid);
          await release?.call(inner, ctx, { fh: out.open_out.fh, flags: 0, release_flags: 0, lock_owner: 0n });
          throw this.enfile();
        }
        return out;
      }, (o) => o.open_out.fh);
    }
    if (readdirplus) {
      fs.readdirplus = async (ctx, body) => {
        const out = await readdirplus.call(inner, ctx, body);
        for (const e of out.entries) {
          const id = e.entry_out.nodeid;
          if (id === 0n || this.admit(id)) continue;
          this.giveBack(ctx, id);
          this.refusedInodes++;
          e.entry_out = { ...e.entry_out, nodeid: 0n };
        }
        return out;
      };
    }
    fs.forget = (ctx, forgets) => {
      for (const f of forgets) this.subtract(f);
      forget?.call(inner, ctx, forgets);
    };
    fs.destroy = async (ctx) => {
      await destroy?.call(inner, ctx);
      this.handles.clear();
      this.inodes.clear();
    };
    this.fs = fs;
  }

  /** Run an op that opens a handle, refused with EMFILE at the cap. */
  private async opened<T>(kind: 'f' | 'd', run: () => T | Promise<T>, fhOf: (out: T) => bigint): Promise<T> {
    if (this.handles.size + this.opening >= this.limits.maxHandles) {
      this.refusedHandles++;
      throw new ErrnoError(Errno.EMFILE, `this guest holds ${this.handles.size} open handles, the session's cap`);
    }
    this.opening++;
    try {
      const out = await run();
      this.handles.add(`${kind}${fhOf(out)}`);
      return out;
    } finally {
      this.opening--;
    }
  }

  private entry(ctx: FuseContext, e: EntryOut): EntryOut {
    if (e.nodeid === 0n || this.admit(e.nodeid)) return e;
    this.giveBack(ctx, e.nodeid);
    throw this.enfile();
  }

  /** Count one lookup of `nodeid`; false (nothing counted) when it is new and the cap is reached. */
  private admit(nodeid: bigint): boolean {
    if (nodeid === FUSE_ROOT_ID) return true;
    const n = this.inodes.get(nodeid);
    if (n === undefined && this.inodes.size >= this.limits.maxInodes) return false;
    this.inodes.set(nodeid, (n ?? 0n) + 1n);
    return true;
  }

  private subtract(f: ForgetOne): void {
    const n = this.inodes.get(f.nodeid);
    if (n === undefined) return;
    if (n <= f.nlookup) this.inodes.delete(f.nodeid);
    else this.inodes.set(f.nodeid, n - f.nlookup);
  }

  /** The filesystem counted a lookup the guest will not get: take it back. */
  private giveBack(ctx: FuseContext, nodeid: bigint): void {
    this.inner.forget?.(ctx, [{ nodeid, nlookup: 1n }]);
  }

  private enfile(): ErrnoError {
    this.refusedInodes++;
    return new ErrnoError(Errno.ENFILE, `this guest holds ${this.inodes.size} inodes, the session's cap`);
  }
}

/** Own and inherited method names of a filesystem object (class instances keep them on prototypes). */
function proto(o: object): Record<string, true> {
  const names: Record<string, true> = {};
  for (let p: object | null = o; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) if (k !== 'constructor') names[k] = true;
  }
  return names;
}
