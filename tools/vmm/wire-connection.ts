// One guest connection of the WireServer (docs/PROTOCOL.md): the handshake,
// then frames to calls on its DeviceSession. Output is bounded: while more
// than maxQueuedBytes wait to be sent, no more frames are read from the
// guest (socket paused, decoding stopped), resumed on 'drain'; a guest that
// does not read for stallMs, or lets 4x the bound pile up, is disconnected.

import type * as net from 'node:net';
import { Errno, ErrnoError } from '../../core';
import {
  encodeDoorbell, encodeGoodbye, encodeInterrupt, encodeMap, encodeRefuse, encodeRegValue,
  encodeUnmap, encodeWelcome, Frame, FrameDecoder, FrameType, frameTypeName, MAP_READ, MAP_WRITE,
  QUEUE_NOTIFY_OFFSET, WIRE_MAGIC, WIRE_VERSION, WireProtocolError,
} from '../../drivers/wire';
import type { SharedMemoryRegion } from '../../drivers/virtio';
import { isLoopback, type DeviceLink, type DeviceSession, type Doorbells, type MapRequest, type WireServer } from './wire-server';

/** Output bytes queued for one guest before its frames stop being read. */
export const DEFAULT_MAX_QUEUED_BYTES = 1 << 20;
export const MIN_QUEUED_BYTES = 64 << 10;
/** How long a guest may leave its output unread before it is disconnected. */
export const DEFAULT_STALL_MS = 30_000;

type RegisterFrame = Extract<Frame, { type: 4 | 6 | 7 }>;
interface PendingMap { resolve(): void; reject(e: Error): void }
interface PendingDoorbell { resolve(status: number): void; reject(e: Error): void }

/** One guest connection: handshake, then frames to session calls. */
export class Connection implements DeviceLink {
  private state: 'hello' | 'opening' | 'open' | 'closed' = 'hello';
  private readonly decoder = new FrameDecoder();
  private session: DeviceSession | null = null;
  private window: SharedMemoryRegion | null = null;
  private readonly queue: RegisterFrame[] = [];
  private busy = false;
  private readonly maps = new Map<number, PendingMap>();
  private nextSeq = 1;
  private readonly bells = new Map<number, PendingDoorbell>();
  private nextBellSeq = 1;
  /** Frames the device sent before WELCOME went out. */
  private early: Uint8Array[] | null = [];
  private helloTimer: NodeJS.Timeout | null;
  /** Output over the bound: no frame is read until 'drain'. */
  private paused = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly maxQueued: number;
  private readonly stallMs: number;

  constructor(
    private readonly server: WireServer,
    private readonly socket: net.Socket,
    readonly peer: string,
    private readonly onGone: () => void,
  ) {
    // Above the socket's highWaterMark (16 KiB), so a write over the bound
    // returned false and 'drain' will come.
    this.maxQueued = Math.max(MIN_QUEUED_BYTES, server.opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES);
    this.stallMs = server.opts.stallMs ?? DEFAULT_STALL_MS;
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

  get sameHost(): boolean {
    const a = this.socket.remoteAddress;
    return a === undefined || isLoopback(a); // no remote address: a unix socket
  }

  /** Output bytes waiting to be sent. */
  get queuedBytes(): number { return this.socket.writableLength; }
  /** Its frames are not being read until its output drains. */
  get throttled(): boolean { return this.paused; }

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

  doorbell(queue: number, bells: Doorbells | null): Promise<number> {
    if (this.closed) return Promise.reject(new ErrnoError(Errno.EIO, 'wire: connection closed'));
    let seq = this.nextBellSeq;
    while (this.bells.has(seq)) seq = (seq + 1) >>> 0;
    this.nextBellSeq = (seq + 1) >>> 0;
    let frame: Uint8Array;
    try {
      frame = encodeDoorbell(seq, queue, bells);
    } catch (e) {
      return Promise.reject(new ErrnoError(Errno.EINVAL, (e as Error).message));
    }
    return new Promise<number>((resolve, reject) => {
      this.bells.set(seq, { resolve, reject });
      this.send(frame);
    });
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
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
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
    for (const p of this.bells.values()) p.reject(gone);
    this.bells.clear();
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
    if (!(len > 0) || !(moffset >= 0) || moffset + len > w.len) {
      return new ErrnoError(Errno.EINVAL, `wire: ${what} [${moffset}, +${len}) outside the ${w.len}-byte window`);
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
    else this.write(frame);
  }

  /** Every byte to the guest goes here: a guest that lets 4x the bound
   *  pile up (frames the device sends unasked, e.g. INTERRUPT) is cut off. */
  private write(frame: Uint8Array): void {
    this.socket.write(frame);
    const queued = this.socket.writableLength;
    if (queued > 4 * this.maxQueued) this.finish(`guest does not read its socket: ${queued} bytes queued`, null);
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
    this.pump();
  }

  /** Stop reading the guest until its output drains; cut it off if it never does. */
  private throttle(): void {
    this.paused = true;
    this.socket.pause();
    if (this.stallMs > 0) {
      this.stallTimer = setTimeout(() => this.finish(`guest has not read its socket for ${this.stallMs} ms `
        + `(${this.socket.writableLength} bytes queued)`, null), this.stallMs);
      this.stallTimer.unref();
    }
    this.socket.once('drain', () => {
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      this.paused = false;
      if (this.closed) return;
      this.socket.resume();
      this.pump();
    });
  }

  /** Handle the frames decoded so far, while the output is under the bound. */
  private pump(): void {
    if (this.paused || this.closed) return;
    this.socket.cork(); // the answers to a burst of reads leave in one write
    try {
      while (!this.closed) {
        if (this.socket.writableLength >= this.maxQueued) { this.throttle(); break; }
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
      case FrameType.DoorbellAck: {
        const p = this.bells.get(f.seq);
        if (!p) return this.protocolError(`DOORBELL_ACK for unknown seq ${f.seq}`);
        this.bells.delete(f.seq);
        p.resolve(f.status);
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
      this.write(encodeWelcome({ version: WIRE_VERSION, ram: s.ram, window: s.window }));
      const early = this.early ?? [];
      this.early = null;
      for (const b of early) this.write(b);
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
    this.write(encodeRegValue(id, value));
  }

  private drain(): void {
    while (!this.busy && this.queue.length > 0 && !this.closed) {
      this.exec(this.queue.shift()!);
    }
  }
}
