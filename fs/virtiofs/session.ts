// One FUSE session over a device: unique ids, encode, send, decode, and the
// checks a reply must pass before anything in it is used. Errors reach the
// caller as ErrnoError: the server's errno as is, EIO for a reply that
// breaks the protocol (logged: that is a device bug, not a file error).
// Each request carries its caller's uid, gid and pid. A caller that gives
// up (its AbortSignal) gets EINTR at once and the server FUSE_INTERRUPT on
// hiprio; a reply that still comes is settled here: a lookup it counted is
// forgotten, a handle it opened released, as Linux does for interrupted
// LOOKUP and CREATE.

import { Errno, ErrnoError, errnoName } from '../../core/errno';
import type { Log } from '../../core/log';
import type { Cred } from '../../core/vfs';
import {
  AnyRequest, EntryOut, FUSE_BATCH_FORGET, FUSE_CREATE, FUSE_FORGET, FUSE_INTERRUPT, FUSE_LINK, FUSE_LOOKUP,
  FUSE_MKDIR, FUSE_MKNOD, FUSE_OPEN, FUSE_OPENDIR, FUSE_OUT_HEADER_SIZE, FUSE_READ, FUSE_RELEASE, FUSE_RELEASEDIR,
  FUSE_SYMLINK, ForgetOne, OpenOut, Opcode, ReplyBodies, RequestBodies, decodeReply, encodeRequest, opcodeName,
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

/** Linux steps uniques by 2: bit 0 marks an INTERRUPT's own unique. */
const UNIQUE_STEP = 2n;
/** FORGETs per BATCH_FORGET: what fits in one page with the headers. */
export const BATCH_FORGET_MAX = Math.floor((4096 - 40 - 8) / 16);

export class FuseSession {
  private unique = 0n;
  /** Replies rejected for breaking the protocol. */
  protocolErrors = 0;

  constructor(readonly device: FuseDevice, private readonly log: Log) {}

  /** Sends a request and resolves with its reply body; rejects with the
   *  server's errno, EIO, or EINTR when opts.signal aborts it.
   *  `replyCapacity` defaults to replyMaxSize. */
  async call<O extends Exclude<Opcode, typeof FUSE_FORGET | typeof FUSE_BATCH_FORGET>>(
    opcode: O, nodeid: bigint, body: RequestBodies[O], replyCapacity?: number, opts: RequestOptions = {},
  ): Promise<ReplyBodies[O]> {
    const signal = opts.signal;
    if (signal?.aborted) throw new ErrnoError(Errno.EINTR, `${opcodeName(opcode)}: aborted`);
    this.unique += UNIQUE_STEP;
    const unique = this.unique;
    const c = opts.cred;
    const req = { opcode, unique, nodeid, uid: c?.uid ?? 0, gid: c?.gid ?? 0, pid: c?.pid ?? 0, body } as AnyRequest;
    const bytes = encodeRequest(req);
    const cap = replyCapacity ?? replyMaxSize(req);
    const reply = this.device.request(bytes, cap).then((r) => this.decode(opcode, unique, nodeid, body, cap, r, opts));
    if (!signal) return reply;
    return new Promise<ReplyBodies[O]>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        reject(new ErrnoError(Errno.EINTR, `${opcodeName(opcode)}: interrupted`));
        void this.interrupt(unique).catch((e) => this.log(`virtiofs: INTERRUPT failed: ${String(e)}`));
        reply.then((late) => this.settleLate(opcode, nodeid, late), () => undefined);
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

  /** FUSE_INTERRUPT of `unique`, on hiprio; its own unique has bit 0 set (Linux). */
  private async interrupt(unique: bigint): Promise<void> {
    const bytes = encodeRequest({ opcode: FUSE_INTERRUPT, unique: unique | 1n, nodeid: 0n, uid: 0, gid: 0, pid: 0, body: { unique } });
    await this.device.send(bytes);
  }

  /** A reply that came after its caller gave up: what it made the server
   *  count or open is given back, since nobody will. */
  private settleLate(opcode: number, nodeid: bigint, body: unknown): void {
    const drop = (p: Promise<unknown>): void => { p.catch((e) => this.log(`virtiofs: cleanup after an interrupt: ${String(e)}`)); };
    const entry = (e: EntryOut): void => { if (e.nodeid !== 0n) drop(this.forget(e.nodeid, 1)); };
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
    this.unique += UNIQUE_STEP;
    const bytes = encodeRequest({ ...req, unique: this.unique, uid: 0, gid: 0, pid: 0 } as AnyRequest);
    await this.device.send(bytes);
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
