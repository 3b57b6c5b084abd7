// The front-end end of one vhost-user socket: requests go out one at a time
// (the protocol has no tags; a reply answers the oldest request), each
// waited for with a bound. The socket, which passes file descriptors as
// SCM_RIGHTS, is socket.ts.

import {
  VhostUserError, VhostUserRequest as R, VHOST_USER_HDR_SIZE, VHOST_USER_NEED_REPLY_MASK,
  MemoryRegionDesc, VringAddr, VringState, checkReply, decodeReplyHeader, decodeU64Reply,
  decodeVringStateReply, encodeMemTable, encodeMessage, encodeU64, encodeVringAddr, encodeVringFile,
  encodeVringState, requestName,
} from './protocol';
import { VhostUserSocket } from './socket';

export const DEFAULT_REPLY_TIMEOUT_MS = 5000;

interface Pending {
  request: number;
  resolve(msg: Uint8Array): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class VhostUserConnection {
  /** Set once REPLY_ACK is negotiated: every SET_* then asks for an ack. */
  replyAck = false;
  private buf: Uint8Array = new Uint8Array(0);
  private pending: Pending | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private dead: VhostUserError | undefined;
  private closeListeners: ((e: VhostUserError) => void)[] = [];

  private constructor(private readonly sock: VhostUserSocket, readonly path: string,
                      private readonly timeoutMs: number) {
    sock.onData((b) => this.received(b));
    sock.onEnd((why) => this.fail(new VhostUserError('closed', why)));
  }

  /** Connect to a back-end's socket: refused or missing rejects at once, a
   *  full backlog is retried until `timeoutMs`. */
  static async connect(path: string, timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<VhostUserConnection> {
    return new VhostUserConnection(await VhostUserSocket.connect(path, timeoutMs), path, timeoutMs);
  }

  /**
   * Connect, retrying while the socket refuses: virtiofsd creates its
   * socket file at bind(), before listen(), so a connect as soon as the file
   * exists can be refused. It serves one session, so no probe connection
   * may precede this one. Gives up at `deadlineMs` (or when `stop()` says
   * why, e.g. the daemon exited) with the last error.
   */
  static async connectRetrying(path: string, deadlineMs: number, stop: () => string | undefined = () => undefined,
    timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<VhostUserConnection> {
    const until = Date.now() + deadlineMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await VhostUserConnection.connect(path, Math.max(1, Math.min(timeoutMs, until - Date.now())));
      } catch (e) {
        const refused = e instanceof VhostUserError && /ECONNREFUSED|ENOENT/.test(e.message);
        const why = stop();
        if (why) throw new VhostUserError('closed', `connect to ${path}: ${why}`);
        if (!refused || Date.now() >= until) {
          throw new VhostUserError(e instanceof VhostUserError ? e.kind : 'closed',
            `${(e as Error).message.replace(/^vhost-user: /, '')} (after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${deadlineMs} ms)`);
        }
        await new Promise((r) => setTimeout(r, Math.min(50, 5 * attempt)));
      }
    }
  }

  get isClosed(): boolean { return this.dead !== undefined; }

  /** Called once, when the connection ends for any reason other than close(). */
  onClose(f: (e: VhostUserError) => void): void {
    if (this.dead) f(this.dead);
    else this.closeListeners.push(f);
  }

  /** End the connection: the back-end sees EOF (virtiofsd then exits). */
  close(): void {
    if (this.dead) return;
    this.dead = new VhostUserError('closed', `connection to ${this.path} closed`);
    this.closeListeners = [];
    this.sock.close();
    this.failPending(this.dead);
  }

  // --- requests, in QEMU's names ----------------------------------------------

  getFeatures(): Promise<bigint> { return this.getU64(R.GET_FEATURES); }
  getProtocolFeatures(): Promise<bigint> { return this.getU64(R.GET_PROTOCOL_FEATURES); }
  async getQueueNum(): Promise<number> {
    const n = await this.getU64(R.GET_QUEUE_NUM);
    if (n < 1n || n > 0xffffn) throw new VhostUserError('payload', `GET_QUEUE_NUM answered ${n}`);
    return Number(n);
  }
  setFeatures(f: bigint): Promise<void> { return this.set(R.SET_FEATURES, encodeU64(f)); }
  /** As QEMU: never with need_reply (REPLY_ACK is what this message negotiates). */
  setProtocolFeatures(f: bigint): Promise<void> { return this.set(R.SET_PROTOCOL_FEATURES, encodeU64(f), [], false); }
  setOwner(): Promise<void> { return this.set(R.SET_OWNER); }
  setMemTable(regions: readonly MemoryRegionDesc[], fds: readonly number[]): Promise<void> {
    if (fds.length !== regions.length) throw new RangeError('vhost-user: one fd per memory region');
    return this.set(R.SET_MEM_TABLE, encodeMemTable(regions), fds);
  }
  setVringNum(s: VringState): Promise<void> { return this.set(R.SET_VRING_NUM, encodeVringState(s)); }
  setVringAddr(a: VringAddr): Promise<void> { return this.set(R.SET_VRING_ADDR, encodeVringAddr(a)); }
  setVringBase(s: VringState): Promise<void> { return this.set(R.SET_VRING_BASE, encodeVringState(s)); }
  setVringEnable(s: VringState): Promise<void> { return this.set(R.SET_VRING_ENABLE, encodeVringState(s)); }
  setVringKick(index: number, fd: number): Promise<void> { return this.set(R.SET_VRING_KICK, encodeVringFile(index, true), [fd]); }
  setVringCall(index: number, fd: number): Promise<void> { return this.set(R.SET_VRING_CALL, encodeVringFile(index, true), [fd]); }
  /** Stops the ring; answers the next avail index the back-end would have read. */
  async getVringBase(index: number): Promise<VringState> {
    const msg = await this.transact(R.GET_VRING_BASE, encodeVringState({ index, num: 0 }), [], true);
    const s = decodeVringStateReply(R.GET_VRING_BASE, msg);
    if (s.index !== index) throw new VhostUserError('mismatch', `GET_VRING_BASE for ring ${index} answered for ring ${s.index}`);
    return s;
  }

  // --- internals -----------------------------------------------------------

  private getU64(request: number): Promise<bigint> {
    return this.transact(request, undefined, [], true).then((msg) => decodeU64Reply(request, msg));
  }

  private async set(request: number, payload?: Uint8Array, fds: readonly number[] = [], ack = this.replyAck): Promise<void> {
    const msg = await this.transact(request, payload, fds, ack, ack ? VHOST_USER_NEED_REPLY_MASK : 0);
    if (!ack) return;
    const status = decodeU64Reply(request, msg);
    if (status !== 0n) throw new VhostUserError('nack', `${requestName(request)} refused by the back-end (status ${status})`);
  }

  /** Serialized: the next request goes out only once this one is answered. */
  private transact(request: number, payload: Uint8Array | undefined, fds: readonly number[],
                   wantReply: boolean, flags = 0): Promise<Uint8Array> {
    const run = async (): Promise<Uint8Array> => {
      if (this.dead) throw this.dead;
      const msg = encodeMessage(request, flags, payload);
      const reply = wantReply ? this.expect(request) : undefined;
      try {
        await this.sock.send(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength), fds, this.timeoutMs);
      } catch (e) {
        // A message not sent whole leaves the stream out of step: nothing later can be trusted.
        this.fail(e instanceof VhostUserError ? e : new VhostUserError('closed', String(e)));
        if (!reply) throw this.dead;
      }
      // The socket keeps order: a message without reply is done once sent.
      return reply ?? new Uint8Array(0);
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** The reply to `request`, bounded by the timeout; fail() rejects it. */
  private expect(request: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        const e = new VhostUserError('timeout', `no reply to ${requestName(request)} in ${this.timeoutMs} ms`);
        reject(e);
        // The stream is out of step now: nothing later can be trusted.
        this.fail(e);
      }, this.timeoutMs);
      this.pending = { request, resolve, reject, timer };
    });
  }

  private received(b: Buffer): void {
    if (this.dead) return;
    this.buf = this.buf.length ? concat(this.buf, b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    try {
      for (;;) {
        const h = decodeReplyHeader(this.buf);
        if (!h || this.buf.length < VHOST_USER_HDR_SIZE + h.size) return;
        const msg = this.buf.subarray(0, VHOST_USER_HDR_SIZE + h.size);
        this.buf = this.buf.subarray(VHOST_USER_HDR_SIZE + h.size);
        const p = this.pending;
        if (!p) throw new VhostUserError('mismatch', `unexpected ${requestName(h.request)} reply`);
        // Check the request now so a stray reply is caught before it is consumed as ours.
        if (h.request !== p.request) checkReply(p.request, msg, h.size);
        this.pending = undefined;
        clearTimeout(p.timer);
        p.resolve(msg);
      }
    } catch (e) {
      this.fail(e instanceof VhostUserError ? e : new VhostUserError('payload', String(e)));
    }
  }

  private fail(e: VhostUserError): void {
    if (this.dead) return;
    this.dead = e;
    this.sock.close();
    this.failPending(e);
    const ls = this.closeListeners;
    this.closeListeners = [];
    for (const f of ls) f(e);
  }

  private failPending(e: VhostUserError): void {
    const p = this.pending;
    this.pending = undefined;
    if (p) { clearTimeout(p.timer); p.reject(e); }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
