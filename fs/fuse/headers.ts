// fuse_in_header (40 bytes) and fuse_out_header (16 bytes): their checks.

import { Errno } from '../../core/errno';
import { Decoded, guard } from './decoded';
import { FUSE_MAX_ERRNO } from './kernel';
import { FUSE_IN_HEADER_SIZE, FUSE_OUT_HEADER_SIZE, InHeader, OutHeader, fuseInHeader, fuseOutHeader } from './structs';
import { LeReader, LeWriter } from './wire';

export function writeInHeader(w: LeWriter, off: number, h: InHeader): void {
  fuseInHeader.write(w, off, h);
}

/** Reads the header without judging it; `need` is checked. */
export function readInHeader(r: LeReader, off: number): InHeader {
  r.need(off, FUSE_IN_HEADER_SIZE, 'fuse_in_header');
  return fuseInHeader.read(r, off);
}

/** Reads and checks a request header: its len must be the buffer's length. */
export function checkedInHeader(r: LeReader): InHeader {
  const h = readInHeader(r, 0);
  if (h.len !== r.length) r.fail(`fuse_in_header.len ${h.len} disagrees with the ${r.length}-byte buffer`);
  if (FUSE_IN_HEADER_SIZE + h.total_extlen * 8 > h.len) {
    r.fail(`total_extlen ${h.total_extlen} overruns the ${h.len}-byte request`);
  }
  return h;
}

export function decodeInHeader(bytes: Uint8Array): Decoded<InHeader> {
  return guard(() => checkedInHeader(new LeReader(bytes, Errno.EINVAL)));
}

export function writeOutHeader(w: LeWriter, off: number, h: OutHeader): void {
  fuseOutHeader.write(w, off, h);
}

/** A 16-byte fuse_out_header, e.g. to put in front of data placed elsewhere. */
export function encodeOutHeader(h: OutHeader): Uint8Array {
  const w = LeWriter.alloc(FUSE_OUT_HEADER_SIZE);
  writeOutHeader(w, 0, h);
  return w.bytes;
}

/** Reads and checks a reply header: len matches, error within [-4095, 0],
 *  and an error reply carries no body. */
export function checkedOutHeader(r: LeReader): OutHeader {
  r.need(0, FUSE_OUT_HEADER_SIZE, 'fuse_out_header');
  const h = fuseOutHeader.read(r, 0);
  if (h.len !== r.length) r.fail(`fuse_out_header.len ${h.len} disagrees with the ${r.length}-byte buffer`);
  if (h.error > 0 || h.error < -FUSE_MAX_ERRNO) r.fail(`fuse_out_header.error ${h.error} is not 0 or a negated errno`);
  if (h.error !== 0 && h.len !== FUSE_OUT_HEADER_SIZE) r.fail(`error reply (${h.error}) carries a ${h.len - FUSE_OUT_HEADER_SIZE}-byte body`);
  return h;
}

export function decodeOutHeader(bytes: Uint8Array): Decoded<OutHeader> {
  return guard(() => checkedOutHeader(new LeReader(bytes, Errno.EPROTO)));
}
