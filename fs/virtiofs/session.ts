// One FUSE session over a device: unique ids, encode, send, decode, and the
// checks a reply must pass before anything in it is used. Errors reach the
// caller as ErrnoError: the server's errno as is, EIO for a reply that
// breaks the protocol (logged: that is a device bug, not a file error).
// Each request carries its caller's uid, gid and pid. A caller that gives
// up (its AbortSignal) gets EINTR at once and the server FUSE_INTERRUPT on
// hiprio; a reply that still comes is settled here: a handle it opened is
// released, and a lookup it counted goes to the connection's LookupBook,
// which gives it back (the book alone sends FORGET), as Linux does for
// interrupted LOOKUP and CREATE.
//
// No request waits forever (Linux's FUSE request timeout, "fuse: add
// kernel-enforced timeout option for requests", 2025): one unanswered for
// requestTimeoutMs gets FUSE_INTERRUPT; unanswered as long again, the
// connection is aborted as fuse_abort_conn() does: every call in flight
// and every later one fails at once with ECONNABORTED, and the device is
// told to stop (the driver resets it). FUSE_SETLKW is exempt: it waits for
// another lock holder by design, and is interrupted by its caller's signal.

import { Errno, ErrnoError, errnoName } from '../../core/errno';
import type { Log } from '../../core/log';
import type { Cred } from '../../core/vfs';
import {
  AnyRequest, EntryOut, FUSE_BATCH_FORGET, FUSE_CREATE, FUSE_FORGET, FUSE_INTERRUPT, FUSE_LINK, FUSE_LOOKUP,
  FUSE_MKDIR, FUSE_MKNOD, FUSE_OPEN, FUSE_OPENDIR, FUSE_OUT_HEADER_SIZE, FUSE_READ, FUSE_RELEASE, FUSE_RELEASEDIR,
  FUSE_SETLKW, FUSE_SYMLINK, ForgetOne, OpenOut, Opcode, ReplyBodies, RequestBodies, decodeReply, encodeRequest, opcodeName,
  replyMaxSize,
} from '../fuse';
import type { FuseDevice } from './device';

/** Who asks and how they give up; what the reply's decoder must know. */
export interface RequestOptions {
  /** uid, gid, pid for the header (default 0: the kernel's own requests). */
  readonly cred?: Pick<Cred, 'uid' | 'gid' | 'pid'>;
  readonly signal?: AbortSignal;
  /** GETXATTR/LISTXATTR of size 0: the reply is the size. */
  readonly sizeProbe?: boolean;
}

/** The timers a deadline uses (a test seam: a fake clock). */
export interface SessionTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SessionOptions {
  /** Milliseconds before FUSE_INTERRUPT, and as many again before the
   *  connection is aborted; 0: no deadline. Default DEFAULT_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  timers?: SessionTimers;
}

/** 30 s: longer than any request of a healthy device on a loaded 2-CPU
 *  machine, shorter than a test file's limit, so a hang shows as a failure. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

const realTimers: SessionTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Who takes back a lookup the server counted in a reply nobody waits for:
 *  the connection's LookupBook (inode-cache.ts), the one path to FORGET. */
export interface UnclaimedLookups {
  giveBack(nodeid: bigint): Promise<void>;
}

/** Linux steps uniques by 2: bit 0 marks an INTERRUPT's own unique. */
const UNIQUE_STEP = 2n;
/** FORGETs per BATCH_FORGET: what fits in one page with the headers. */
export const BATCH_FORGET_MAX = Math.floor((4096 - 40 - 8) / 16);

export class FuseSession {
  private unique = 0n;
  /** Replies rejected for breaking the protocol. */
  protocolErrors = 0;
  readonly requestTimeoutMs: number;
  private readonly timers: SessionTimers;
  /** Set once the connection is aborted: every call fails with it. */
  private abortedWith: ErrnoError | undefined;
  /** How to fail each request still waiting, for an abort. */
  private readonly waiting = new Set<(e: Error) => void>();
  /** Set by the LookupBook over this session (its constructor). */
  unclaimedLookups: UnclaimedLookups | undefined;

  constructor(readonly device: FuseDevice, private readonly log: Log, opts: SessionOptions = {}) {
    const ms = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`request timeout ${ms}`);
    this.requestTimeoutMs = ms;
    this.timers = opts.timers ?? realTimers;
  }

  /** Why the connection was aborted, or undefined while it lives. */
  get aborted(): ErrnoError | undefined { return this.abortedWith; }

  /** Abort the connection (fuse_abort_conn): everything waiting, and every
   *  later call, fails with ECONNABORTED at once; the device is told. */
  abort(reason: string): void {
    if (this.abortedWith) return;
    this.abortedWith = new ErrnoError(Errno.ECONNABORTED, `virtiofs: connection aborted: ${reason}`);
    this.log(this.abortedWith.message);
    for (const f of [...this.waiting]) f(this.abortedWith); // each leaves the set
    try { this.device.abort?.(reason); } catch (e) { this.log(`virtiofs: device abort: ${String(e)}`); }
  }

  /** Sends a request and resolves with its reply body; rejects with the
   *  server's errno, EIO, or EINTR when opts.signal aborts it.
   *  `replyCapacity` defaults to replyMaxSize. */
  async call<O extends Exclude<Opcode, typeof FUSE_FORGET | typeof FUSE_BATCH_FORGET>>(
    opcode: O, nodeid: bigint, body: RequestBodies[O], replyCapacity?: number, opts: RequestOptions = {},
  ): Promise<ReplyBodies[O]> {
    const signal = opts.signal;
    if (this.abortedWith) throw this.abortedWith;
    if (signal?.aborted) throw new ErrnoError(Errno.EINTR, `${opcodeName(opcode)}: aborted`);
    this.unique += UNIQUE_STEP;
    const unique = this.unique;
    const c = opts.cred;
    const req = { opcode, unique, nodeid, uid: c?.uid ?? 0, gid: c?.gid ?? 0, pid: c?.pid ?? 0, body } as AnyRequest;
    const bytes = encodeRequest(req);
    const cap = replyCapacity ?? replyMaxSize(req);
    const reply = this.deadline(this.device.request(bytes, cap), opcode, unique, true)
      .then((r) => this.decode(opcode, unique, nodeid, body, cap, r, opts));
    if (!signal) return reply;
    return new Promise<ReplyBodies[O]>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        reject(new ErrnoError(Errno.EINTR, `${opcodeName(opcode)}: interrupted`));
        void this.interrupt(unique).catch((e) => this.log(`virtiofs: INTERRUPT failed: ${String(e)}`));
        // A reply that still comes is settled once, below.
      };
      signal.addEventListener('abort', onAbort, { once: true });
      reply.then((v) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) { this.settleLate(opcode, nodeid, v); return; }
        settled = true;
        resolve(v);
      }, (e) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        reject(e);
      });
    });
  }

  private decode<O extends Opcode>(opcode: O, unique: bigint, nodeid: bigint, body: RequestBodies[O], cap: number,
    reply: Uint8Array, opts: RequestOptions): ReplyBodies[O] {
    if (!(reply instanceof Uint8Array)) throw this.bad(opcode, unique, 'reply is not bytes');
    if (reply.length > cap) throw this.bad(opcode, unique, `reply of ${reply.length} bytes exceeds its ${cap}-byte buffer`);
    const d = decodeReply(opcode, reply, { sizeProbe: opts.sizeProbe });
    if (!d.ok) throw this.bad(opcode, unique, d.reason);
    const r = d.value;
    if (r.unique !== unique) throw this.bad(opcode, unique, `reply carries unique ${r.unique}`);
    if (r.body === undefined) throw new ErrnoError(r.errno, `${opcodeName(opcode)} nodeid ${nodeid}: server says ${errnoName(r.errno)}`);
    if (opcode === FUSE_READ) {
      const asked = (body as RequestBodies[typeof FUSE_READ]).size;
      const got = (r.body as ReplyBodies[typeof FUSE_READ]).data.length;
      if (got > asked) throw this.bad(opcode, unique, `READ reply of ${got} bytes for ${asked} asked`);
    }
    return r.body;
  }

  /**
   * `p`, failed with ECONNABORTED if the connection is aborted first. With
   * a timeout: a request (`reply`) unanswered after it gets FUSE_INTERRUPT
   * and the connection is aborted after as long again; a no-reply send
   * (FORGET, INTERRUPT) not taken by the device is aborted after one.
   */
  private deadline<T>(p: Promise<T>, opcode: number, unique: bigint, reply: boolean): Promise<T> {
    if (this.abortedWith) { p.catch(() => undefined); return Promise.reject(this.abortedWith); }
    return new Promise<T>((resolve, reject) => {
      let timer: unknown;
      const ms = opcode === FUSE_SETLKW ? 0 : this.requestTimeoutMs;
      const what = `${opcodeName(opcode)} unique ${unique}`;
      const stop = (): boolean => {
        if (!this.waiting.delete(fail)) return false;
        if (timer !== undefined) this.timers.clearTimeout(timer);
        return true;
      };
      const fail = (e: Error): void => { if (stop()) reject(e); };
      this.waiting.add(fail);
      if (ms > 0) {
        timer = this.timers.setTimeout(() => {
          if (!reply) { this.abort(`${what}: not taken by the device within ${ms} ms`); return; }
          this.log(`virtiofs: ${what}: no reply within ${ms} ms; FUSE_INTERRUPT sent`);
          void this.interrupt(unique).catch(() => undefined);
          timer = this.timers.setTimeout(() => this.abort(`${what}: no reply within ${ms} ms of its FUSE_INTERRUPT`), ms);
        }, ms);
      }
      p.then((v) => { if (stop()) resolve(v); }, (e) => { if (stop()) reject(e); });
    });
  }

  /** FUSE_INTERRUPT of `unique`, on hiprio; its own unique has bit 0 set (Linux). */
  private async interrupt(unique: bigint): Promise<void> {
    const bytes = encodeRequest({ opcode: FUSE_INTERRUPT, unique: unique | 1n, nodeid: 0n, uid: 0, gid: 0, pid: 0, body: { unique } });
    await this.deadline(Promise.resolve(this.device.send(bytes)), FUSE_INTERRUPT, unique | 1n, false);
  }

  /** A reply that came after its caller gave up: what it made the server
   *  count or open is given back, since nobody will. */
  private settleLate(opcode: number, nodeid: bigint, body: unknown): void {
    const drop = (p: Promise<unknown>): void => { p.catch((e) => this.log(`virtiofs: cleanup after an interrupt: ${String(e)}`)); };
    const entry = (e: EntryOut): void => {
      if (e.nodeid === 0n) return;
      if (this.unclaimedLookups) drop(this.unclaimedLookups.giveBack(e.nodeid));
      else this.log(`virtiofs: a late lookup of nodeid ${e.nodeid} not given back: no lookup book`);
    };
    const close = (fh: bigint, node: bigint, dir: boolean): void => {
      drop(this.call(dir ? FUSE_RELEASEDIR : FUSE_RELEASE, node, { fh, flags: 0, release_flags: 0, lock_owner: 0n }));
    };
    switch (opcode) {
      case FUSE_LOOKUP: case FUSE_MKNOD: case FUSE_MKDIR: case FUSE_SYMLINK: case FUSE_LINK:
        entry(body as EntryOut);
        break;
      case FUSE_CREATE: {
        const b = body as ReplyBodies[typeof FUSE_CREATE];
        close(b.open_out.fh, b.entry_out.nodeid, false);
        entry(b.entry_out);
        break;
      }
      case FUSE_OPEN: close((body as OpenOut).fh, nodeid, false); break;
      case FUSE_OPENDIR: close((body as OpenOut).fh, nodeid, true); break;
      default: break;
    }
  }

  /** FUSE_FORGET on the hiprio queue (no reply). */
  async forget(nodeid: bigint, nlookup: number): Promise<void> {
    if (nlookup <= 0) return;
    await this.post({ opcode: FUSE_FORGET, nodeid, body: { nlookup: BigInt(nlookup) } });
  }

  /** Many forgets: FORGET for one, BATCH_FORGET for more, in page-sized batches. */
  async forgetMany(list: readonly ForgetOne[]): Promise<void> {
    if (list.length === 1) return this.forget(list[0]!.nodeid, Number(list[0]!.nlookup));
    for (let i = 0; i < list.length; i += BATCH_FORGET_MAX) {
      await this.post({ opcode: FUSE_BATCH_FORGET, nodeid: 0n, body: { forgets: list.slice(i, i + BATCH_FORGET_MAX) } });
    }
  }

  private async post(req: Pick<AnyRequest, 'opcode' | 'nodeid' | 'body'>): Promise<void> {
    if (this.abortedWith) throw this.abortedWith;
    this.unique += UNIQUE_STEP;
    const bytes = encodeRequest({ ...req, unique: this.unique, uid: 0, gid: 0, pid: 0 } as AnyRequest);
    await this.deadline(Promise.resolve(this.device.send(bytes)), req.opcode, this.unique, false);
  }

  private bad(opcode: number, unique: bigint, reason: string): ErrnoError {
    this.protocolErrors++;
    const msg = `virtiofs: ${opcodeName(opcode)} unique ${unique}: bad reply: ${reason}`;
    this.log(msg);
    return new ErrnoError(Errno.EIO, msg);
  }
}

/** Out header plus `n` bytes of data: the writable part a READ of n needs. */
export function readReplyCapacity(n: number): number {
  return FUSE_OUT_HEADER_SIZE + n;
}
