// The TypeScript queue backend of the virtio-fs device: pops request chains,
// hands them to a FUSE handler and returns the replies. A chain handler (the
// FuseServer) reads the request and writes the reply in the chain's own
// buffers (ChainRequest/ChainReply); a byte handler gets the request
// gathered into one array and its reply scattered back. Requests run
// concurrently and complete out of order: a slow one holds no other.
// Everything in the rings is the guest's and untrusted; a bad chain breaks the
// device as QEMU's virtio_error does, and nothing reaches guest memory from a
// request started before a reset.

import { Log, consoleLog, type GuestMemory } from '../../core';
import { Chain, DeviceQueue, VirtqueueError, gather, scatter } from '../../drivers/virtqueue';
import { ChainReply, ChainRequest, type ReplyTarget, type RequestSource } from './fuse';
import type { VirtioFsBackend, VirtioFsDeviceSink, VirtioFsQueueSetup } from './virtio-fs-device';

export interface FuseRequestContext {
  /** The virtqueue: 0 hiprio, 1..n request queues. */
  queue: number;
  /** Bytes the driver offers for the reply (the chain's writable part). */
  replyCapacity: number;
}

export interface FuseRequestHandler {
  /**
   * Answer one request. `request` may be a live view of guest memory, which
   * the guest could still change: decode each field once. Resolve with the
   * reply bytes, or null for no reply (FORGET on hiprio). A reply longer than
   * ctx.replyCapacity is cut; sending a FUSE error instead is the handler's job.
   */
  handle(request: Uint8Array, ctx: FuseRequestContext): Promise<Uint8Array | null>;
}

export interface FuseChainHandler {
  /**
   * Answer one request read from `request` by writing its reply into
   * `reply` (both over the chain's guest buffers). Resolve with the reply's
   * length, or null for none. Writes after a reset are dropped by `reply`.
   */
  serve(request: RequestSource, reply: ReplyTarget, queue: number): Promise<number | null>;
}

function isChainHandler(h: FuseRequestHandler | FuseChainHandler): h is FuseChainHandler {
  return typeof (h as Partial<FuseChainHandler>).serve === 'function';
}

export interface FuseQueueOptions {
  /** Largest readable part handed to the handler; a longer chain is answered with len 0. */
  maxRequestSize?: number;
  /** Requests being served at once, over every queue (a session's cap): past
   *  it, chains stay in the avail ring until one completes. Default 256. */
  maxInFlight?: number;
  logger?: Log;
}

export const DEFAULT_MAX_IN_FLIGHT = 256;

/** Enough for a 1 MiB FUSE_WRITE with its headers, as virtiofsd's buffer. */
export const FUSE_DEFAULT_MAX_REQUEST = (1 << 20) + 64 * 1024;

/** Chains popped per drain before yielding to the event loop. */
const DRAIN_BUDGET_FACTOR = 4;

class LiveQueue {
  readonly inFlight: Uint8Array;
  count = 0;
  live = true;
  interruptPending = false;
  drainScheduled = false;
  /** Its drain stopped at the in-flight cap: drained again on a completion. */
  throttled = false;
  constructor(readonly index: number, readonly dq: DeviceQueue) {
    this.inFlight = new Uint8Array(dq.size);
  }
}

export class FuseQueueBackend implements VirtioFsBackend {
  private readonly queues = new Map<number, LiveQueue>();
  private readonly maxRequest: number;
  private readonly log: Log;
  private broken = false;
  private closed = false;
  private readonly maxInFlight: number;
  /** Handlers running, whatever became of their queue: a reset does not
   *  free the cap while the requests it dropped still run. */
  private running = 0;
  /** Highest `running` seen (tests, stats). */
  peakRunning = 0;

  constructor(private readonly memory: GuestMemory, private readonly handler: FuseRequestHandler | FuseChainHandler,
              private readonly sink: VirtioFsDeviceSink, options: FuseQueueOptions = {}) {
    this.maxRequest = options.maxRequestSize ?? FUSE_DEFAULT_MAX_REQUEST;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.log = options.logger ?? consoleLog;
  }

  /** Requests started and not yet completed (or discarded), over all queues. */
  get inFlight(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.count;
    return n;
  }

  queueReady(index: number, setup: VirtioFsQueueSetup): void {
    if (this.closed || this.broken) return;
    this.queueStopped(index);
    let dq: DeviceQueue;
    try {
      dq = new DeviceQueue(this.memory, setup);
    } catch (e) {
      // QEMU: "Cannot map desc/avail/used" is a virtio_error.
      this.fail(`queue ${index}: ${errorText(e)}`);
      return;
    }
    const q = new LiveQueue(index, dq);
    this.queues.set(index, q);
    // Chains may have been published before DRIVER_OK, their kick dropped.
    this.drain(q);
  }

  notify(index: number): void {
    const q = this.queues.get(index);
    if (q && !q.drainScheduled) this.drain(q);
  }

  queueStopped(index: number): void {
    const q = this.queues.get(index);
    if (!q) return;
    q.live = false; // completions of its requests are dropped
    this.queues.delete(index);
  }

  reset(): void {
    for (const q of this.queues.values()) q.live = false;
    this.queues.clear();
    this.broken = false;
  }

  close(): void {
    this.reset();
    this.closed = true;
  }

  // --- internals -----------------------------------------------------------

  private fail(reason: string): void {
    // As QEMU's virtio_error: every queue stops and no used entry is written
    // until the driver resets the device.
    this.broken = true;
    for (const q of this.queues.values()) q.live = false;
    this.queues.clear();
    this.sink.broken(reason);
  }

  private drain(q: LiveQueue): void {
    const dq = q.dq;
    let budget = DRAIN_BUDGET_FACTOR * dq.size;
    try {
      for (;;) {
        // Kicks off while draining; on again, then re-check: a chain published
        // between the last pop and re-enabling would get no kick (EVENT_IDX race).
        dq.setNotification(false);
        while (budget > 0) {
          if (this.running >= this.maxInFlight) {
            // The rest waits in the ring: a completion drains this queue again.
            q.throttled = true;
            return;
          }
          const chain = dq.pop();
          if (!chain) break;
          budget--;
          this.start(q, chain);
          if (!q.live) return;
          // Nothing more seen at the last avail.idx read: setNotification(true)
          // below reads it again anyway, so a pop now would be one read too many.
          if (dq.availKnown === 0) break;
        }
        if (budget <= 0) {
          // A driver that keeps publishing must not starve the event loop.
          q.drainScheduled = true;
          setImmediate(() => { q.drainScheduled = false; if (q.live) this.drain(q); });
          return;
        }
        if (!dq.setNotification(true)) return;
      }
    } catch (e) {
      if (!q.live) return;
      if (e instanceof VirtqueueError) this.fail(`queue ${q.index}: ${e.message}`);
      else this.fail(`queue ${q.index}: ${errorText(e)}`); // guest memory went away under the ring
    }
  }

  private start(q: LiveQueue, chain: Chain): void {
    const { head } = chain;
    // QEMU's virtqueue_pop: "Virtqueue size exceeded"; and a head the device
    // still holds cannot be available again.
    if (q.inFlight[head]) { this.fail(`queue ${q.index}: chain ${head} made available while in use`); return; }
    if (q.count >= q.dq.size) { this.fail(`queue ${q.index}: virtqueue size exceeded`); return; }
    q.inFlight[head] = 1;
    q.count++;
    if (chain.readableLen > this.maxRequest || chain.readableLen === 0) {
      this.log(`virtio-fs: queue ${q.index} chain ${head}: request of ${chain.readableLen} bytes refused`);
      this.complete(q, chain, 0);
      return;
    }
    this.running++;
    if (this.running > this.peakRunning) this.peakRunning = this.running;
    if (isChainHandler(this.handler)) this.startChain(q, chain, this.handler);
    else this.startBytes(q, chain, this.handler);
  }

  /** A handler settled: room under the cap for a throttled queue. */
  private settled(): void {
    this.running--;
    if (this.running >= this.maxInFlight) return;
    for (const q of this.queues.values()) {
      if (!q.throttled || !q.live || q.drainScheduled) continue;
      q.throttled = false;
      q.drainScheduled = true;
      setImmediate(() => { q.drainScheduled = false; if (q.live) this.drain(q); });
    }
  }

  private startChain(q: LiveQueue, chain: Chain, handler: FuseChainHandler): void {
    const { head } = chain;
    let request: ChainRequest;
    try {
      request = new ChainRequest(this.memory, chain.readable);
    } catch (e) {
      this.log(`virtio-fs: queue ${q.index} chain ${head}: cannot read request: ${errorText(e)}`);
      this.settled();
      this.complete(q, chain, 0);
      return;
    }
    // Writes into the chain stop with the queue: nothing started before a
    // reset reaches guest memory after it.
    const reply = new ChainReply(this.memory, chain.writable, () => q.live);
    let served: Promise<number | null>;
    try {
      served = handler.serve(request, reply, q.index);
    } catch (e) {
      served = Promise.reject(e);
    }
    served.then(
      (n) => {
        this.settled();
        if (reply.error !== undefined) {
          // A reply buffer in an unmapped window range, say: the driver gets nothing.
          this.log(`virtio-fs: queue ${q.index} chain ${head}: cannot write reply: ${errorText(reply.error)}`);
          n = 0;
        }
        this.complete(q, chain, n ?? 0);
      },
      (e) => {
        this.settled();
        this.log(`virtio-fs: queue ${q.index} chain ${head}: handler failed: ${errorText(e)}`);
        this.complete(q, chain, 0);
      });
  }

  private startBytes(q: LiveQueue, chain: Chain, handler: FuseRequestHandler): void {
    const { head } = chain;
    let request: Uint8Array;
    try {
      request = gather(this.memory, chain.readable);
    } catch (e) {
      this.log(`virtio-fs: queue ${q.index} chain ${head}: cannot read request: ${errorText(e)}`);
      this.settled();
      this.complete(q, chain, 0);
      return;
    }
    let reply: Promise<Uint8Array | null>;
    try {
      reply = handler.handle(request, { queue: q.index, replyCapacity: chain.writableLen });
    } catch (e) {
      reply = Promise.reject(e);
    }
    reply.then(
      (r) => { this.settled(); if (q.live) this.complete(q, chain, this.scatterReply(q, chain, r)); },
      (e) => {
        this.settled();
        this.log(`virtio-fs: queue ${q.index} chain ${head}: handler failed: ${errorText(e)}`);
        this.complete(q, chain, 0);
      });
  }

  /** A byte handler's reply into the chain; returns the bytes written. */
  private scatterReply(q: LiveQueue, chain: Chain, reply: Uint8Array | null): number {
    if (!reply || reply.length === 0) return 0;
    if (reply.length > chain.writableLen) {
      this.log(`virtio-fs: queue ${q.index} chain ${chain.head}: reply of ${reply.length} bytes cut to ${chain.writableLen}`);
    }
    try {
      return scatter(this.memory, chain.writable, reply);
    } catch (e) {
      // A reply buffer in an unmapped window range, say: the driver gets nothing.
      this.log(`virtio-fs: queue ${q.index} chain ${chain.head}: cannot write reply: ${errorText(e)}`);
      return 0;
    }
  }

  private complete(q: LiveQueue, chain: Chain, written: number): void {
    // A request from before a reset (or a queue stop) must not touch the new rings.
    if (!q.live) return;
    q.inFlight[chain.head] = 0;
    q.count--;
    try {
      q.dq.pushUsed(chain.head, written);
    } catch (e) {
      this.fail(`queue ${q.index}: ${errorText(e)}`);
      return;
    }
    // One interrupt decision for every completion of this turn.
    if (!q.interruptPending) {
      q.interruptPending = true;
      queueMicrotask(() => this.flushInterrupt(q));
    }
  }

  private flushInterrupt(q: LiveQueue): void {
    q.interruptPending = false;
    if (!q.live) return;
    let need: boolean;
    try {
      need = q.dq.needsInterrupt();
    } catch (e) {
      this.fail(`queue ${q.index}: ${errorText(e)}`);
      return;
    }
    if (need) this.sink.interrupt();
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
