// Kick and call for one vring without eventfd (Node has none): two named
// FIFOs. virtiofsd gets an O_RDWR fd of each and uses them as eventfds
// (8-byte reads and writes). Our own ends are separate open file
// descriptions, so making ours non-blocking leaves the daemon's blocking.
// The pair can be lent to the guest (ioeventfd/irqfd): it opens them by
// /proc/<our pid>/fd/<n>, and while it holds them our call reader is closed
// (not paused: a paused socket still reads ahead into its buffer, taking
// the guest's signals), so that one process at a time reads the call FIFO.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

const ONE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

function mkfifo(file: string): void {
  const r = spawnSync('mkfifo', ['-m', '600', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfifo ${file}: ${r.error?.message ?? r.stderr.trim()}`);
}

export class VringNotifiers {
  readonly kickPath: string;
  readonly callPath: string;
  /** The fds sent in SET_VRING_KICK / SET_VRING_CALL. */
  readonly kickFd: number;
  readonly callFd: number;
  private readonly kickWriteFd: number;
  private callReader: net.Socket | null = null;
  private readonly onCall: () => void;
  private closed = false;
  private lent = false;

  /** `onCall` runs once per batch of call signals read. */
  constructor(dir: string, index: number, onCall: () => void) {
    this.kickPath = path.join(dir, `kick-${index}`);
    this.callPath = path.join(dir, `call-${index}`);
    const { O_RDWR, O_WRONLY, O_NONBLOCK } = fs.constants;
    const opened: number[] = [];
    try {
      mkfifo(this.kickPath);
      mkfifo(this.callPath);
      this.kickFd = fs.openSync(this.kickPath, O_RDWR); opened.push(this.kickFd);
      this.kickWriteFd = fs.openSync(this.kickPath, O_WRONLY | O_NONBLOCK); opened.push(this.kickWriteFd);
      this.callFd = fs.openSync(this.callPath, O_RDWR); opened.push(this.callFd);
    } catch (e) {
      for (const fd of opened) fs.closeSync(fd);
      fs.rmSync(this.kickPath, { force: true });
      fs.rmSync(this.callPath, { force: true });
      throw e;
    }
    this.onCall = onCall;
    try {
      this.openReader();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Always reading, here or in the guest: the daemon's writes block once 64 KiB of signals pile up. */
  private openReader(): void {
    const fd = fs.openSync(this.callPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const r = new net.Socket({ fd, readable: true, writable: false });
    r.on('data', () => { if (!this.closed && this.callReader === r) this.onCall(); });
    r.on('error', () => undefined); // closed under us at close(): nothing to report
    this.callReader = r;
  }

  /** The kick and call FIFOs as this process's fds (read-write both), for the guest to open. */
  get links(): { kick: string; call: string } {
    return { kick: `/proc/${process.pid}/fd/${this.kickFd}`, call: `/proc/${process.pid}/fd/${this.callFd}` };
  }

  /** The guest reads the call FIFO now: stop reading it here. */
  lend(): void {
    if (this.closed || this.lent) return;
    this.lent = true;
    this.callReader?.destroy();
    this.callReader = null;
  }

  /** The guest gave the call FIFO back (or is gone): read it again. */
  takeBack(): void {
    if (this.closed || !this.lent) return;
    this.lent = false;
    this.openReader(); // what the guest left unread is still in the FIFO
  }

  get isLent(): boolean { return this.lent; }

  /** Wake the daemon's queue thread. A full FIFO already holds a wake-up. */
  kick(): void {
    if (this.closed) return;
    try {
      fs.writeSync(this.kickWriteFd, ONE);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }

  /** Drop kicks the daemon never read (a stopped ring), so a restart starts clean. */
  drainKicks(): void {
    const scratch = new Uint8Array(4096);
    const fd = fs.openSync(this.kickPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      for (let i = 0; i < 64; i++) {
        try {
          if (fs.readSync(fd, scratch) <= 0) break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw e;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.callReader?.destroy();
    this.callReader = null;
    for (const fd of [this.kickFd, this.kickWriteFd, this.callFd]) {
      try { fs.closeSync(fd); } catch { /* already gone */ }
    }
    fs.rmSync(this.kickPath, { force: true });
    fs.rmSync(this.callPath, { force: true });
  }
}
