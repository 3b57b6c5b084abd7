// The guest side of the wire (docs/PROTOCOL.md): an MmioTransport whose
// register accesses are frames on a TCP or unix-socket connection to the
// device model. A lost connection fails every pending read with EIO at once.
// Queues whose doorbells the device handed over (DOORBELL) are kicked and
// interrupted through the back-end's FIFOs instead (doorbells.node.ts).

import * as net from 'node:net';
import { Errno, ErrnoError } from '../../core/errno';
import type { MmioTransport, RegisterWidth } from '../transport';
import { parseWireAddress, type WireAddress } from './address';
import { GuestDoorbells } from './doorbells.node';
import { WirePeer } from './peer.node';
import {
  encodeDoorbellAck, encodeGoodbye, encodeHello, encodeMapAck, encodeNotify, encodeRegRead, encodeRegWrite,
  Frame, FrameDecoder, FrameType, frameTypeName, QUEUE_NOTIFY_OFFSET, WelcomeInfo,
  WIRE_VERSION, WireProtocolError,
} from './frames';

/** virtio-mmio InterruptACK, and InterruptStatus bit 0 (a used buffer). */
const INTERRUPT_ACK_OFFSET = 0x64;
const INT_VRING = 1;

export interface MapEvent {
  seq: number;
  /** Offset in the cache window, length, offset in the host file. */
  moffset: number;
  len: number;
  foffset: number;
  /** MAP_READ | MAP_WRITE. */
  flags: number;
  /** A host path this process can open to reach the device's file. */
  path: string;
}
export interface UnmapEvent {
  seq: number;
  moffset: number;
  len: number;
}

export interface WireTransport extends MmioTransport {
  /** RAM and cache window, as the device announced them. */
  readonly welcome: WelcomeInfo;
  readonly closed: boolean;
  /** The InterruptStatus bits of the last INTERRUPT frame (advisory). */
  readonly lastInterrupt: number;
  /** QueueNotify for `queue` (what write(0x50, 4, queue) also sends). */
  notify(queue: number): void;
  /** Apply a window mapping; MAP_ACK goes out after the handler has settled
   *  (status = its ErrnoError's errno if it throws, EIO for other errors). */
  onMap(handler: (m: MapEvent) => void | Promise<void>): void;
  onUnmap(handler: (u: UnmapEvent) => void | Promise<void>): void;
  /** The process at the other end, for opening the files it names (peer-file.node.ts). */
  readonly peer: WirePeer;
  /** Close with GOODBYE(errno, reason): the device broke a rule the guest checks. */
  abort(errno: number, reason: string): void;
  /** The queues' doorbells this guest holds, and how often it used them. */
  readonly doorbells: GuestDoorbells;
  /** QueueNotify register frames sent for `queue` (kicks through a doorbell are not frames). */
  notifyFrames(queue: number): number;
}

export interface ConnectOptions {
  /** Connect plus HELLO/WELCOME, at most (default 5000 ms). */
  timeoutMs?: number;
  /** The uid the listener must belong to before the token is sent (default: ours). */
  peerUid?: number;
  /** Take the queues' doorbells when the device offers them (default true); false declines. */
  doorbells?: boolean;
}

/** Connect to a device model and do the handshake. Rejects with an ErrnoError. */
export function connectWire(address: string, token?: string | Uint8Array, opts: ConnectOptions = {}): Promise<WireTransport> {
  let socket: net.Socket;
  let a: WireAddress;
  try {
    a = parseWireAddress(address);
    socket = a.kind === 'tcp' ? net.connect({ host: a.host, port: a.port, noDelay: true }) : net.connect({ path: a.path });
  } catch (e) {
    return Promise.reject(new ErrnoError(Errno.EINVAL, (e as Error).message));
  }
  const tokenBytes = typeof token === 'string' ? new TextEncoder().encode(token) : token ?? new Uint8Array(0);
  const peer = new WirePeer(a, socket, opts.peerUid ?? process.geteuid?.() ?? 0);
  const t = new TcpWireTransport(socket, peer, tokenBytes, opts.timeoutMs ?? 5000, opts.doorbells ?? true);
  return t.ready;
}

function errnoOf(e: unknown): number {
  if (e instanceof ErrnoError) return e.errno;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && Object.prototype.hasOwnProperty.call(Errno, code)) return Errno[code as keyof typeof Errno];
  return Errno.EIO;
}

interface PendingRead { resolve(v: number): void; reject(e: Error): void }

class TcpWireTransport implements WireTransport {
  readonly ready: Promise<WireTransport>;
  welcome!: WelcomeInfo;
  lastInterrupt = 0;
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  private readonly decoder = new FrameDecoder();
  private readonly reads = new Map<number, PendingRead>();
  private nextId = 1;
  private interruptHandlers: ((status?: number) => void)[] = [];
  private closeHandlers: ((reason: Error) => void)[] = [];
  private closeReason: Error | null = null;
  private mapHandler: ((m: MapEvent) => void | Promise<void>) | null = null;
  private unmapHandler: ((u: UnmapEvent) => void | Promise<void>) | null = null;
  /** MAP/UNMAP are applied one after another, in arrival order. */
  private mapChain: Promise<void> = Promise.resolve();
  private settle!: { resolve(t: WireTransport): void; reject(e: Error): void };
  private timer: NodeJS.Timeout | null;
  readonly doorbells: GuestDoorbells;
  /** Inside a doorbell interrupt: its InterruptACK is ours to drop (the device never set the bit). */
  private inDoorbell = false;

  constructor(private readonly socket: net.Socket, readonly peer: WirePeer, token: Uint8Array, timeoutMs: number,
              private readonly takeDoorbells: boolean) {
    this.doorbells = new GuestDoorbells(peer, () => this.doorbellInterrupt());
    this.ready = new Promise((resolve, reject) => { this.settle = { resolve, reject }; });
    this.timer = setTimeout(() => this.fail(new ErrnoError(Errno.ETIMEDOUT, `wire: no WELCOME within ${timeoutMs} ms`)), timeoutMs);
    socket.setNoDelay(true);
    socket.on('connect', () => {
      // The token goes only to a listener of the expected user.
      const why = peer.checkBeforeHello();
      if (why) { this.fail(new ErrnoError(Errno.EPROTO, `wire: not sending the token: ${why}`)); return; }
      try {
        socket.write(encodeHello(token));
      } catch (e) {
        this.fail(new ErrnoError(Errno.EINVAL, (e as Error).message));
      }
    });
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('end', () => {
      const e = this.decoder.end();
      this.fail(new ErrnoError(Errno.EIO, `wire: device closed the connection${e ? ` (${e.message})` : ''}`));
    });
    socket.on('error', (e) => this.fail(new ErrnoError(this.state === 'handshake' ? errnoOf(e) : Errno.EIO, `wire: ${e.message}`)));
    socket.on('close', () => this.fail(new ErrnoError(Errno.EIO, 'wire: connection closed')));
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  // ------------------------------------------------------------ MmioTransport

  read(offset: number, width: RegisterWidth): Promise<number> {
    if (this.state !== 'open') {
      return Promise.reject(this.closeReason ?? new ErrnoError(Errno.EIO, 'wire: not connected'));
    }
    let id = this.nextId;
    while (this.reads.has(id)) id = (id + 1) >>> 0;
    this.nextId = (id + 1) >>> 0;
    const frame = encodeRegRead(id, offset, width); // throws RangeError on a caller bug, before anything is pending
    return new Promise<number>((resolve, reject) => {
      this.reads.set(id, { resolve, reject });
      this.post(frame);
    });
  }

  write(offset: number, width: RegisterWidth, value: number): void {
    if (this.state !== 'open') return; // posted: a write to a gone device is lost, as on hardware
    if (offset === QUEUE_NOTIFY_OFFSET && width === 4) { this.notify(value); return; }
    // A doorbell interrupt never set InterruptStatus at the device: nothing to acknowledge there.
    if (this.inDoorbell && offset === INTERRUPT_ACK_OFFSET && (value & ~INT_VRING) === 0) return;
    this.post(encodeRegWrite(offset, width, value));
  }

  notify(queue: number): void {
    if (this.state !== 'open') return;
    if (this.doorbells.kick(queue)) return;
    this.notifiesSent.set(queue, (this.notifiesSent.get(queue) ?? 0) + 1);
    this.post(encodeNotify(queue));
  }

  private readonly notifiesSent = new Map<number, number>();
  notifyFrames(queue: number): number { return this.notifiesSent.get(queue) ?? 0; }

  /** The device model is another process. */
  readonly concurrent = true;

  flush(): void {
    if (this.corked) this.uncork();
  }

  onInterrupt(handler: (status?: number) => void): void {
    this.interruptHandlers.push(handler);
  }

  onClose(handler: (reason: Error) => void): void {
    if (this.closeReason) {
      const r = this.closeReason;
      queueMicrotask(() => handler(r));
    } else {
      this.closeHandlers.push(handler);
    }
  }

  onMap(handler: (m: MapEvent) => void | Promise<void>): void {
    this.mapHandler = handler;
  }

  onUnmap(handler: (u: UnmapEvent) => void | Promise<void>): void {
    this.unmapHandler = handler;
  }

  close(): void {
    if (this.state === 'closed') return;
    if (this.socket.writable) this.socket.end(encodeGoodbye(0, 'guest closed the transport'));
    this.fail(new ErrnoError(Errno.EIO, 'wire: transport closed'));
  }

  // ------------------------------------------------------------ internals

  /**
   * Send a frame with whatever else this event-loop turn sends (the posted
   * InterruptACK of an INTERRUPT and the NOTIFY of the requests its replies
   * set off): one socket write, so one wake-up of the device model.
   */
  private post(frame: Uint8Array): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.uncork);
    }
    this.socket.write(frame);
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /** Close once: reject what is pending, tell the close handlers. */
  private fail(reason: ErrnoError): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.closeReason = reason;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.doorbells.releaseAll(); // the device model reads the calls again
    if (!this.socket.writableEnded) this.socket.destroy();
    else this.socket.setTimeout(1000, () => this.socket.destroy()); // GOODBYE is on its way
    const reads = [...this.reads.values()];
    this.reads.clear();
    const eio = reason.errno === Errno.EIO ? reason : new ErrnoError(Errno.EIO, reason.message);
    for (const r of reads) r.reject(eio);
    if (!wasOpen) { this.settle.reject(reason); return; }
    const handlers = this.closeHandlers;
    this.closeHandlers = [];
    for (const h of handlers) {
      try { h(reason); } catch { /* a handler's failure must not stop the others */ }
    }
  }

  abort(errno: number, reason: string): void {
    if (this.state === 'closed') return;
    if (this.socket.writable) this.socket.end(encodeGoodbye(errno, reason));
    this.fail(new ErrnoError(errno, reason));
  }

  private protocolError(reason: string): void {
    if (this.socket.writable) this.socket.end(encodeGoodbye(Errno.EPROTO, reason));
    this.fail(new ErrnoError(Errno.EIO, `wire: protocol error: ${reason}`));
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.decoder.push(chunk);
    while (!this.closed) {
      const f = this.decoder.next();
      if (f === null) break;
      if (f instanceof WireProtocolError) { this.protocolError(f.message); break; }
      try {
        this.handle(f);
      } catch (e) {
        this.protocolError(`while handling ${frameTypeName(f.type)}: ${(e as Error).message}`);
      }
    }
  }

  private handle(f: Frame): void {
    if (this.state === 'handshake') {
      if (f.type === FrameType.Welcome) {
        if (f.version !== WIRE_VERSION) return this.protocolError(`device speaks version ${f.version}, not ${WIRE_VERSION}`);
        this.welcome = { version: f.version, ram: f.ram, window: f.window };
        this.state = 'open';
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.settle.resolve(this);
        return;
      }
      if (f.type === FrameType.Refuse || f.type === FrameType.Goodbye) {
        return this.fail(new ErrnoError(f.code || Errno.EIO, `wire: device refused the connection: ${f.reason}`));
      }
      return this.protocolError(`${frameTypeName(f.type)} before WELCOME`);
    }
    switch (f.type) {
      case FrameType.RegValue: {
        const r = this.reads.get(f.id);
        if (!r) return this.protocolError(`REG_VALUE for no pending read (id ${f.id})`);
        this.reads.delete(f.id);
        r.resolve(f.value);
        return;
      }
      case FrameType.Interrupt:
        this.lastInterrupt = f.bits;
        for (const h of this.interruptHandlers) {
          try { h(f.bits); } catch { /* the driver's bug, not the wire's: keep the connection */ }
        }
        return;
      case FrameType.Map: {
        const ev: MapEvent = { seq: f.seq, moffset: f.moffset, len: f.len, foffset: f.foffset, flags: f.flags, path: f.path };
        return this.apply(f.seq, () => this.mapHandler?.(ev));
      }
      case FrameType.Unmap: {
        const ev: UnmapEvent = { seq: f.seq, moffset: f.moffset, len: f.len };
        return this.apply(f.seq, () => this.unmapHandler?.(ev));
      }
      case FrameType.Doorbell:
        return this.doorbell(f.seq, f.queue, f.handover ? { kick: f.kick, call: f.call } : null);
      case FrameType.Goodbye:
        return this.fail(new ErrnoError(Errno.EIO, `wire: device said goodbye (${f.code}): ${f.reason}`));
      default:
        return this.protocolError(`device sent guest-only or handshake frame ${frameTypeName(f.type)}`);
    }
  }

  /** Take a queue's doorbells (after the trust checks), decline them, or give them back; then ack. */
  private doorbell(seq: number, queue: number, bells: { kick: string; call: string } | null): void {
    let status = 0;
    if (!bells) {
      this.doorbells.release(queue);
    } else if (!this.takeDoorbells) {
      status = Errno.EOPNOTSUPP;
    } else {
      try {
        this.doorbells.take(queue, bells.kick, bells.call);
      } catch (e) {
        const msg = (e as Error).message;
        return this.abort((e as ErrnoError).errno ?? Errno.EPROTO, msg);
      }
    }
    this.socket.write(encodeDoorbellAck(seq, status));
  }

  /** Call-FIFO data: a used-buffer interrupt of that queue, as an INTERRUPT frame with bit 0 would be. */
  private doorbellInterrupt(): void {
    if (this.state !== 'open') return;
    this.inDoorbell = true;
    try {
      for (const h of this.interruptHandlers) {
        try { h(INT_VRING); } catch { /* the driver's bug, not the wire's */ }
      }
    } finally {
      this.inDoorbell = false;
    }
  }

  /** Run a MAP/UNMAP handler after the previous one, then MAP_ACK it. */
  private apply(seq: number, run: () => void | Promise<void>): void {
    this.mapChain = this.mapChain.then(async () => {
      let status = 0;
      try {
        await run();
      } catch (e) {
        status = errnoOf(e);
      }
      if (this.state === 'open') this.socket.write(encodeMapAck(seq, status));
    });
  }
}
