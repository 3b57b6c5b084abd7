// The unix stream socket to a vhost-user back-end, over the project's own
// calls (tools/native/src/unixsock.c): connect and sendmsg are synchronous,
// non-blocking syscalls on a plain fd, so nothing native outlives a call and
// no close or garbage collection can race one (the npm package usocket,
// used before, crashed on both). Node's net cannot pass file descriptors, so
// every write is a sendmsg, and nothing else writes. Reads go through a
// net.Socket over the same fd, readable only, which owns the fd and closes
// it. They are read(2): the replies to the requests this front-end sends
// carry no fds (only GET_INFLIGHT_FD and the back-end's own request channel
// do, and neither is negotiated), and an fd arriving anyway is dropped by
// the kernel, never installed here (a read has no room for SCM_RIGHTS).

import * as fs from 'node:fs';
import * as net from 'node:net';
import { hostcalls, hostcallsMissing } from '../../native/hostcalls.node';
import { VhostUserError } from './protocol';

const NEEDS = "the vhost-user backend needs the project's native addon (tools/native)";
const BUILD = 'npm rebuild virtiofs-dax (npm run build in a checkout)';

/** Why this host cannot open the vhost-user socket (one line naming the
 *  fix), or undefined when it can. Only vhost-user needs the addon's socket
 *  calls; the passthrough runs without them. */
export function vhostUserAddonMissing(): string | undefined {
  if (typeof hostcalls?.sendmsg === 'function') return undefined;
  if (process.env.VIRTIOFS_NO_ADDON) return `${NEEDS}, disabled here: VIRTIOFS_NO_ADDON is set; unset it`;
  if (hostcalls) return `${NEEDS}, built here before its socket calls existed; rebuild it: ${BUILD}`;
  if (hostcallsMissing?.includes('was not built')) {
    return `${NEEDS}, not built here: install g++, make and python3, then run ${BUILD}`;
  }
  return `${NEEDS}, not built here: it does not load (${hostcallsMissing}); rebuild it: ${BUILD}`;
}

/** "ECONNREFUSED (Connection refused)" from an addon's errno error. */
function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const text = String((e as Error).message ?? e).replace(/^\w+: /, '');
  return code && code !== 'EINVAL' ? `${code} (${text})` : text;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Waits while the peer's backlog or our socket is full: short, growing, bounded by a deadline. */
const nextDelay = (ms: number): number => Math.min(16, ms * 2);

export class VhostUserSocket {
  private endListener: ((why: string) => void) | undefined;
  private ended = false;

  private constructor(private readonly fd: number, private readonly reader: net.Socket, readonly path: string) {
    reader.on('error', (e) => this.end(`socket ${path}: ${e.message}`));
    reader.on('end', () => this.end(`socket ${path} closed by the back-end`));
    reader.on('close', () => this.end(`socket ${path} closed by the back-end`));
  }

  /** Connect, retrying while the listener's backlog is full, up to
   *  `timeoutMs` ('timeout'); any other failure (ECONNREFUSED, ENOENT...)
   *  rejects at once ('closed'). */
  static async connect(path: string, timeoutMs: number): Promise<VhostUserSocket> {
    const why = vhostUserAddonMissing();
    if (why) throw new VhostUserError('closed', why);
    const until = Date.now() + timeoutMs;
    for (let delay = 1; ; delay = nextDelay(delay)) {
      let fd: number;
      try {
        fd = hostcalls!.unixConnect(Buffer.from(path));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
          throw new VhostUserError('closed', `connect to ${path}: ${errnoText(e)}`);
        }
        if (Date.now() >= until) {
          throw new VhostUserError('timeout', `connect to ${path}: no answer in ${timeoutMs} ms (its backlog is full)`);
        }
        await sleep(Math.min(delay, Math.max(1, until - Date.now())));
        continue;
      }
      let reader: net.Socket;
      try {
        reader = new net.Socket({ fd, readable: true, writable: false });
      } catch (e) {
        fs.closeSync(fd); // not a socket net takes: ours still, so closed here
        throw new VhostUserError('closed', `connect to ${path}: ${(e as Error).message}`);
      }
      return new VhostUserSocket(fd, reader, path);
    }
  }

  /** Every chunk the back-end sends. */
  onData(f: (chunk: Buffer) => void): void { this.reader.on('data', f); }

  /** Called once, when the back-end ends the connection (EOF, an error); not after close(). */
  onEnd(f: (why: string) => void): void { this.endListener = f; }

  /** Closed by close() or by the back-end: the fd is gone (and its number may be another file's now). */
  get closed(): boolean { return this.reader.destroyed; }

  /**
   * Send `data`, the fds with its first byte. A full socket is waited on
   * (until the back-end reads again) for up to `timeoutMs`, then rejects
   * with 'timeout'; a closed or failed socket rejects with 'closed'.
   * Sends are not queued here: the caller sends one message at a time.
   */
  async send(data: Buffer, fds: readonly number[], timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let sent = 0;
    for (let delay = 1; sent < data.length;) {
      // The fd is the reader's: once it is destroyed the number is not ours.
      if (this.closed) throw new VhostUserError('closed', `socket ${this.path} is closed`);
      let n: number;
      try {
        n = hostcalls!.sendmsg(this.fd, sent ? data.subarray(sent) : data, sent ? [] : fds);
      } catch (e) {
        throw new VhostUserError('closed', `socket ${this.path}: ${errnoText(e)}`);
      }
      if (n > 0) { sent += n; delay = 1; continue; }
      if (Date.now() >= until) {
        throw new VhostUserError('timeout', `socket ${this.path} full: the back-end read nothing in ${timeoutMs} ms`);
      }
      await sleep(delay);
      delay = nextDelay(delay);
    }
  }

  /** Close the fd: the back-end sees EOF. No end listener is called. */
  close(): void {
    this.ended = true;
    this.reader.destroy();
  }

  private end(why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.reader.destroy();
    this.endListener?.(why);
  }
}
