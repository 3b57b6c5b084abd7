// Who is at the other end of the guest's wire connection, found from /proc
// (Node exposes neither SO_PEERCRED nor fd passing on net sockets):
//
// - before HELLO (the token goes out with it): the listener must be owned
//   by the expected user. Loopback TCP: the server side's row in
//   /proc/net/tcp{,6} (local = our remote, remote = our local) carries the
//   socket's uid, set when the listener was made and inherited by the
//   accepted socket. Unix: the socket file's owner, who bound it.
// - after WELCOME: the process named by a path /proc/<pid>/fd/<n> must hold
//   the server side of this very connection (TCP: that row's inode; unix:
//   a connected socket on our path, which only the listener's process gets)
//   as an fd of its own. Only then is one of its fds opened (peer-file.node.ts).

import * as fs from 'node:fs';
import * as net from 'node:net';
import type { WireAddress } from './address';

export interface TcpRow { local: string; remote: string; uid: number; inode: number }

/** "127.0.0.1:80" style endpoint from /proc/net/tcp hex ("0100007F:0050"). */
function decodeEndpoint(hex: string, v6: boolean): string | undefined {
  const [a, p] = hex.split(':');
  if (!a || !p) return undefined;
  const port = parseInt(p, 16);
  const words = a.match(/.{8}/g) ?? [];
  // Each 32-bit word is in host (little-endian) order.
  const bytes = words.flatMap((w) => [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)].map((b) => parseInt(b, 16)));
  if (!v6) return bytes.length === 4 ? `${bytes.join('.')}:${port}` : undefined;
  if (bytes.length !== 16) return undefined;
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `${bytes.slice(12).join('.')}:${port}`; // v4-mapped: compare as v4
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return `${normalizeHost(groups.join(':'))}:${port}`;
}

/** One spelling per address: v4-mapped v6 as v4, v6 compressed by net's rules. */
export function normalizeHost(host: string): string {
  const h = host.startsWith('::ffff:') && net.isIPv4(host.slice(7)) ? host.slice(7) : host;
  if (!net.isIPv6(h)) return h;
  // Expand, then print each group without leading zeros: a stable form.
  const [head, tail] = h.split('::');
  const a = head ? head.split(':') : [];
  const b = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - a.length - b.length).fill('0');
  return [...a, ...fill, ...b].map((g) => parseInt(g, 16).toString(16)).join(':');
}

/** The rows of /proc/net/tcp and tcp6 (empty where unreadable). */
export function tcpRows(procNet = '/proc/net'): TcpRow[] {
  const out: TcpRow[] = [];
  for (const [file, v6] of [['tcp', false], ['tcp6', true]] as const) {
    let text: string;
    try { text = fs.readFileSync(`${procNet}/${file}`, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = decodeEndpoint(f[1]!, v6);
      const remote = decodeEndpoint(f[2]!, v6);
      if (!local || !remote) continue;
      out.push({ local, remote, uid: Number(f[7]), inode: Number(f[9]) });
    }
  }
  return out;
}

/** The device's end of our TCP connection, if it is on this host. */
export function tcpServerSide(socket: net.Socket, rows = tcpRows()): TcpRow | undefined {
  const ours = `${normalizeHost(socket.localAddress ?? '')}:${socket.localPort}`;
  const theirs = `${normalizeHost(socket.remoteAddress ?? '')}:${socket.remotePort}`;
  return rows.find((r) => r.local === theirs && r.remote === ours);
}

/** Inodes of the connected sockets bound to `path` in /proc/net/unix: the
 *  accepted ends of connections to that listener (a client's end has no path). */
export function unixServerInodes(path: string, procNet = '/proc/net'): Set<number> {
  const out = new Set<number>();
  let text: string;
  try { text = fs.readFileSync(`${procNet}/unix`, 'utf8'); } catch { return out; }
  for (const line of text.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f.slice(7).join(' ') !== path) continue;
    const listening = (parseInt(f[3]!, 16) & 0x10000) !== 0; // __SO_ACCEPTCON
    if (!listening && f[5] === '03') out.add(Number(f[6]));
  }
  return out;
}

/** Whether process `pid` has one of `inodes` open as a socket fd. */
export function holdsSocket(pid: number, inodes: ReadonlySet<number>): boolean {
  let fds: string[];
  try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { return false; }
  for (const fd of fds) {
    let link: string;
    try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m && inodes.has(Number(m[1]))) return true;
  }
  return false;
}

export function isLoopbackHost(host: string): boolean {
  const h = normalizeHost(host);
  return h === '0:0:0:0:0:0:0:1' || (net.isIPv4(h) && h.startsWith('127.')) || host === 'localhost';
}

/** The peer as the guest knows it: checked before HELLO, asked after WELCOME. */
export class WirePeer {
  private verifiedPid: number | undefined;

  constructor(readonly address: WireAddress, private readonly socket: net.Socket, readonly expectUid: number) {}

  /** Why the token must not go to this listener, or undefined when it may. */
  checkBeforeHello(): string | undefined {
    const a = this.address;
    if (a.kind === 'unix') {
      let st: fs.Stats;
      try { st = fs.lstatSync(a.path); } catch (e) { return `cannot stat ${a.path}: ${(e as Error).message}`; }
      if (!st.isSocket()) return `${a.path} is not a socket`;
      if (st.uid !== this.expectUid) return `${a.path} is owned by uid ${st.uid}, not ${this.expectUid}`;
      return undefined;
    }
    const row = tcpServerSide(this.socket);
    if (!row) {
      // A device on another host cannot be checked here (nor can it share RAM).
      return isLoopbackHost(this.socket.remoteAddress ?? '') ? 'the device end of the loopback connection is not in /proc/net/tcp' : undefined;
    }
    if (row.uid !== this.expectUid) return `the listener on ${row.local} belongs to uid ${row.uid}, not ${this.expectUid}`;
    return undefined;
  }

  /** Why process `pid` is not the device model at the other end, or undefined. */
  whyNotPeer(pid: number): string | undefined {
    if (this.verifiedPid === pid) return undefined;
    let uid: number;
    try { uid = fs.statSync(`/proc/${pid}`).uid; } catch { return `process ${pid} does not exist`; }
    if (uid !== this.expectUid) return `process ${pid} belongs to uid ${uid}, not ${this.expectUid}`;
    let inodes: Set<number>;
    if (this.address.kind === 'unix') inodes = unixServerInodes(this.address.path);
    else {
      const row = tcpServerSide(this.socket);
      inodes = new Set(row && row.inode !== 0 ? [row.inode] : []);
    }
    if (inodes.size === 0) return 'the device end of the connection is not visible in /proc/net';
    if (!holdsSocket(pid, inodes)) return `process ${pid} does not hold the device end of this connection`;
    this.verifiedPid = pid;
    return undefined;
  }
}
