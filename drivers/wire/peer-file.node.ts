// Opening a file the device model names (guest RAM, a window mapping's
// host file, a doorbell FIFO) only when it is verifiably one of the device
// model's own open files, of the expected kind, and never blocking:
//
// 1. The path must be exactly /proc/<pid>/fd/<n>, and <pid> the process at
//    the other end of this connection (WirePeer). O_NOFOLLOW cannot be used
//    on such a magic link (open fails with ELOOP), so the shape is the check:
//    no other link is on the way.
// 2. The peer's own open mode of fd n (/proc/<pid>/fdinfo/<n> "flags") must
//    allow what we will do: we never write a file the peer could not write
//    itself, whatever our own rights on it are.
// 3. stat through the link (opens nothing) must show the expected type (and
//    size, for RAM); only then open with O_NONBLOCK|O_NOCTTY, and fstat the
//    fd: the same (dev, ino) and type, before the first byte moves.
// Anything else is EPROTO with a message naming what was wrong.

import * as fs from 'node:fs';
import { Errno, ErrnoError } from '../../core/errno';
import type { WirePeer } from './peer.node';

export interface PeerFileWant {
  /** What the file is for, in messages ("guest RAM", "MAP seq 3"). */
  what: string;
  kind: 'file' | 'fifo';
  writable: boolean;
  /** Exact size the file must have (guest RAM). */
  size?: number;
}

const PROC_FD = /^\/proc\/([1-9][0-9]{0,9})\/fd\/(0|[1-9][0-9]{0,9})$/;
const O_ACCMODE = 3;

function refuse(want: PeerFileWant, why: string): never {
  throw new ErrnoError(Errno.EPROTO, `wire: ${want.what}: ${why}`);
}

function kindOk(st: fs.Stats, kind: PeerFileWant['kind']): boolean {
  return kind === 'file' ? st.isFile() : st.isFIFO();
}

/** The fd of the verified file; the caller owns it. Throws ErrnoError(EPROTO). */
export function openPeerFile(peer: WirePeer, path: string, want: PeerFileWant): number {
  const m = PROC_FD.exec(path);
  if (!m) refuse(want, `path ${JSON.stringify(path)} is not /proc/<pid>/fd/<n> of the device model`);
  const pid = Number(m[1]);
  const why = peer.whyNotPeer(pid);
  if (why) refuse(want, `${path}: ${why}`);
  let flags: number;
  try {
    const info = fs.readFileSync(`/proc/${pid}/fdinfo/${m[2]}`, 'utf8');
    const f = /^flags:\s+([0-7]+)$/m.exec(info);
    if (!f) refuse(want, `${path}: no flags in its fdinfo`);
    flags = parseInt(f[1]!, 8);
  } catch (e) {
    if (e instanceof ErrnoError) throw e;
    refuse(want, `${path}: ${(e as Error).message}`);
  }
  const acc = flags & O_ACCMODE;
  const peerReads = acc === fs.constants.O_RDONLY || acc === fs.constants.O_RDWR;
  const peerWrites = acc === fs.constants.O_WRONLY || acc === fs.constants.O_RDWR;
  if (!peerReads || (want.writable && !peerWrites)) {
    refuse(want, `${path}: the device model holds it ${peerWrites ? 'write-only' : 'read-only'}`);
  }
  let before: fs.Stats;
  try { before = fs.statSync(path); } catch (e) { refuse(want, `${path}: ${(e as Error).message}`); }
  if (!kindOk(before, want.kind)) refuse(want, `${path} is not a ${want.kind === 'file' ? 'regular file' : 'FIFO'}`);
  if (want.size !== undefined && before.size !== want.size) refuse(want, `${path} has ${before.size} bytes, not ${want.size}`);
  const { O_RDONLY, O_RDWR, O_NONBLOCK, O_NOCTTY } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(path, (want.writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOCTTY);
  } catch (e) {
    refuse(want, `cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    // The peer may have put another file at fd n since the stat.
    if (st.dev !== before.dev || st.ino !== before.ino || !kindOk(st, want.kind)) refuse(want, `${path} changed while it was opened`);
    if (want.size !== undefined && st.size !== want.size) refuse(want, `${path} has ${st.size} bytes, not ${want.size}`);
    return fd;
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}
