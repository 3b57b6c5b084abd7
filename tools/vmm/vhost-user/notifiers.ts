// Kick and call for one vring without eventfd (Node has none): two named
// FIFOs. virtiofsd gets an O_RDWR fd of each and uses them as eventfds
// (8-byte reads and writes). Our own ends are separate open file
// descriptions, so making ours non-blocking leaves the daemon's blocking.

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
  private readonly callReader: net.Socket;
  private closed = false;

  /** `onCall` runs once per batch of call signals read. */
  constructor(dir: string, index: number, onCall: () => void) {
    this.kickPath = path.join(dir, `kick-${index}`);
    this.callPath = path.join(dir, `call-${index}`);
    const { O_RDWR, O_WRONLY, O_RDONLY, O_NONBLOCK } = fs.constants;
    const opened: number[] = [];
    try {
      mkfifo(this.kickPath);
      mkfifo(this.callPath);
      this.kickFd = fs.openSync(this.kickPath, O_RDWR); opened.push(this.kickFd);
      this.kickWriteFd = fs.openSync(this.kickPath, O_WRONLY | O_NONBLOCK); opened.push(this.kickWriteFd);
      this.callFd = fs.openSync(this.callPath, O_RDWR); opened.push(this.callFd);
      const callReadFd = fs.openSync(this.callPath, O_RDONLY | O_NONBLOCK); opened.push(callReadFd);
      // Always reading: the daemon's writes block once 64 KiB of signals pile up.
      this.callReader = new net.Socket({ fd: callReadFd, readable: true, writable: false });
    } catch (e) {
      for (const fd of opened) fs.closeSync(fd);
      fs.rmSync(this.kickPath, { force: true });
      fs.rmSync(this.callPath, { force: true });
      throw e;
    }
    this.callReader.on('data', () => { if (!this.closed) onCall(); });
    this.callReader.on('error', () => undefined); // closed under us at close(): nothing to report
  }

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
    this.callReader.destroy();
    for (const fd of [this.kickFd, this.kickWriteFd, this.callFd]) {
      try { fs.closeSync(fd); } catch { /* already gone */ }
    }
    fs.rmSync(this.kickPath, { force: true });
    fs.rmSync(this.callPath, { force: true });
  }
}
