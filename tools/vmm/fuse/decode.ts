// A request decoded from its source: the head is read from guest memory
// once, and WRITE's data stays where it is (a WriteSource), so a 1 MiB
// WRITE is not gathered into a fresh buffer to be decoded.

import { Errno } from '../../../core';
import * as K from '../../../fs/fuse';
import { AnyRequest, Decoded, LeReader, decodeRequest, fuseWriteIn, readInHeader } from '../../../fs/fuse';
import type { RequestSource } from './chain';
import type { WriteSource } from './filesystem';
import { writeSource } from './sink';

/** fuse_in_header + fuse_write_in: what a WRITE needs before its data. */
const WRITE_HEAD = K.FUSE_IN_HEADER_SIZE + fuseWriteIn.size;

export interface DecodedSource {
  /** For WRITE, body.data is empty: the data is `data`. */
  req: AnyRequest;
  data?: WriteSource;
}

/** The opcode of a request head, or -1 when it is too short to say. */
export function peekOpcode(head: Uint8Array): number {
  return head.length >= 8 ? (head[4]! | head[5]! << 8 | head[6]! << 16 | head[7]! << 24) >>> 0 : -1;
}

/** Decodes the request in `src`; never throws. The failure carries the
 *  opcode (-1 when unreadable), so a no-reply opcode is never answered. */
export function decodeSource(src: RequestSource): Decoded<DecodedSource> & { opcode?: number } {
  const head = src.bytes(0, Math.min(src.length, WRITE_HEAD));
  const opcode = peekOpcode(head);
  if (opcode === K.FUSE_WRITE && head.length === WRITE_HEAD) return { ...decodeWriteHead(src, head), opcode };
  const d = decodeRequest(src.length === head.length ? head : src.bytes(0, src.length));
  return d.ok ? { ok: true, value: { req: d.value } } : { ...d, opcode };
}

const EMPTY = new Uint8Array(0);

/**
 * WRITE from its 80-byte head, with the checks the codec makes on a whole
 * one (len is the request's, extensions inside it, fuse_write_in.size the
 * data's length), fuse_write_in read by its table in fs/fuse
 * (tests/tools/fuse-chain.test.ts holds this equal to the codec's decoding
 * of the whole request).
 */
function decodeWriteHead(src: RequestSource, head: Uint8Array): Decoded<DecodedSource> {
  const h = readInHeader(new LeReader(head, Errno.EINVAL), 0);
  const fail = (reason: string): Decoded<DecodedSource> => ({ ok: false, errno: Errno.EINVAL, reason, unique: h.unique });
  if (h.len !== src.length) return fail(`fuse_in_header.len ${h.len} disagrees with the ${src.length}-byte buffer`);
  const extLen = h.total_extlen * 8;
  if (K.FUSE_IN_HEADER_SIZE + extLen > h.len) return fail(`total_extlen ${h.total_extlen} overruns the ${h.len}-byte request`);
  const end = h.len - extLen;
  if (end < WRITE_HEAD) return fail(`fuse_write_in: needs ${fuseWriteIn.size} bytes before the extensions`);
  const a = fuseWriteIn.read(new LeReader(head, Errno.EINVAL), K.FUSE_IN_HEADER_SIZE);
  const avail = end - WRITE_HEAD;
  if (a.size !== avail) return fail(`fuse_write_in.size ${a.size} disagrees with the ${avail} data bytes`);
  const req = {
    opcode: K.FUSE_WRITE, unique: h.unique, nodeid: h.nodeid, uid: h.uid, gid: h.gid, pid: h.pid,
    body: { fh: a.fh, offset: a.offset, write_flags: a.write_flags, lock_owner: a.lock_owner, flags: a.flags, data: EMPTY },
  } as AnyRequest;
  if (extLen > 0) req.ext = src.bytes(end, extLen);
  return { ok: true, value: { req, data: writeSource(src, WRITE_HEAD, avail) } };
}
