// The virtio-fs driver (virtio 1.2 §5.11), as OSv's drivers/virtio-fs.cc and
// Linux's fs/fuse/virtio_fs.c: probe over virtio-mmio, the hiprio queue and
// request queues, shared-memory region 0 (the DAX window, OSv's get_dax())
// and the map alignment FUSE_INIT negotiated (OSv's get_map_alignment()),
// and sending FUSE requests as opaque bytes. Many requests are in flight and
// complete out of order; a full queue makes callers wait in FIFO order, never
// fail. The device is untrusted: a bad used entry fails its request (or its
// queue) with EIO, a device that needs reset or a lost transport fails
// everything with EIO at once, and nothing ever hangs on them.

import { Errno, ErrnoError } from '../../core/errno';
import { U32_MAX } from '../../core/bits';
import type { Log } from '../../core/log';
import type { GuestMemory } from '../../core/memory';
import type { MmioTransport } from '../transport';
import { MmioDriver } from '../virtio-mmio/driver';
import { VIRTIO_MMIO_INT_CONFIG } from '../virtio-mmio/registers';
import { VIRTIO_RING_F_INDIRECT_DESC, hasFeature } from '../virtio/features';
import { VIRTIO_ID_FS } from '../virtio/ids';
import {
  VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FAILED, describeStatus,
} from '../virtio/status';
import { Iovec, RingAllocator, VirtqueueError, alignUp } from '../virtqueue';
import {
  VIRTIO_FS_CONFIG_NUM_REQUEST_QUEUES, VIRTIO_FS_CONFIG_TAG,
  VIRTIO_FS_SHMCAP_ID_CACHE, VIRTIO_FS_TAG_SIZE, decodeTag,
} from './config';
import type { SharedMemoryRegion } from '../virtio/shm';
import { BusyPoller, type BusyPollStats } from './busy-poll';
import { pickQueue, setupQueues, type FsQueue, type Pending } from './fs-queue';
import {
  VirtioFsProbeError, resolveOptions, type NegotiatedInit, type RequestOptions, type VirtioFsDriverOptions,
} from './options';

export {
  VIRTIO_FS_DRIVER_FEATURES, VirtioFsProbeError,
  type NegotiatedInit, type RequestOptions, type VirtioFsDriverOptions,
} from './options';

const BUF_ALIGN = 8;
const EMPTY = new Uint8Array(0);

export class VirtioFsDriver {
  readonly mmio: MmioDriver;
  /** The negotiated features. */
  readonly features: bigint;
  readonly tag: string;
  /** num_request_queues as the device reports it. */
  readonly numRequestQueues: number;
  /** Request queues in use (queues 1..requestQueues). */
  readonly requestQueues: number;
  private readonly queues: FsQueue[];
  private readonly dax: SharedMemoryRegion | undefined;
  private readonly indirect: boolean;
  private readonly log: Log;
  private init: NegotiatedInit | undefined;
  private rr = 0;
  private dead: ErrnoError | undefined;
  private closing: Promise<void> | undefined;
  private transportLost = false;
  private irqRunning = false;
  private irqAgain = false;
  /** Requests not settled yet (waiting ones included), and those of them in the rings. */
  private unsettled = 0;
  private issued = 0;
  private readonly poller: BusyPoller | undefined;

  private constructor(mmio: MmioDriver, private readonly memory: GuestMemory,
                      private readonly allocator: RingAllocator, init: {
                        features: bigint; tag: string; numRequestQueues: number;
                        queues: FsQueue[]; dax: SharedMemoryRegion | undefined; log: (m: string) => void;
                        poller: BusyPoller | undefined;
                      }) {
    this.mmio = mmio;
    this.features = init.features;
    this.tag = init.tag;
    this.numRequestQueues = init.numRequestQueues;
    this.queues = init.queues;
    this.requestQueues = init.queues.length - 1;
    this.dax = init.dax;
    this.log = init.log;
    this.poller = init.poller;
    this.indirect = hasFeature(init.features, VIRTIO_RING_F_INDIRECT_DESC);
  }

  /**
   * Initialise the device behind `transport` (virtio 1.2 §3.1.1) and return
   * a driver ready for requests. Rings and request buffers come from
   * `allocator`, in `memory`. On failure the device is left FAILED and
   * everything allocated is freed.
   */
  static async probe(transport: MmioTransport, memory: GuestMemory, allocator: RingAllocator,
                     options: VirtioFsDriverOptions = {}): Promise<VirtioFsDriver> {
    const { requestQueues, queueSize, features: wanted, log, busyPollUs, busyPollAdaptive } = resolveOptions(options);
    const mmio = new MmioDriver(transport);
    await mmio.probe(VIRTIO_ID_FS);
    await mmio.reset();
    const rings: number[] = [];
    try {
      mmio.setStatus(VIRTIO_STATUS_ACKNOWLEDGE);
      mmio.setStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
      const features = await mmio.negotiate(wanted);

      const tag = decodeTag(await mmio.readConfigBytes(VIRTIO_FS_CONFIG_TAG, VIRTIO_FS_TAG_SIZE));
      const numRequestQueues = await mmio.readConfig32(VIRTIO_FS_CONFIG_NUM_REQUEST_QUEUES);
      if (numRequestQueues < 1) throw new VirtioFsProbeError('the device offers no request queue');

      const queues = await setupQueues(mmio, memory, allocator, {
        features, numRequestQueues, requestQueues, queueSize, log,
      }, rings);

      const dax = await mmio.sharedMemoryRegion(VIRTIO_FS_SHMCAP_ID_CACHE);
      if (dax && (dax.len === 0 || !Number.isSafeInteger(dax.base + dax.len))) {
        throw new VirtioFsProbeError(`bad cache window base 0x${dax.base.toString(16)} len ${dax.len}`);
      }
      const poller = busyPollUs > 0 && transport.concurrent ? new BusyPoller(busyPollUs, busyPollAdaptive) : undefined;
      const drv = new VirtioFsDriver(mmio, memory, allocator, { features, tag, numRequestQueues, queues, dax, log, poller });
      // A transport that delivers InterruptStatus with each interrupt (the
      // wire's INTERRUPT frame) spares a register round trip per interrupt.
      transport.onInterrupt((status) => drv.interrupt(status ?? -1));
      transport.onClose((reason) => { drv.transportLost = true; drv.fail(`transport closed: ${reason.message}`); });
      const status = await mmio.addStatus(VIRTIO_STATUS_DRIVER_OK);
      if (!(status & VIRTIO_STATUS_DRIVER_OK) || (status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
        drv.fail('device refused DRIVER_OK');
        throw new VirtioFsProbeError(`DRIVER_OK not accepted (Status reads ${describeStatus(status)})`);
      }
      return drv;
    } catch (e) {
      try { mmio.setStatus(VIRTIO_STATUS_FAILED); } catch { /* transport gone */ }
      for (const r of rings) allocator.free(r);
      throw e;
    }
  }

  /** The DAX cache window (shared-memory region 0), as OSv's get_dax(); undefined without one. */
  getDax(): SharedMemoryRegion | undefined {
    return this.dax ? { base: this.dax.base, len: this.dax.len } : undefined;
  }

  /** log2 of the map alignment FUSE_INIT negotiated, as OSv's
   *  get_map_alignment(); undefined before FUSE_INIT and after FUSE_DESTROY. */
  getMapAlignment(): number | undefined { return this.init?.mapAlignment; }

  /** What busy-polling did (undefined when it is off). */
  get busyPoll(): Readonly<BusyPollStats> | undefined { return this.poller?.stats; }

  /** The filesystem hands over what FUSE_INIT negotiated (undefined once it
   *  sent FUSE_DESTROY). OSv's vfsops call set_map_alignment() there. */
  attachInit(init: NegotiatedInit | undefined): void { this.init = init; }

  /** Requests sent and not yet answered (waiting for room included). */
  get pending(): number { return this.unsettled; }

  /** Why the driver stopped (device needs reset, transport lost, closed); undefined while alive. */
  get failure(): ErrnoError | undefined { return this.dead; }

  /** Requests sent on the request queues (the caches' tests count them). */
  requestsSent = 0;

  /**
   * Send `bytes` (a whole FUSE request) and resolve with the reply: the
   * `used.len` bytes the device wrote into a `replyCapacity`-byte buffer.
   * Rejects only with ErrnoError (EIO, ENOMEM, EINVAL).
   */
  request(bytes: Uint8Array, replyCapacity: number, opts?: RequestOptions): Promise<Uint8Array> {
    this.requestsSent++;
    if (this.dead) return Promise.reject(this.dead);
    if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > U32_MAX) {
      return Promise.reject(new ErrnoError(Errno.EINVAL, 'virtio-fs: empty or oversized request'));
    }
    if (!Number.isInteger(replyCapacity) || replyCapacity < 0 || bytes.length + replyCapacity > U32_MAX) {
      return Promise.reject(new ErrnoError(Errno.EINVAL, `virtio-fs: bad reply capacity ${replyCapacity}`));
    }
    const picked = pickQueue(this.queues, this.rr, opts, replyCapacity > 0 && !this.indirect ? 2 : 1);
    this.rr = picked.rr;
    const q = picked.q;
    if (q instanceof ErrnoError) return Promise.reject(q);
    return new Promise<Uint8Array>((resolve, reject) => {
      const p: Pending = { bytes, capacity: replyCapacity, buf: -1, replyAt: 0, resolve, reject };
      this.unsettled++;
      if (q.waiting.length === 0 && this.issue(q, p)) return;
      // It waits: keep our own copy, the caller may reuse its array.
      p.bytes = bytes.slice();
      q.waiting.push(p);
    });
  }

  /** A request with no reply (FORGET on hiprio); resolves once the device used it. */
  async send(bytes: Uint8Array, opts?: RequestOptions): Promise<void> {
    await this.request(bytes, 0, opts);
  }

  /** Reset the device, fail whatever is in flight with EIO and free every allocation. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutdown();
    return this.closing;
  }

  // --- internals -----------------------------------------------------------

  private async shutdown(): Promise<void> {
    const err = new ErrnoError(Errno.EIO, 'virtio-fs: driver closed');
    if (!this.dead) this.dead = err;
    // Reset first: after it the device writes no buffer we are about to free.
    if (!this.transportLost) {
      try { await this.mmio.reset(); } catch (e) { this.log(`virtio-fs: reset on close failed: ${String(e)}`); }
    }
    this.failAll(this.dead);
    for (const q of this.queues) this.allocator.free(q.ring);
    this.queues.length = 0;
  }

  /** Put `p` on `q`. False: no room (descriptors or memory) now, wait. True: added or failed. */
  private issue(q: FsQueue, p: Pending): boolean {
    if (q.dq.numFree === 0) return false;
    const reqLen = p.bytes.length;
    const replyOff = alignUp(reqLen, BUF_ALIGN);
    let buf: number;
    try {
      buf = this.allocator.alloc(replyOff + p.capacity, BUF_ALIGN);
    } catch (e) {
      // Requests in flight will free memory; with none, this one never fits.
      if (this.issued > 0) return false;
      this.finish(p, new ErrnoError(Errno.ENOMEM, `virtio-fs: no guest memory for a ${reqLen}+${p.capacity}-byte request`));
      return true;
    }
    const readable: Iovec[] = [{ base: buf, len: reqLen }];
    const writable: Iovec[] = p.capacity > 0 ? [{ base: buf + replyOff, len: p.capacity }] : [];
    try {
      this.memory.write(buf, p.bytes);
      q.dq.add(readable, writable, p);
    } catch (e) {
      this.allocator.free(buf);
      if (e instanceof VirtqueueError && e.kind === 'no-room') return false;
      this.finish(p, new ErrnoError(Errno.EIO, `virtio-fs: cannot queue request: ${errText(e)}`));
      return true;
    }
    p.buf = buf;
    p.replyAt = buf + replyOff;
    this.issued++;
    p.bytes = EMPTY;
    this.scheduleKick(q);
    return true;
  }

  /** One publish and at most one kick for every request added in this turn. */
  private scheduleKick(q: FsQueue): void {
    if (q.kickScheduled) return;
    q.kickScheduled = true;
    queueMicrotask(() => {
      q.kickScheduled = false;
      if (this.dead || q.broken) return;
      if (q.dq.kickNeeded()) this.mmio.notify(q.index);
      if (!this.poller || !q.pollable) return;
      this.mmio.transport.flush?.(); // the notify must be out before we spin
      if (this.poller.poll(() => q.dq.hasUsed())) this.harvestAll();
    });
  }

  /** Settle `p`: free its buffer, resolve with the reply or reject. */
  private finish(p: Pending, result: Uint8Array | Error): void {
    if (p.buf >= 0) { this.allocator.free(p.buf); p.buf = -1; this.issued--; }
    this.unsettled--;
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  private complete(p: Pending, len: number): void {
    let reply: Uint8Array | Error;
    try {
      reply = len === 0 ? new Uint8Array(0) : this.memory.read(p.replyAt, len);
    } catch (e) {
      reply = new ErrnoError(Errno.EIO, `virtio-fs: cannot read reply: ${errText(e)}`);
    }
    this.finish(p, reply);
  }

  /** bits: InterruptStatus as the interrupt carried it, -1 if unknown. */
  private interrupt(bits = -1): void {
    if (this.dead) return;
    // Harvest at once (no round trip first).
    this.harvestAll();
    if (bits >= 0 && !(bits & VIRTIO_MMIO_INT_CONFIG)) {
      // The bits came with the interrupt and the device raises again for
      // every later completion, so a posted ACK is enough: what completes
      // after this harvest comes with its own interrupt.
      if (bits !== 0 && !this.dead) this.mmio.ackInterrupt(bits);
      return;
    }
    // Unknown bits or a config change: read InterruptStatus, handle a config
    // change and harvest again for what came meanwhile.
    if (this.irqRunning) { this.irqAgain = true; return; }
    this.irqRunning = true;
    void this.serviceInterrupt().finally(() => { this.irqRunning = false; });
  }

  private async serviceInterrupt(): Promise<void> {
    do {
      this.irqAgain = false;
      let bits: number;
      try {
        bits = await this.mmio.takeInterrupt();
        if (this.dead) return;
        if (bits & VIRTIO_MMIO_INT_CONFIG) {
          const status = await this.mmio.getStatus();
          if (this.dead) return;
          if (status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
            this.fail('device needs reset');
            return;
          }
        }
      } catch (e) {
        // The transport failed a read: its close notice fails everything.
        this.log(`virtio-fs: interrupt status: ${errText(e)}`);
        return;
      }
      this.harvestAll();
    } while (this.irqAgain && !this.dead);
  }

  private harvestAll(): void {
    // harvest() reads used.idx itself: no hasUsed() before it (one guest
    // memory access fewer per queue, a syscall when RAM is a shared file).
    for (const q of this.queues) if (!q.broken) this.harvest(q);
    if (this.dead) return;
    // Completions freed descriptors and memory: let waiters in, oldest first.
    for (const q of this.queues) this.pump(q);
  }

  private harvest(q: FsQueue): void {
    // Each round consumes at least one used entry; the ring holds at most size.
    for (let round = 0; round <= q.dq.size + 1 && !this.dead && !q.broken; round++) {
      let done;
      try {
        done = q.dq.harvest();
      } catch (e) {
        if (e instanceof VirtqueueError && e.kind === 'used-len') {
          this.log(`virtio-fs: queue ${q.index}: ${e.message}`);
          this.finish(e.token as Pending, new ErrnoError(Errno.EIO, 'virtio-fs: reply longer than its buffer'));
          continue;
        }
        if (e instanceof VirtqueueError && e.kind === 'used-id') {
          // Like Linux's BAD_RING: the request it meant is unknowable, so the queue is done for.
          this.log(`virtio-fs: queue ${q.index}: ${e.message}; queue marked broken`);
          this.breakQueue(q, new ErrnoError(Errno.EIO, `virtio-fs: queue ${q.index} broken by the device`));
          return;
        }
        this.fail(`queue ${q.index}: ${errText(e)}`);
        return;
      }
      // Nothing taken: used_event did not move, so no re-check is due.
      if (done.length === 0) return;
      for (const c of done) this.complete(c.token, c.len);
      if (!q.dq.hasUsed()) return;
    }
  }

  private pump(q: FsQueue): void {
    while (q.waiting.length > 0 && !q.broken) {
      if (!this.issue(q, q.waiting.peek()!)) return;
      q.waiting.shift();
    }
  }

  private breakQueue(q: FsQueue, err: ErrnoError): void {
    q.broken = true;
    for (const p of q.dq.detachAll()) this.finish(p, err);
    for (let p = q.waiting.shift(); p; p = q.waiting.shift()) this.finish(p, err);
  }

  /** The device or its transport is gone: everything fails with EIO, now and later. */
  private fail(reason: string): void {
    if (this.dead) return;
    this.log(`virtio-fs: ${reason}`);
    this.dead = new ErrnoError(Errno.EIO, `virtio-fs: ${reason}`);
    this.failAll(this.dead);
  }

  private failAll(err: ErrnoError): void {
    for (const q of this.queues) this.breakQueue(q, err);
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
