// The virtio-fs device's vhost-user backend: the guest's rings are handed to
// the real virtiofsd, which reads and writes them in the shared RAM file
// itself. Here only setup and notifications pass: SET_FEATURES and
// SET_MEM_TABLE when the device starts, SET_VRING_* per ready queue, a kick
// per guest notify, an interrupt per call signal, GET_VRING_BASE to stop.
//
// The device calls in synchronously; vhost-user is request/reply, so the
// messages run in order on one promise chain. Any failure on it, a lost
// socket or a dead daemon makes the backend broken: the sink is told once,
// and every later queueReady is refused the same way, so the device stays
// in DEVICE_NEEDS_RESET and the driver fails its requests instead of hanging.
//
// Doorbells: once a request queue is live, its kick and call FIFOs are
// offered to the guest (`handOver`, the wire's DOORBELL); once it accepts,
// it kicks and reads calls itself and our call reader is paused. A queue
// stop, a reset or a broken back-end takes them back first: our reader
// resumes, and the kicks the daemon never read are drained with the ring.

import type { VirtioFsBackend, VirtioFsDeviceSink, VirtioFsQueueSetup } from '../virtio-fs-device';
import { descTableSize, availRingSize, usedRingSize } from '../../../drivers/virtqueue';
import {
  VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
} from '../../../drivers/virtio';
import { VhostUserFrontend } from './frontend';
import { VringNotifiers } from './notifiers';
import { VHOST_USER_F_PROTOCOL_FEATURES, VhostUserError, bit } from './protocol';

export interface VhostUserBackendOptions {
  /** The guest RAM file (a RamFile's fd and size: a memfd or a /dev/shm file), at guest-physical 0. */
  ramFd: number;
  ramSize: number;
  /**
   * The "front-end user-space address" of RAM in SET_MEM_TABLE. Node maps
   * nothing, so any fixed value serves; ring addresses are this + gpa.
   */
  userspaceAddr?: bigint;
  /**
   * Offer a request queue's doorbells to the guest (bells), or take them
   * back (null); resolves with the guest's answer (0: it holds them now).
   * Absent: the device model keeps kick and call.
   */
  handOver?: (queue: number, bells: { kick: string; call: string } | null) => Promise<number>;
}

/** An arbitrary, recognisable base (QEMU's would be its mmap of the RAM). */
export const DEFAULT_USERSPACE_ADDR = 0x7f00_0000_0000n;

export class VhostUserBackend implements VirtioFsBackend {
  private readonly notifiers = new Map<number, VringNotifiers>();
  /** Queues whose SET_VRING_* went out since the last reset. */
  private readonly started = new Set<number>();
  private memTableSent = false;
  private chain: Promise<void> = Promise.resolve();
  private brokenReason: string | undefined;
  private closed = false;
  private readonly base: bigint;
  /** Request queues whose doorbells are offered or lent, by the generation of the offer. */
  private readonly offered = new Map<number, number>();
  private generation = 0;

  constructor(readonly frontend: VhostUserFrontend, private readonly sink: VirtioFsDeviceSink,
              private readonly options: VhostUserBackendOptions) {
    const { ramFd, ramSize } = options;
    if (!Number.isInteger(ramFd) || ramFd < 0) throw new RangeError(`vhost-user backend: bad RAM fd ${ramFd}`);
    if (!Number.isSafeInteger(ramSize) || ramSize <= 0) throw new RangeError(`vhost-user backend: bad RAM size ${ramSize}`);
    this.base = options.userspaceAddr ?? DEFAULT_USERSPACE_ADDR;
    frontend.onLost((reason) => this.fail(`vhost-user back-end lost: ${reason}`));
  }

  /** Why the backend stopped serving, or undefined while it serves. */
  get broken(): string | undefined { return this.brokenReason; }

  /** Resolves when every message queued so far has been answered (or failed). */
  settled(): Promise<void> { return this.chain; }

  queueReady(index: number, setup: VirtioFsQueueSetup): void {
    if (this.closed) return;
    if (this.brokenReason !== undefined) { this.sink.broken(this.brokenReason); return; }
    const fe = this.frontend;
    if (!Number.isInteger(index) || index < 0 || index >= fe.queueNum) {
      // virtiofsd exits when asked for a queue it does not serve: refuse here instead.
      this.fail(`queue ${index}: the vhost-user back-end serves ${fe.queueNum} queues ` +
        `(hiprio + ${fe.maxRequestQueues} request queue${fe.maxRequestQueues === 1 ? '' : 's'}); ` +
        `build the device with num-request-queues <= ${fe.maxRequestQueues}`);
      return;
    }
    const ramSize = this.options.ramSize;
    for (const [name, gpa, len] of [['desc', setup.desc, descTableSize(setup.size)],
      ['avail', setup.avail, availRingSize(setup.size)], ['used', setup.used, usedRingSize(setup.size)]] as const) {
      if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa + len > ramSize) {
        // The back-end only sees RAM: a ring elsewhere is the driver's error.
        this.sink.broken(`queue ${index}: ${name} ring [0x${gpa.toString(16)}, +${len}) is outside guest RAM`);
        return;
      }
    }
    let n: VringNotifiers;
    try {
      n = this.notifiersFor(index);
    } catch (e) {
      this.fail(`queue ${index}: ${(e as Error).message}`);
      return;
    }
    this.enqueue(async () => {
      const c = fe.conn;
      if (!this.memTableSent) {
        await c.setFeatures(this.featuresFor(setup));
        await c.setMemTable([{
          guestPhysAddr: 0n, memorySize: BigInt(ramSize), userspaceAddr: this.base, mmapOffset: 0n,
        }], [this.options.ramFd]);
        this.memTableSent = true;
      }
      await c.setVringNum({ index, num: setup.size });
      await c.setVringAddr({
        index, flags: 0, log: 0n,
        desc: this.base + BigInt(setup.desc), used: this.base + BigInt(setup.used), avail: this.base + BigInt(setup.avail),
      });
      await c.setVringBase({ index, num: 0 });
      await c.setVringCall(index, n.callFd);
      await c.setVringKick(index, n.kickFd);
      if (fe.hasProtocolFeatures) await c.setVringEnable({ index, num: 1 });
      this.started.add(index);
      // Buffers made available before the ring went live had their kicks dropped.
      n.kick();
      this.offer(index, n);
    });
  }

  notify(index: number): void {
    if (this.closed || this.brokenReason !== undefined) return;
    // Kicks before the setup is acked wait in the FIFO for the daemon.
    this.notifiers.get(index)?.kick();
  }

  queueStopped(index: number): void {
    if (this.closed || this.brokenReason !== undefined) return;
    this.enqueue(async () => { await this.stopRing(index); });
  }

  reset(): void {
    if (this.closed || this.brokenReason !== undefined) return;
    this.enqueue(async () => {
      for (const index of [...this.offered.keys()]) this.withdraw(index);
      for (const index of [...this.started]) await this.stopRing(index);
      this.memTableSent = false;
    });
  }

  /**
   * End the session; resolves once the daemon is gone and the files removed.
   * Messages not yet sent are dropped, but one awaiting its answer (the
   * GET_VRING_BASE of a stopping ring) is let finish, within the reply
   * timeout: closing the socket under it makes virtiofsd's reply fail with
   * EPIPE, and it exits with status 1 ("fv_panic: ... Broken pipe").
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.chain = this.chain.then(() => {
        for (const n of this.notifiers.values()) n.close();
        this.notifiers.clear();
        this.started.clear();
        return this.frontend.close();
      }).then(() => undefined);
    }
    return this.chain;
  }

  // --- internals -----------------------------------------------------------

  private notifiersFor(index: number): VringNotifiers {
    let n = this.notifiers.get(index);
    if (!n) {
      n = new VringNotifiers(this.frontend.dir, index, () => {
        if (!this.closed && this.brokenReason === undefined) this.sink.interrupt();
      });
      this.notifiers.set(index, n);
    }
    return n;
  }

  /** The guest's ring features, plus PROTOCOL_FEATURES, within what was offered. */
  private featuresFor(setup: VirtioFsQueueSetup): bigint {
    let f = bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES);
    if (setup.eventIdx) f |= bit(VIRTIO_RING_F_EVENT_IDX);
    if (setup.indirect) f |= bit(VIRTIO_RING_F_INDIRECT_DESC);
    return f & this.frontend.features;
  }

  /** Hand a live request queue's doorbells to the guest; lend them once it accepts. */
  private offer(index: number, n: VringNotifiers): void {
    const handOver = this.options.handOver;
    if (!handOver || index === 0) return; // hiprio stays here: FORGET and INTERRUPT are rare
    const g = ++this.generation;
    this.offered.set(index, g);
    handOver(index, n.links).then((status) => {
      if (status === 0 && this.offered.get(index) === g && !this.closed && this.brokenReason === undefined) n.lend();
    }, () => undefined); // a lost connection closes the backend
  }

  /** Take a queue's doorbells back: read its calls here again, tell the guest. */
  private withdraw(index: number): void {
    if (!this.offered.delete(index)) return;
    this.notifiers.get(index)?.takeBack();
    this.options.handOver?.(index, null).catch(() => undefined);
  }

  private async stopRing(index: number): Promise<void> {
    this.withdraw(index);
    if (!this.started.delete(index)) return;
    await this.frontend.conn.getVringBase(index);
    this.notifiers.get(index)?.drainKicks();
  }

  private enqueue(op: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.closed || this.brokenReason !== undefined) return;
      try {
        await op();
      } catch (e) {
        // A lost session is reported by onLost, with the daemon's status and stderr.
        if (this.closed || (e instanceof VhostUserError && e.kind === 'closed')) return;
        // Prefer the frontend's account (exit status, stderr) when the session is what failed.
        const lost = this.frontend.lost;
        this.fail(lost ? `vhost-user back-end lost: ${lost}` : (e as Error).message);
      }
    });
  }

  private fail(reason: string): void {
    if (this.closed || this.brokenReason !== undefined) return;
    this.brokenReason = reason;
    // DEVICE_NEEDS_RESET: the guest's kicks and interrupts go through the device model again.
    for (const index of [...this.offered.keys()]) this.withdraw(index);
    this.sink.broken(reason);
  }
}
