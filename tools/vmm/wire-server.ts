// The device-model side of the wire (docs/PROTOCOL.md): listens on TCP or a
// unix socket, authenticates each guest, and turns its frames into calls on
// a DeviceSession. A bad frame closes that one connection with a logged
// reason; nothing a guest sends can throw out of here or stop the server.

import * as net from 'node:net';
import * as crypto from 'node:crypto';
import { Errno, ErrnoError } from '../../core/errno';
import type { RegisterWidth } from '../../drivers/transport';
import { formatWireAddress, parseWireAddress, WireAddress } from '../../drivers/wire/address';
import {
  CacheWindow, encodeGoodbye, encodeInterrupt, encodeMap, encodeRefuse, encodeRegValue,
  encodeUnmap, encodeWelcome, Frame, FrameDecoder, FrameType, frameTypeName, MAP_READ, MAP_WRITE,
  QUEUE_NOTIFY_OFFSET, SharedRam, WIRE_MAGIC, WIRE_VERSION, WireProtocolError,
} from '../../drivers/wire/frames';

/** One guest's view of the device, made per authenticated connection. */
export interface DeviceSession {
  /** Told to the guest in WELCOME. */
  readonly ram: SharedRam;
  readonly window: CacheWindow | null;
  /** May return a promise: later register frames wait for it (program order). */
  readRegister(offset: number, width: RegisterWidth): number | Promise<number>;
  writeRegister(offset: number, width: RegisterWidth, value: number): void;
  /** A QueueNotify write, whether it came as NOTIFY or as REG_WRITE at 0x50. */
  notify(queue: number): void;
  /** The connection is gone; stop using the link. */
  close(reason: Error): void;
}

export interface MapRequest {
  /** Offset in the cache window, length, offset in the host file. */
  moffset: number;
  len: number;
  foffset: number;
  /** MAP_READ | MAP_WRITE. */
  flags: number;
  /** A path the guest process can open to reach the same file, e.g. /proc/<pid>/fd/<n>. */
  path: string;
}

/** What the device side can send to its guest. */
export interface DeviceLink {
  readonly peer: string;
  readonly closed: boolean;
  interrupt(bits: number): void;
  /** Resolves once the guest has applied the mapping (MAP_ACK); rejects with
   *  EIO if the connection goes, or the guest's errno if it could not. */
  map(m: MapRequest): Promise<void>;
  unmap(moffset: number, len: number): Promise<void>;
  /** Say GOODBYE and close. */
  close(reason?: string): void;
}

export interface WireServerOptions {
  /** tcp:HOST:PORT (port 0: any free port) or unix:PATH. */
  listen: string;
  /** Access token; without one only a loopback TCP address or a unix socket is allowed. */
  token?: string | Uint8Array;
  createSession(link: DeviceLink): DeviceSession | Promise<DeviceSession>;
  /** Where connection-level events and reasons go (default: stderr). */
  log?: (message: string) => void;
  /** How long a new connection may take to say HELLO (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** Register frames queued behind a pending async read, at most (default 4096). */
  maxQueuedFrames?: number;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

function digest(b: Uint8Array): Buffer {
  return crypto.createHash('sha256').update(b).digest();
}

export class WireServer {
  private readonly conns = new Set<Connection>();
  private readonly tokenDigest: Buffer | null;
  private nextConn = 1;
  private closing: Promise<void> | null = null;
  readonly log: (message: string) => void;

  private constructor(
    private readonly server: net.Server,
    private readonly where: WireAddress,
    readonly opts: WireServerOptions,
  ) {
    const t = opts.token;
    const bytes = typeof t === 'string' ? new TextEncoder().encode(t) : t;
    this.tokenDigest = bytes && bytes.length > 0 ? digest(bytes) : null;
    this.log = opts.log ?? ((m) => process.stderr.write(`wire-server: ${m}\n`));
    server.on('connection', (s) => this.accept(s));
    server.on('error', (e) => this.log(`listener error: ${e.message}`));
  }

  /** Start listening; rejects on a bad address or one that cannot be bound. */
  static listen(opts: WireServerOptions): Promise<WireServer> {
    let where: WireAddress;
    try {
      where = parseWireAddress(opts.listen);
    } catch (e) {
      return Promise.reject(e);
    }
    const hasToken = opts.token !== undefined && opts.token.length > 0;
    if (where.kind === 'tcp' && !hasToken && !isLoopback(where.host)) {
      return Promise.reject(new ErrnoError(Errno.EACCES,
        `refusing to listen on non-loopback ${opts.listen} without an access token`));
    }
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true });
      const onError = (e: Error) => reject(e);
      server.once('error', onError);
      const ready = () => {
        server.off('error', onError);
        const a = server.address();
        const bound: WireAddress = where.kind === 'tcp' && a && typeof a === 'object'
          ? { kind: 'tcp', host: where.host, port: a.port }
          : where;
        resolve(new WireServer(server, bound, opts));
      };
      if (where.kind === 'tcp') server.listen(where.port, where.host, ready);
      else server.listen(where.path, ready);
    });
  }

  /** tcp://HOST:PORT or unix://PATH, with the port actually bound. */
  address(): string {
    return formatWireAddress(this.where);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Stop listening and end every connection (GOODBYE first). */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise((resolve) => {
        this.server.close(() => resolve());
        for (const c of [...this.conns]) c.close('device model shutting down', 0);
      });
    }
    return this.closing;
  }

  /** Constant-time token check; any token is accepted when none is configured. */
  tokenMatches(token: Uint8Array): boolean {
    if (!this.tokenDigest) return true;
    return crypto.timingSafeEqual(digest(token), this.tokenDigest);
  }

  private accept(socket: net.Socket): void {
    if (this.closing) { socket.destroy(); return; }
    const peer = socket.remoteAddress
      ? `${socket.remoteAddress}:${socket.remotePort}#${this.nextConn++}`
      : `unix#${this.nextConn++}`;
    const c = new Connection(this, socket, peer, () => this.conns.delete(c));
    this.conns.add(c);
  }
}

type RegisterFrame = Extract<Frame, { type: 4 | 6 | 7 }>;
interface PendingMap { resolve(): void; reject(e: Error): void }

/** One guest connection: handshake, then frames to session calls. */
class Connection implements DeviceLink {
  private state: 'hello' | 'opening' | 'open' | 'closed' = 'hello';
  private readonly decoder = new FrameDecoder();
  private session: DeviceSession | null = null;
  private window: CacheWindow | null = null;
  private readonly queue: RegisterFrame[] = [];
  private busy = false;
  private readonly maps = new Map<number, PendingMap>();
  private nextSeq = 1;
  /** Frames the device sent before WELCOME went out. */
  private early: Uint8Array[] | null = [];
  private helloTimer: NodeJS.Timeout | null;

  constructor(
    private readonly server: WireServer,
    private readonly socket: net.Socket,
    readonly peer: string,
    private readonly onGone: () => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('end', () => {
      const e = this.decoder.end();
      this.close(e ? e.message : 'guest closed the connection', e ? Errno.EPROTO : -1);
    });
    socket.on('error', (e) => this.close(`socket error: ${e.message}`, -1));
    socket.on('close', () => this.close('connection closed', -1));
    const ms = server.opts.handshakeTimeoutMs ?? 5000;
    this.helloTimer = setTimeout(() => this.refuse(Errno.ETIMEDOUT, `no HELLO within ${ms} ms`), ms);
    this.helloTimer.unref();
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  // ------------------------------------------------------------ DeviceLink

  interrupt(bits: number): void {
    this.send(encodeInterrupt(bits >>> 0));
  }

  map(m: MapRequest): Promise<void> {
    const bad = this.checkRange('MAP', m.moffset, m.len);
    if (bad) return Promise.reject(bad);
    if ((m.flags & ~(MAP_READ | MAP_WRITE)) !== 0) {
      return Promise.reject(new ErrnoError(Errno.EINVAL, `wire: MAP flags 0x${m.flags.toString(16)}`));
    }
    const seq = this.seq();
    let frame: Uint8Array;
    try {
      frame = encodeMap({ seq, ...m });
    } catch (e) {
      return Promise.reject(new ErrnoError(Errno.EINVAL, (e as Error).message));
    }
    return this.awaitAck(seq, frame);
  }

  unmap(moffset: number, len: number): Promise<void> {
    const bad = this.checkRange('UNMAP', moffset, len);
    if (bad) return Promise.reject(bad);
    const seq = this.seq();
    let frame: Uint8Array;
    try {
      frame = encodeUnmap(seq, moffset, len);
    } catch (e) {
      return Promise.reject(new ErrnoError(Errno.EINVAL, (e as Error).message));
    }
    return this.awaitAck(seq, frame);
  }

  close(reason = 'closed by the device', code = 0): void {
    this.finish(reason, code >= 0 ? encodeGoodbye(code, reason) : null);
  }

  /** Close once: send `last` (GOODBYE or REFUSE) if the peer is still there. */
  private finish(reason: string, last: Uint8Array | null): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state !== 'hello';
    this.state = 'closed';
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.queue.length = 0;
    if (last && !this.socket.destroyed && this.socket.writable) {
      this.socket.end(last, () => this.socket.destroy());
    } else {
      this.socket.destroy();
    }
    this.server.log(`${this.peer}: closed: ${reason}`);
    const gone = new ErrnoError(Errno.EIO, `wire: connection closed: ${reason}`);
    for (const p of this.maps.values()) p.reject(gone);
    this.maps.clear();
    const s = this.session;
    this.session = null;
    if (s && wasOpen) {
      try { s.close(gone); } catch (e) { this.server.log(`${this.peer}: session close threw: ${(e as Error).message}`); }
    }
    this.onGone();
  }

  // ------------------------------------------------------------ internals

  /** Why a window range cannot be (un)mapped now, or null. */
  private checkRange(what: string, moffset: number, len: number): ErrnoError | null {
    if (this.closed) return new ErrnoError(Errno.EIO, 'wire: connection closed');
    const w = this.window ?? this.session?.window ?? null;
    if (!w) return new ErrnoError(Errno.ENODEV, `wire: ${what} without a cache window`);
    if (!(len > 0) || !(moffset >= 0) || moffset + len > w.size) {
      return new ErrnoError(Errno.EINVAL, `wire: ${what} [${moffset}, +${len}) outside the ${w.size}-byte window`);
    }
    return null;
  }

  private seq(): number {
    let s = this.nextSeq;
    while (this.maps.has(s)) s = (s + 1) >>> 0;
    this.nextSeq = (s + 1) >>> 0;
    return s;
  }

  private awaitAck(seq: number, frame: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.maps.set(seq, { resolve, reject });
      this.send(frame);
    });
  }

  private send(frame: Uint8Array): void {
    if (this.state === 'closed') return;
    if (this.early) this.early.push(frame);
    else this.socket.write(frame);
  }

  private refuse(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.early = null;
    this.finish(`refused: ${reason}`, encodeRefuse(code, reason));
  }

  private protocolError(reason: string): void {
    this.close(`protocol error: ${reason}`, Errno.EPROTO);
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.decoder.push(chunk);
    this.socket.cork(); // the answers to a burst of reads leave in one write
    try {
      while (!this.closed) {
        const f = this.decoder.next();
        if (f === null) break;
        if (f instanceof WireProtocolError) { this.protocolError(f.message); break; }
        this.handle(f);
      }
    } catch (e) {
      this.close(`internal error: ${(e as Error).message}`, Errno.EIO);
    } finally {
      this.socket.uncork();
    }
  }

  private handle(f: Frame): void {
    switch (this.state) {
      case 'hello':
        if (f.type !== FrameType.Hello) return this.protocolError(`${frameTypeName(f.type)} before HELLO`);
        return this.hello(f.magic, f.version, f.token);
      case 'opening':
        if (f.type === FrameType.Hello) return this.protocolError('second HELLO');
        return this.protocolError(`${frameTypeName(f.type)} before WELCOME`);
      case 'closed':
        return;
    }
    switch (f.type) {
      case FrameType.RegRead:
      case FrameType.RegWrite:
      case FrameType.Notify:
        if (this.busy) {
          if (this.queue.length >= (this.server.opts.maxQueuedFrames ?? 4096)) {
            return this.protocolError('too many register frames in flight');
          }
          this.queue.push(f);
        } else {
          this.exec(f);
        }
        return;
      case FrameType.MapAck: {
        const p = this.maps.get(f.seq);
        if (!p) return this.protocolError(`MAP_ACK for unknown seq ${f.seq}`);
        this.maps.delete(f.seq);
        if (f.status === 0) p.resolve();
        else p.reject(new ErrnoError(f.status, `wire: guest could not apply mapping seq ${f.seq}`));
        return;
      }
      case FrameType.Goodbye:
        return this.close(`guest said goodbye (${f.code}): ${f.reason}`, -1);
      case FrameType.Hello:
        return this.protocolError('second HELLO');
      default:
        return this.protocolError(`guest sent device-only ${frameTypeName(f.type)}`);
    }
  }

  private hello(magic: number, version: number, token: Uint8Array): void {
    if (magic !== WIRE_MAGIC) return this.refuse(Errno.EPROTO, `bad magic 0x${magic.toString(16)}`);
    if (version !== WIRE_VERSION) {
      return this.refuse(Errno.EPROTO, `unsupported protocol version ${version} (this device speaks ${WIRE_VERSION})`);
    }
    if (!this.server.tokenMatches(token)) return this.refuse(Errno.EACCES, 'bad access token');
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.state = 'opening';
    let made: Promise<DeviceSession>;
    try {
      made = Promise.resolve(this.server.opts.createSession(this));
    } catch (e) {
      made = Promise.reject(e);
    }
    made.then((s) => {
      if (this.closed) {
        try { s.close(new ErrnoError(Errno.EIO, 'wire: connection closed')); } catch { /* already gone */ }
        return;
      }
      this.session = s;
      this.window = s.window;
      this.socket.write(encodeWelcome({ version: WIRE_VERSION, ram: s.ram, window: s.window }));
      const early = this.early ?? [];
      this.early = null;
      for (const b of early) this.socket.write(b);
      this.state = 'open';
      this.server.log(`${this.peer}: session open`);
    }).catch((e: Error) => {
      this.refuse((e as ErrnoError).errno ?? Errno.EIO, `cannot open a session: ${e.message}`);
    });
  }

  /** Run one register frame; an async read holds later frames back. */
  private exec(f: RegisterFrame): void {
    const s = this.session;
    if (!s) return;
    try {
      switch (f.type) {
        case FrameType.RegRead: {
          const v = s.readRegister(f.offset, f.width);
          if (typeof v === 'number') { this.answer(f.id, v); return; }
          this.busy = true;
          v.then((value) => {
            this.busy = false;
            if (this.closed) return;
            try {
              this.answer(f.id, value);
            } catch (e) {
              return this.close(`register read at 0x${f.offset.toString(16)}: ${(e as Error).message}`, Errno.EIO);
            }
            this.drain();
          }, (e: Error) => this.close(`register read at 0x${f.offset.toString(16)} failed: ${e.message}`, Errno.EIO));
          return;
        }
        case FrameType.RegWrite:
          if (f.offset === QUEUE_NOTIFY_OFFSET && f.width === 4) s.notify(f.value);
          else s.writeRegister(f.offset, f.width, f.value);
          return;
        case FrameType.Notify:
          s.notify(f.queue);
          return;
      }
    } catch (e) {
      this.close(`device error on ${frameTypeName(f.type)} at 0x${('offset' in f ? f.offset : 0x50).toString(16)}: ${(e as Error).message}`, Errno.EIO);
    }
  }

  private answer(id: number, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`device returned ${value}, not a u32`);
    }
    this.socket.write(encodeRegValue(id, value));
  }

  private drain(): void {
    while (!this.busy && this.queue.length > 0 && !this.closed) {
      this.exec(this.queue.shift()!);
    }
  }
}
