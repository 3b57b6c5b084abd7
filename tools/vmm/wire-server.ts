// The device-model side of the wire (docs/PROTOCOL.md): listens on TCP or a
// unix socket, authenticates each guest, and turns its frames into calls on
// a DeviceSession. A bad frame closes that one connection with a logged
// reason; nothing a guest sends can throw out of here or stop the server.

import * as net from 'node:net';
import * as crypto from 'node:crypto';
import { Errno, ErrnoError } from '../../core';
import {
  encodeRefuse, formatWireAddress, parseWireAddress, type RegisterWidth, type SharedRam, type WireAddress,
} from '../../drivers/wire';
import type { SharedMemoryRegion } from '../../drivers/virtio';
import { Connection, DEFAULT_MAX_QUEUED_BYTES, DEFAULT_STALL_MS } from './wire-connection';

export { DEFAULT_MAX_QUEUED_BYTES, DEFAULT_STALL_MS };

/** One guest's view of the device, made per authenticated connection. */
export interface DeviceSession {
  /** Told to the guest in WELCOME. */
  readonly ram: SharedRam;
  readonly window: SharedMemoryRegion | null;
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

/** A queue's kick and call FIFOs, as paths the guest can open (/proc/<pid>/fd/<n>). */
export interface Doorbells {
  kick: string;
  call: string;
}

/** What the device side can send to its guest. */
export interface DeviceLink {
  readonly peer: string;
  readonly closed: boolean;
  /** The guest is on this host (a unix socket, or loopback TCP): it can open our files. */
  readonly sameHost?: boolean;
  interrupt(bits: number): void;
  /** Resolves once the guest has applied the mapping (MAP_ACK); rejects with
   *  EIO if the connection goes, or the guest's errno if it could not. */
  map(m: MapRequest): Promise<void>;
  unmap(moffset: number, len: number): Promise<void>;
  /** Hand queue `queue`'s doorbells to the guest (DOORBELL), or take them
   *  back (null); absent on a link that cannot. Resolves with the guest's DOORBELL_ACK status (0: done;
   *  an errno: declined); rejects with EIO if the connection goes. */
  doorbell?(queue: number, bells: Doorbells | null): Promise<number>;
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
  /** Connections at once (handshaking ones included); past it a new one is
   *  refused with EUSERS and the reason. Default: no limit. */
  maxGuests?: number;
  /** Output bytes queued for one guest before its frames stop being read
   *  (resumed on drain); 4x this, or stallMs without drain, disconnects it. */
  maxQueuedBytes?: number;
  stallMs?: number;
}

export function isLoopback(host: string): boolean {
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

  /** Bytes queued to every guest now, and how many guests are not being read (backpressure). */
  outputStats(): { queuedBytes: number; paused: number } {
    let queuedBytes = 0;
    let paused = 0;
    for (const c of this.conns) { queuedBytes += c.queuedBytes; if (c.throttled) paused++; }
    return { queuedBytes, paused };
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
    const max = this.opts.maxGuests;
    if (max !== undefined && this.conns.size >= max) {
      const reason = `too many guests: this device model serves at most ${max} at once (--max-guests)`;
      this.log(`${peer}: refused: ${reason}`);
      socket.on('error', () => undefined);
      socket.resume(); // discard its HELLO, see its EOF
      socket.once('end', () => socket.destroy());
      socket.end(encodeRefuse(Errno.EUSERS, reason));
      socket.setTimeout(1000, () => socket.destroy());
      return;
    }
    const c = new Connection(this, socket, peer, () => this.conns.delete(c));
    this.conns.add(c);
  }
}

