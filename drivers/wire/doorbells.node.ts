// The guest's doorbells: ioeventfd and irqfd, as KVM gives them to a
// vhost-user back-end. For each queue the device hands over (DOORBELL),
// QueueNotify becomes an 8-byte LE 1 written to the back-end's kick FIFO,
// and data on its call FIFO is that queue's used-buffer interrupt: guest ->
// back-end -> guest with no device-model hop. Both are opened only after
// the trust checks (peer-file.node.ts: the device model's own fds, FIFOs,
// O_NONBLOCK|O_NOCTTY); anything else is EPROTO naming what was wrong.

import * as fs from 'node:fs';
import * as net from 'node:net';
import { Errno, ErrnoError } from '../../core/errno';
import { openPeerFile } from './peer-file.node';
import type { WirePeer } from './peer.node';

/** What a kick is to a vhost-user back-end: an eventfd write of 1. */
const ONE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

interface Bell {
  kickFd: number;
  /** The one reader of the call FIFO while the guest holds it (the device model's reader is paused). */
  call: net.Socket;
}

export class GuestDoorbells {
  private readonly bells = new Map<number, Bell>();
  /** Kicks written to FIFOs and call signals read (batches), for tests and the bench. */
  kicks = 0;
  calls = 0;
  /** Hand-overs taken, and doorbells given back (take-back, reset, loss). */
  taken = 0;
  returned = 0;
  private readonly takenBy = new Map<number, number>();
  private waiters: { queue: number; nth: number; resolve(): void }[] = [];

  constructor(private readonly peer: WirePeer, private readonly onCall: (queue: number) => void) {}

  has(queue: number): boolean { return this.bells.has(queue); }

  /** The queues whose doorbells the guest holds. */
  get queues(): number[] { return [...this.bells.keys()]; }

  /** Resolves once the guest has taken queue `queue`'s `nth` hand-over (at once if it had). */
  held(queue: number, nth = 1): Promise<void> {
    if ((this.takenBy.get(queue) ?? 0) >= nth) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ queue, nth, resolve }));
  }

  /** Open queue `queue`'s kick and call FIFOs. Throws ErrnoError(EPROTO); on failure holds nothing new. */
  take(queue: number, kickPath: string, callPath: string): void {
    const kickFd = openPeerFile(this.peer, kickPath, { what: `DOORBELL kick of queue ${queue}`, kind: 'fifo', writable: true });
    let callFd: number;
    try {
      callFd = openPeerFile(this.peer, callPath, { what: `DOORBELL call of queue ${queue}`, kind: 'fifo', writable: false });
    } catch (e) {
      fs.closeSync(kickFd);
      throw e;
    }
    const k = fs.fstatSync(kickFd), c = fs.fstatSync(callFd);
    if (k.dev === c.dev && k.ino === c.ino) {
      fs.closeSync(kickFd);
      fs.closeSync(callFd);
      // The guest would read its own kicks as interrupts.
      throw new ErrnoError(Errno.EPROTO, `wire: DOORBELL of queue ${queue}: kick and call are the same FIFO`);
    }
    this.release(queue);
    const call = new net.Socket({ fd: callFd, readable: true, writable: false });
    call.on('data', () => { this.calls++; this.onCall(queue); });
    call.on('error', () => undefined); // closed under us at release(): nothing to report
    this.bells.set(queue, { kickFd, call });
    this.taken++;
    const n = (this.takenBy.get(queue) ?? 0) + 1;
    this.takenBy.set(queue, n);
    const due = (w: { queue: number; nth: number }) => w.queue === queue && w.nth <= n;
    const ready = this.waiters.filter(due);
    this.waiters = this.waiters.filter((w) => !due(w));
    for (const w of ready) w.resolve();
  }

  /** Ring queue `queue`'s kick doorbell; false when the guest holds none (send NOTIFY instead). */
  kick(queue: number): boolean {
    const b = this.bells.get(queue);
    if (!b) return false;
    try {
      fs.writeSync(b.kickFd, ONE);
    } catch (e) {
      // A full FIFO already holds a wake-up; any other failure: the register path.
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') { this.release(queue); return false; }
    }
    this.kicks++;
    return true;
  }

  /** Give queue `queue`'s doorbells back: stop reading calls, close both. */
  release(queue: number): void {
    const b = this.bells.get(queue);
    if (!b) return;
    this.bells.delete(queue);
    this.returned++;
    b.call.destroy();
    try { fs.closeSync(b.kickFd); } catch { /* already gone */ }
  }

  releaseAll(): void {
    for (const q of [...this.bells.keys()]) this.release(q);
  }
}
