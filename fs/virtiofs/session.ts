// One FUSE session over a device: unique ids, encode, send, decode, and the
// checks a reply must pass before anything in it is used. Errors reach the
// caller as ErrnoError: the server's errno as is, EIO for a reply that
// breaks the protocol (logged: that is a device bug, not a file error).

import { Errno, ErrnoError, errnoName } from '../../core/errno';
import type { Log } from '../../core/log';
import {
  AnyRequest, FUSE_BATCH_FORGET, FUSE_FORGET, FUSE_OUT_HEADER_SIZE, FUSE_READ, ForgetOne, Opcode,
  ReplyBodies, RequestBodies, decodeReply, encodeRequest, opcodeName, replyMaxSize,
} from '../fuse';
import type { FuseDevice } from './device';


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
   *  server's errno or EIO. `replyCapacity` defaults to replyMaxSize. */
  async call<O extends Exclude<Opcode, typeof FUSE_FORGET | typeof FUSE_BATCH_FORGET>>(
    opcode: O, nodeid: bigint, body: RequestBodies[O], replyCapacity?: number,
  ): Promise<ReplyBodies[O]> {
    this.unique += UNIQUE_STEP;
    const unique = this.unique;
    const req = { opcode, unique, nodeid, uid: 0, gid: 0, pid: 0, body } as AnyRequest;
    const bytes = encodeRequest(req);
    const cap = replyCapacity ?? replyMaxSize(req);
    const reply = await this.device.request(bytes, cap);
    if (!(reply instanceof Uint8Array)) throw this.bad(opcode, unique, 'reply is not bytes');
    if (reply.length > cap) throw this.bad(opcode, unique, `reply of ${reply.length} bytes exceeds its ${cap}-byte buffer`);
    const d = decodeReply(opcode, reply);
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
