// The FuseServer: fuse-backend-rs's `Server<F: FileSystem>`. It decodes a
// request from its source, answers nothing to FORGET, BATCH_FORGET and
// INTERRUPT, refuses everything before INIT (EIO, as libfuse), negotiates
// INIT, calls the filesystem's op with the typed body, and encodes the
// typed result into the reply target. It is the only place an errno
// becomes a reply, and the only one that writes reply bytes; a reply never
// exceeds the buffer (READ, READDIR and READDIRPLUS are clamped to it; any
// other reply that would not fit becomes ERANGE, or nothing below 16 bytes).

import { Errno, ErrnoError, consoleLog } from '../../../core';
import * as K from '../../../fs/fuse';
import {
  AnyRequest, ForgetOne, InitIn, InitOut, Opcode, ReadIn, ReplyBodies, Request, RequestBodies,
  encodeOutHeader, encodeReaddirReply, encodeReply,
} from '../../../fs/fuse';
import { BufferReply, BufferRequest, ReplyTarget, RequestSource } from './chain';
import { decodeSource } from './decode';
import { errnoOf } from './errno';
import type { Awaitable, FuseContext, FuseFilesystem, WriteSource } from './filesystem';
import { DEFAULT_MAX_PAGES, initVersionServed, negotiateInit } from './init';
import { LimitedFilesystem, type SessionLimits } from './limits';
import { BouncePool } from './bounce-pool';
import { ReplySink } from './sink';

const HDR = K.FUSE_OUT_HEADER_SIZE;

/** One line per event worth an operator's attention. */
export interface FuseLogger {
  warn(msg: string): void;
  debug?(msg: string): void;
}

export interface FuseServerOptions {
  logger?: FuseLogger;
  /** max_pages offered with FUSE_MAX_PAGES. */
  maxPages?: number;
  /** Per-session caps on open handles and inodes held (limits.ts); none when absent. */
  limits?: SessionLimits;
}

/** How a byte request came (the in-process client's, tests'). */
export interface HandleContext {
  /** The virtqueue the request came on (0: hiprio). */
  queue: number;
  /** Bytes of the request's device-writable part. */
  replyCapacity: number;
}

/** The opcodes the server answers itself or whose op has a signature of
 *  its own; every other opcode the codec carries goes through PLAIN. */
type Special = typeof K.FUSE_INIT | typeof K.FUSE_DESTROY | typeof K.FUSE_FORGET | typeof K.FUSE_BATCH_FORGET
  | typeof K.FUSE_INTERRUPT | typeof K.FUSE_READ | typeof K.FUSE_WRITE | typeof K.FUSE_READDIR | typeof K.FUSE_READDIRPLUS;
type PlainOpcode = Exclude<Opcode, Special>;
type PlainOp<O extends Opcode> = (ctx: FuseContext, body: RequestBodies[O]) => Awaitable<ReplyBodies[O]>;
/** The filesystem methods whose signature is opcode O's request body to its reply body. */
type MethodOf<O extends Opcode> = {
  [M in keyof FuseFilesystem]-?: NonNullable<FuseFilesystem[M]> extends PlainOp<O> ? M : never
}[keyof FuseFilesystem];

/** The dispatch table, typed by the codec's request and reply body maps: a
 *  method with the wrong body or reply type, or a codec opcode left out,
 *  does not compile. */
const PLAIN: { [O in PlainOpcode]: MethodOf<O> } = {
  [K.FUSE_LOOKUP]: 'lookup',
  [K.FUSE_GETATTR]: 'getattr',
  [K.FUSE_SETATTR]: 'setattr',
  [K.FUSE_READLINK]: 'readlink',
  [K.FUSE_SYMLINK]: 'symlink',
  [K.FUSE_MKNOD]: 'mknod',
  [K.FUSE_MKDIR]: 'mkdir',
  [K.FUSE_UNLINK]: 'unlink',
  [K.FUSE_RMDIR]: 'rmdir',
  [K.FUSE_RENAME]: 'rename',
  [K.FUSE_RENAME2]: 'rename2',
  [K.FUSE_LINK]: 'link',
  [K.FUSE_OPEN]: 'open',
  [K.FUSE_STATFS]: 'statfs',
  [K.FUSE_RELEASE]: 'release',
  [K.FUSE_FSYNC]: 'fsync',
  [K.FUSE_FLUSH]: 'flush',
  [K.FUSE_OPENDIR]: 'opendir',
  [K.FUSE_RELEASEDIR]: 'releasedir',
  [K.FUSE_CREATE]: 'create',
  [K.FUSE_LSEEK]: 'lseek',
  [K.FUSE_FALLOCATE]: 'fallocate',
  [K.FUSE_SYNCFS]: 'syncfs',
  [K.FUSE_SETUPMAPPING]: 'setupmapping',
  [K.FUSE_REMOVEMAPPING]: 'removemapping',
  [K.FUSE_SETXATTR]: 'setxattr',
  [K.FUSE_GETXATTR]: 'getxattr',
  [K.FUSE_LISTXATTR]: 'listxattr',
  [K.FUSE_REMOVEXATTR]: 'removexattr',
  [K.FUSE_FSYNCDIR]: 'fsyncdir',
  [K.FUSE_GETLK]: 'getlk',
  [K.FUSE_SETLK]: 'setlk',
  [K.FUSE_SETLKW]: 'setlkw',
  [K.FUSE_ACCESS]: 'access',
  [K.FUSE_COPY_FILE_RANGE]: 'copyFileRange',
};

function hasNoReply(opcode: number): boolean {
  return opcode === K.FUSE_FORGET || opcode === K.FUSE_BATCH_FORGET || opcode === K.FUSE_INTERRUPT;
}

function errorBytes(unique: bigint, errno: number): Uint8Array {
  return encodeOutHeader({ len: HDR, error: -errno, unique });
}

function notImplemented(opcode: number): never {
  throw new ErrnoError(Errno.ENOSYS, `${K.opcodeName(opcode)} is not implemented`);
}

/** fuse_read_in.size as much as a reply buffer of `capacity` bytes holds. */
function clampSize(size: number, capacity: number): number {
  return Math.max(0, Math.min(size, capacity - HDR));
}

export class FuseServer {
  private initialized = false;
  protected readonly log: FuseLogger;
  private readonly maxPages: number;
  /** READ replies that cannot be filled in place reuse these. */
  private readonly bounces = new BouncePool();
  /** The filesystem served: the given one, behind the caps when there are any. */
  readonly fs: FuseFilesystem;
  /** The caps' counters (undefined without limits). */
  readonly limited: LimitedFilesystem | undefined;

  constructor(fs: FuseFilesystem, opts: FuseServerOptions = {}) {
    this.limited = opts.limits ? new LimitedFilesystem(fs, opts.limits) : undefined;
    this.fs = this.limited?.fs ?? fs;
    this.log = opts.logger ?? { warn: (m) => consoleLog(`fuse: ${m}`) };
    this.maxPages = Math.min(Math.max(1, opts.maxPages ?? DEFAULT_MAX_PAGES), 0xffff);
  }

  /** One whole request in an array, its whole reply out (null: no reply).
   *  Never throws. */
  async handle(request: Uint8Array, ctx: HandleContext): Promise<Uint8Array | null> {
    const reply = new BufferReply(Math.max(0, ctx.replyCapacity));
    const n = await this.serve(new BufferRequest(request), reply, ctx.queue);
    return n === null ? null : reply.take(n);
  }

  /** One request from its source, its reply into its target. Resolves with
   *  the reply's length (used.len), or null for no reply. Never throws. */
  async serve(src: RequestSource, reply: ReplyTarget, queue: number): Promise<number | null> {
    let unique: bigint | undefined;
    try {
      const d = decodeSource(src);
      if (!d.ok) {
        if (d.unique === undefined || hasNoReply(d.opcode ?? -1)) {
          this.log.warn(`dropped an undecodable request: ${d.reason}`);
          return null;
        }
        this.log.debug?.(`${K.opcodeName(d.opcode ?? -1)} refused: ${d.reason}`);
        return this.send(reply, d.unique, errorBytes(d.unique, d.errno));
      }
      const { req, data } = d.value;
      unique = req.unique;
      const ctx: FuseContext = {
        unique: req.unique, nodeid: req.nodeid, uid: req.uid, gid: req.gid, pid: req.pid,
        queue, replyCapacity: reply.capacity,
      };
      if (hasNoReply(req.opcode)) {
        this.noReply(req, ctx);
        return null;
      }
      if (!this.initialized && req.opcode !== K.FUSE_INIT) return this.send(reply, req.unique, errorBytes(req.unique, Errno.EIO));
      try {
        return await this.dispatch(req, ctx, reply, data);
      } catch (e) {
        const errno = errnoOf(e);
        if (errno === Errno.EIO) this.log.warn(`${K.opcodeName(req.opcode)}: ${String(e)}`);
        return this.send(reply, req.unique, errorBytes(req.unique, errno));
      }
    } catch (e) {
      this.log.warn(`internal error: ${String(e)}`);
      if (unique === undefined || reply.capacity < HDR) return null;
      reply.write(0, errorBytes(unique, Errno.EIO));
      return HDR;
    }
  }

  /** The filesystem gives everything back; the server is unusable after. */
  async close(): Promise<void> {
    await this.fs.close?.();
  }

  private send(reply: ReplyTarget, unique: bigint, bytes: Uint8Array): number | null {
    if (bytes.length <= reply.capacity) {
      // Freshly encoded and never touched again: the target may keep it.
      if (reply.give !== undefined) reply.give(bytes);
      else reply.write(0, bytes);
      return bytes.length;
    }
    this.log.warn(`reply of ${bytes.length} bytes exceeds the ${reply.capacity}-byte buffer`);
    if (reply.capacity < HDR) return null;
    reply.write(0, errorBytes(unique, Errno.ERANGE));
    return HDR;
  }

  private noReply(req: AnyRequest, ctx: FuseContext): void {
    let forgets: readonly ForgetOne[];
    switch (req.opcode) {
      case K.FUSE_FORGET: forgets = [{ nodeid: req.nodeid, nlookup: req.body.nlookup }]; break;
      case K.FUSE_BATCH_FORGET: forgets = req.body.forgets; break;
      default: return; // INTERRUPT: ops here are short; nothing to cancel.
    }
    this.forget(ctx, forgets);
  }

  private forget(ctx: FuseContext, forgets: readonly ForgetOne[]): void {
    try {
      this.fs.forget?.(ctx, forgets);
    } catch (e) {
      this.log.warn(`FORGET: ${String(e)}`);
    }
  }

  private async dispatch(req: AnyRequest, ctx: FuseContext, reply: ReplyTarget, data: WriteSource | undefined): Promise<number | null> {
    switch (req.opcode) {
      case K.FUSE_INIT:
        return this.send(reply, req.unique, encodeReply(K.FUSE_INIT, req.unique, await this.init(ctx, req.body)));
      case K.FUSE_DESTROY:
        await this.fs.destroy?.(ctx);
        this.initialized = false;
        return this.send(reply, req.unique, encodeReply(K.FUSE_DESTROY, req.unique, null));
      case K.FUSE_READ:
        return this.read(ctx, req.body, reply);
      case K.FUSE_WRITE: {
        const op = this.fs.write ?? notImplemented(req.opcode);
        const { data: _inline, ...args } = req.body;
        const out = await op.call(this.fs, ctx, args, data!);
        return this.send(reply, req.unique, encodeReply(K.FUSE_WRITE, req.unique, out));
      }
      case K.FUSE_READDIR:
      case K.FUSE_READDIRPLUS:
        return this.readdir(req, ctx, reply);
      default:
        return this.plain(req, ctx, reply);
    }
  }

  private async plain(req: AnyRequest, ctx: FuseContext, reply: ReplyTarget): Promise<number | null> {
    const method = PLAIN[req.opcode as PlainOpcode] as keyof FuseFilesystem | undefined;
    const op = (method === undefined ? undefined : this.fs[method]) as PlainOp<Opcode> | undefined;
    if (op === undefined) notImplemented(req.opcode);
    const out = await op.call(this.fs, ctx, req.body as never);
    return this.send(reply, req.unique, encodeReply(req.opcode, req.unique, out as never));
  }

  private async init(ctx: FuseContext, body: InitIn): Promise<InitOut> {
    const wants = initVersionServed(body) ? await this.fs.init?.(ctx, body) : undefined;
    const r = negotiateInit(body, {
      inodeDax: wants?.inodeDax === true, readdirplus: wants?.readdirplus !== false, maxPages: this.maxPages,
    });
    if (typeof r.out === 'number') throw new ErrnoError(r.out, `FUSE_INIT ${body.major}.${body.minor} refused`);
    this.initialized = r.initialized;
    return r.out;
  }

  private async read(ctx: FuseContext, body: ReadIn, reply: ReplyTarget): Promise<number | null> {
    const op = this.fs.read ?? notImplemented(K.FUSE_READ);
    const size = clampSize(body.size, reply.capacity);
    const sink = new ReplySink(reply, size, this.bounces);
    try {
      await op.call(this.fs, ctx, { ...body, size }, sink);
      const n = sink.finish(ctx.unique);
      if (n === null) this.log.warn(`reply of ${HDR} bytes exceeds the ${reply.capacity}-byte buffer`);
      return n;
    } finally {
      sink.dispose();
    }
  }

  private async readdir(req: Request<typeof K.FUSE_READDIR> | Request<typeof K.FUSE_READDIRPLUS>,
    ctx: FuseContext, reply: ReplyTarget): Promise<number | null> {
    const plus = req.opcode === K.FUSE_READDIRPLUS;
    const size = clampSize(req.body.size, reply.capacity);
    const body = { ...req.body, size };
    let entries: K.ReaddirOut['entries'] | K.ReaddirplusOut['entries'];
    if (plus) entries = (await (this.fs.readdirplus ?? notImplemented(req.opcode)).call(this.fs, ctx, body)).entries;
    else entries = (await (this.fs.readdir ?? notImplemented(req.opcode)).call(this.fs, ctx, body)).entries;
    const r = encodeReaddirReply(req.opcode, req.unique, entries, size);
    if (r.count !== entries.length) {
      // The kernel never sees these entries: their lookups are given back.
      if (plus) {
        const counted = (entries as K.ReaddirplusOut['entries']).filter((e) => e.entry_out.nodeid !== 0n);
        this.forget(ctx, counted.map((e) => ({ nodeid: e.entry_out.nodeid, nlookup: 1n })));
      }
      throw new ErrnoError(Errno.EIO, `${entries.length} entries returned, ${r.count} fit in ${size} bytes`);
    }
    return this.send(reply, req.unique, r.bytes);
  }
}
