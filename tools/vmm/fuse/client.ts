// A minimal FUSE client for a FuseServer in the same process: it encodes
// requests with the codec and decodes the replies. The tests use it; so can
// a harness that wants a filesystem without a transport.

import * as K from '../../../fs/fuse';
import { AnyRequest, decodeReply, encodeRequest, Opcode, Reply, RequestBodies } from '../../../fs/fuse';
import type { HandleContext } from './server';

export interface ByteServer {
  handle(request: Uint8Array, ctx: HandleContext): Promise<Uint8Array | null>;
}

export class FuseClient<S extends ByteServer = ByteServer> {
  private unique = 1n;

  constructor(readonly server: S, public replyCapacity = 1 << 20) {}

  /** Sends one request; returns the decoded reply (throws on a malformed
   *  one, or on null for an opcode that has a reply). */
  async call<O extends Opcode>(opcode: O, nodeid: bigint, body: RequestBodies[O], replyCapacity = this.replyCapacity): Promise<Reply<O>> {
    const unique = this.unique++;
    const req = { opcode, unique, nodeid, uid: 0, gid: 0, pid: 1, body } as unknown as AnyRequest;
    const out = await this.server.handle(encodeRequest(req), { queue: 1, replyCapacity });
    if (out === null) throw new Error(`${K.opcodeName(opcode)}: no reply`);
    if (out.length > replyCapacity) throw new Error(`reply of ${out.length} bytes over capacity ${replyCapacity}`);
    const d = decodeReply(opcode, out);
    if (!d.ok) throw new Error(`${K.opcodeName(opcode)}: bad reply: ${d.reason}`);
    if (d.value.unique !== unique) throw new Error(`reply unique ${d.value.unique}, sent ${unique}`);
    return d.value;
  }

  /** FORGET, BATCH_FORGET, INTERRUPT: returns what the server returned. */
  async send<O extends Opcode>(opcode: O, nodeid: bigint, body: RequestBodies[O]): Promise<Uint8Array | null> {
    const req = { opcode, unique: this.unique++, nodeid, uid: 0, gid: 0, pid: 1, body } as unknown as AnyRequest;
    return this.server.handle(encodeRequest(req), { queue: 0, replyCapacity: this.replyCapacity });
  }

  async init(flags: bigint = K.FUSE_INIT_EXT | K.FUSE_MAP_ALIGNMENT | K.FUSE_HAS_INODE_DAX | K.FUSE_DO_READDIRPLUS
    | K.FUSE_MAX_PAGES | K.FUSE_ASYNC_READ, minor = K.FUSE_KERNEL_MINOR_VERSION): Promise<Reply<typeof K.FUSE_INIT>> {
    return this.call(K.FUSE_INIT, 0n, { major: 7, minor, max_readahead: 131072, flags });
  }
}
