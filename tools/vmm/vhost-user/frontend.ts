// One vhost-user session with a virtio-fs back-end, as QEMU's vhost-user-fs
// opens it before the guest exists: spawn virtiofsd (or attach to a socket
// someone else serves), then GET_FEATURES, protocol features (MQ and
// REPLY_ACK where offered), GET_QUEUE_NUM and SET_OWNER. The queue count is
// known here, before the device is built, so num-request-queues can be
// checked against it. A lost socket or daemon is reported once, with the
// daemon's exit status and the tail of its stderr.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VhostUserConnection, DEFAULT_REPLY_TIMEOUT_MS } from './connection';
import { VirtiofsdOptions, VirtiofsdProcess, within } from './daemon';
import {
  VhostUserError, VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_MQ, VHOST_USER_PROTOCOL_F_REPLY_ACK, bit,
} from './protocol';

export interface VhostUserStartOptions {
  /** Attach to a back-end someone else started (`--socket-path PATH`). */
  socketPath?: string;
  /** Otherwise spawn virtiofsd with these options. */
  daemon?: VirtiofsdOptions;
  /** Bound on each reply and on connect; default 5000 ms. */
  timeoutMs?: number;
}

/** Without MQ a vhost-user-fs back-end serves hiprio and one request queue. */
const QUEUES_WITHOUT_MQ = 2;

export class VhostUserFrontend {
  /** Virtio and vhost-user feature bits the back-end offered. */
  features = 0n;
  /** Protocol features in force (offered ∩ what we asked). */
  protocolFeatures = 0n;
  /** Queues the back-end serves: hiprio + request queues. */
  queueNum = QUEUES_WITHOUT_MQ;
  private lostListeners: ((reason: string) => void)[] = [];
  private lostReason: string | undefined;
  private closing: Promise<string | undefined> | undefined;

  private constructor(readonly conn: VhostUserConnection, readonly daemon: VirtiofsdProcess | undefined,
                      /** Private directory for FIFOs: the daemon's, or our own when attached. */
                      readonly dir: string) {}

  /** Spawn or attach, then negotiate. On failure nothing is left running. */
  static async start(o: VhostUserStartOptions): Promise<VhostUserFrontend> {
    if (!o.socketPath && !o.daemon) throw new VhostUserError('spawn', 'give a socketPath or daemon options');
    const timeoutMs = o.timeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    const daemon = o.socketPath ? undefined : await VirtiofsdProcess.start(o.daemon!);
    let conn: VhostUserConnection | undefined;
    let fe: VhostUserFrontend | undefined;
    try {
      // The daemon's socket file exists before it listens: retry refusals.
      conn = await VhostUserConnection.connectRetrying(o.socketPath ?? daemon!.socketPath, timeoutMs,
        () => (daemon?.status !== undefined ? `virtiofsd ended (${daemon.status})` : undefined), timeoutMs);
      const dir = daemon ? daemon.dir : fs.mkdtempSync(path.join(os.tmpdir(), 'vhost-user-'));
      fe = new VhostUserFrontend(conn, daemon, dir);
      fe.watch();
      await fe.negotiate();
      return fe;
    } catch (e) {
      let msg = (e instanceof Error ? e.message : String(e)).replace(/^vhost-user: /, '');
      if (daemon) {
        // A daemon that refused something exits: say how, and what it printed.
        const status = daemon.status ?? await within(daemon.whenExited, 500);
        if (status) msg += `; virtiofsd ${status}`;
        msg += daemon.stderrSuffix();
      }
      if (fe) await fe.close();
      else { conn?.close(); if (daemon) await daemon.stop(500); }
      throw new VhostUserError(e instanceof VhostUserError ? e.kind : 'spawn', msg);
    }
  }

  /** Request queues the back-end can serve (QEMU's num-request-queues bound). */
  get maxRequestQueues(): number { return this.queueNum - 1; }

  get hasProtocolFeatures(): boolean { return (this.features & bit(VHOST_USER_F_PROTOCOL_FEATURES)) !== 0n; }

  /** Throws a clear 'refused' error when a device wants more queues than the back-end serves. */
  checkRequestQueues(numRequestQueues: number): void {
    if (numRequestQueues > this.maxRequestQueues) {
      throw new VhostUserError('refused',
        `num-request-queues ${numRequestQueues}: the back-end serves ${this.queueNum} queues ` +
        `(hiprio + ${this.maxRequestQueues} request queue${this.maxRequestQueues === 1 ? '' : 's'})`);
    }
  }

  /** The reason the session was lost, or undefined while it lives. */
  get lost(): string | undefined { return this.lostReason; }

  /** Called once when the socket closes or the daemon exits, unless close() came first. */
  onLost(f: (reason: string) => void): void {
    if (this.lostReason !== undefined) f(this.lostReason);
    else this.lostListeners.push(f);
  }

  /**
   * End the session: close the socket (virtiofsd exits by itself), wait for
   * the daemon (bounded, then SIGKILL), remove the private directory.
   * Resolves with the daemon's exit status (undefined when attached).
   */
  close(): Promise<string | undefined> {
    if (!this.closing) {
      this.lostListeners = [];
      this.conn.close();
      this.closing = this.daemon
        ? this.daemon.stop()
        : Promise.resolve(fs.rmSync(this.dir, { recursive: true, force: true })).then(() => undefined);
    }
    return this.closing;
  }

  // --- internals -----------------------------------------------------------

  private async negotiate(): Promise<void> {
    const c = this.conn;
    this.features = await c.getFeatures();
    if (this.hasProtocolFeatures) {
      const offered = await c.getProtocolFeatures();
      const want = bit(VHOST_USER_PROTOCOL_F_MQ) | bit(VHOST_USER_PROTOCOL_F_REPLY_ACK);
      this.protocolFeatures = offered & want;
      await c.setProtocolFeatures(this.protocolFeatures);
      c.replyAck = (this.protocolFeatures & bit(VHOST_USER_PROTOCOL_F_REPLY_ACK)) !== 0n;
      if (this.protocolFeatures & bit(VHOST_USER_PROTOCOL_F_MQ)) this.queueNum = await c.getQueueNum();
    }
    if (this.queueNum < 2) {
      throw new VhostUserError('refused', `the back-end serves ${this.queueNum} queue: virtio-fs needs hiprio and a request queue`);
    }
    await c.setOwner();
  }

  private watch(): void {
    this.conn.onClose((e) => {
      if (this.closing) return;
      void this.reportLost(e.message);
    });
    void this.daemon?.whenExited.then((status) => {
      if (this.closing) return;
      void this.reportLost(`virtiofsd ended (${status})`);
    });
  }

  private async reportLost(first: string): Promise<void> {
    if (this.lostReason !== undefined) return;
    const d = this.daemon;
    let reason = first;
    if (d) {
      // The socket usually closes a moment before the exit is reaped: wait a little for the status.
      const status = d.status ?? await within(d.whenExited, 500);
      if (this.lostReason !== undefined || this.closing) return;
      if (!reason.includes('virtiofsd ended')) reason += `; virtiofsd ${status ?? 'still running'}`;
      reason += d.stderrSuffix();
    }
    this.lostReason = reason;
    this.conn.close();
    const ls = this.lostListeners;
    this.lostListeners = [];
    for (const f of ls) f(reason);
  }
}
