// Fuzz targets: each takes arbitrary bytes and must neither throw nor break
// an invariant (a thrown Error is a crash). Seeds are valid inputs, so the
// mutations start from the formats' own shapes.
//
//   wire      the frame decoder (drivers/wire/frames.ts), fed in pieces
//   request   the device side's FUSE request decoder (tools/vmm/fuse/decode.ts)
//   reply     the guest side's FUSE reply decoder (fs/fuse/replies.ts)
//   vq        the virtqueue device half over hostile guest memory (drivers/virtqueue/device.ts)

import { BufferBacking, GuestMemory } from '../../core';
import { DeviceQueue, VirtqueueError, virtqLayout } from '../../drivers/virtqueue';
import * as W from '../../drivers/wire';
import * as K from '../../fs/fuse';
import { AnyRequest, decodeReply, encodeReply, encodeRequest, fuseName, Opcode } from '../../fs/fuse';
import { BufferRequest } from '../vmm/fuse';
import { decodeSource } from '../vmm/fuse/decode';

export interface FuzzTarget {
  readonly name: string;
  /** Throws on a crash. */
  run(data: Uint8Array): void;
  seeds(): Uint8Array[];
  /** Byte strings worth inserting (magic numbers, lengths, opcodes). */
  readonly dictionary: Uint8Array[];
}

const u32 = (v: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); return b; };
const u16 = (v: number): Uint8Array => { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v, true); return b; };
const enc = new TextEncoder();

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`invariant broken: ${what}`);
}

// ---- wire -----------------------------------------------------------------

const wire: FuzzTarget = {
  name: 'wire',
  run(data) {
    // The first byte picks how the stream is cut into pushes.
    const step = 1 + (data[0] ?? 0);
    const d = new W.FrameDecoder();
    let frames = 0;
    for (let at = 1; at < data.length; at += step) {
      d.push(data.subarray(at, Math.min(data.length, at + step)));
      for (let f = d.next(); f !== null; f = d.next()) {
        if (f instanceof W.WireProtocolError) return; // the connection would close here
        frames++;
        // Whatever decodes re-encodes to a frame that decodes the same.
        const again = new W.FrameDecoder();
        again.push(W.encodeFrame(f));
        const g = again.next();
        check(g !== null && !(g instanceof W.WireProtocolError) && g.type === f.type, `re-encode of ${W.frameTypeName(f.type)}`);
      }
      check(d.buffered <= W.MAX_FRAME_LENGTH + W.HEADER_SIZE + step, `decoder buffers ${d.buffered} bytes`);
    }
    void frames;
    d.end();
  },
  seeds: () => [
    W.encodeHello(enc.encode('token')), W.encodeWelcome({ version: 1, ram: { path: '/proc/1/fd/3', base: 0, size: 1 << 20 }, window: { base: 2 ** 40, len: 1 << 21 } }),
    W.encodeRefuse(13, 'bad token'), W.encodeRegRead(7, 0x70, 4), W.encodeRegValue(7, 0x1234), W.encodeRegWrite(0x70, 4, 1),
    W.encodeNotify(1), W.encodeInterrupt(1), W.encodeMap({ seq: 1, flags: 2, moffset: 0, len: 4096, foffset: 0, path: '/proc/1/fd/9' }),
    W.encodeUnmap(2, 0, 4096), W.encodeMapAck(1, 0), W.encodeGoodbye(0, 'bye'),
    W.encodeDoorbell(3, 1, { kick: '/proc/1/fd/10', call: '/proc/1/fd/11' }), W.encodeDoorbell(4, 1, null), W.encodeDoorbellAck(3, 0),
  ].map((f) => Uint8Array.of(255, ...f)),
  dictionary: [u32(W.WIRE_MAGIC), u16(1), ...Array.from({ length: 15 }, (_, i) => u16(i)), u32(W.MAX_FRAME_LENGTH), u32(2 ** 31)],
};

// ---- FUSE requests (device side) ----------------------------------------------

const name = fuseName('file.txt');
const REQUESTS: Pick<AnyRequest, 'opcode' | 'body'>[] = [
  { opcode: K.FUSE_INIT, body: { major: 7, minor: 36, max_readahead: 131072, flags: K.FUSE_INIT_EXT | K.FUSE_MAP_ALIGNMENT } },
  { opcode: K.FUSE_LOOKUP, body: { name } },
  { opcode: K.FUSE_GETATTR, body: { getattr_flags: 0, fh: 0n } },
  { opcode: K.FUSE_OPEN, body: { flags: 0, open_flags: 0 } },
  { opcode: K.FUSE_READ, body: { fh: 1n, offset: 0n, size: 4096, read_flags: 0, lock_owner: 0n, flags: 0 } },
  { opcode: K.FUSE_READDIRPLUS, body: { fh: 1n, offset: 0n, size: 4096, read_flags: 0, lock_owner: 0n, flags: 0 } },
  { opcode: K.FUSE_FORGET, body: { nlookup: 1n } },
  { opcode: K.FUSE_BATCH_FORGET, body: { forgets: [{ nodeid: 2n, nlookup: 1n }, { nodeid: 3n, nlookup: 2n }] } },
  { opcode: K.FUSE_SETUPMAPPING, body: { fh: 1n, foffset: 0n, len: 4096n, flags: 1n, moffset: 0n } },
  { opcode: K.FUSE_REMOVEMAPPING, body: { mappings: [{ moffset: 0n, len: 4096n }] } },
  { opcode: K.FUSE_SYMLINK, body: { name, link: fuseName('target') } },
  { opcode: K.FUSE_RENAME2, body: { newdir: 1n, flags: 0, name, newname: fuseName('b') } },
  { opcode: K.FUSE_SETXATTR, body: { size: 1, flags: 0, setxattr_flags: 0, name: fuseName('user.a'), value: Uint8Array.of(1) } },
] as Pick<AnyRequest, 'opcode' | 'body'>[];

const request: FuzzTarget = {
  name: 'request',
  run(data) {
    const d = decodeSource(new BufferRequest(data));
    if (!d.ok) {
      check(typeof d.reason === 'string' && d.errno > 0, 'a refusal names its errno and reason');
      return;
    }
    const req = d.value.req;
    check(typeof req.opcode === 'number' && typeof req.unique === 'bigint', 'a decoded header');
  },
  seeds: () => REQUESTS.flatMap((r) => {
    try { return [encodeRequest({ ...r, unique: 2n, nodeid: 1n, uid: 0, gid: 0, pid: 1 } as AnyRequest)]; } catch { return []; }
  }),
  dictionary: [u32(40), u32(K.FUSE_INIT), u32(K.FUSE_WRITE), u32(K.FUSE_READ), u32(K.FUSE_BATCH_FORGET), u32(0xffffffff), Uint8Array.of(0), enc.encode('..')],
};

// ---- FUSE replies (guest side) -------------------------------------------------

const OPCODES: Opcode[] = [K.FUSE_INIT, K.FUSE_LOOKUP, K.FUSE_GETATTR, K.FUSE_OPEN, K.FUSE_READ, K.FUSE_READDIR,
  K.FUSE_READDIRPLUS, K.FUSE_READLINK, K.FUSE_STATFS, K.FUSE_CREATE, K.FUSE_GETXATTR, K.FUSE_LISTXATTR, K.FUSE_GETLK,
  K.FUSE_LSEEK, K.FUSE_WRITE, K.FUSE_SETUPMAPPING, K.FUSE_DESTROY];

const reply: FuzzTarget = {
  name: 'reply',
  run(data) {
    if (data.length < 2) return;
    const opcode = OPCODES[data[0]! % OPCODES.length]!;
    const sizeProbe = (data[1]! & 1) === 1;
    const r = decodeReply(opcode, data.subarray(2), { sizeProbe });
    if (r.ok) check(typeof r.value.unique === 'bigint' && Number.isInteger(r.value.errno), 'a decoded reply');
    else check(typeof r.reason === 'string', 'a refusal has a reason');
  },
  seeds: () => {
    const out: Uint8Array[] = [];
    const attr: K.Attr = { ino: 2n, size: 5n, blocks: 1n, atime: 0n, mtime: 0n, ctime: 0n, atimensec: 0, mtimensec: 0, ctimensec: 0,
      mode: 0o100644, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 4096, flags: 0 };
    const entry = { nodeid: 2n, generation: 0n, entry_valid: 1n, attr_valid: 1n, entry_valid_nsec: 0, attr_valid_nsec: 0, attr };
    const bodies: [Opcode, unknown][] = [
      [K.FUSE_LOOKUP, entry], [K.FUSE_GETATTR, { attr_valid: 1n, attr_valid_nsec: 0, attr }],
      [K.FUSE_OPEN, { fh: 1n, open_flags: 0, backing_id: 0 }], [K.FUSE_READ, { data: Uint8Array.of(1, 2, 3) }],
      [K.FUSE_READLINK, { target: fuseName('t') }], [K.FUSE_DESTROY, null],
    ];
    for (const [op, body] of bodies) {
      try { out.push(Uint8Array.of(OPCODES.indexOf(op), 0, ...encodeReply(op, 2n, body as never))); } catch { /* shape drift: skip */ }
    }
    out.push(Uint8Array.of(1, 0, ...K.encodeOutHeader({ len: 16, error: -2, unique: 2n })));
    return out;
  },
  dictionary: [u32(16), u32(-2 >>> 0), u32(-4095 >>> 0), u32(0x80), u32(0xffffffff)],
};

// ---- the virtqueue device half -------------------------------------------------

const VQ_SIZE = 8;
const VQ_MEM = 64 * 1024;

const vq: FuzzTarget = {
  name: 'vq',
  run(data) {
    // Guest memory is the input (the driver's rings and tables, all hostile);
    // byte 0 picks the features, the layout is fixed at the start of memory.
    const mem = new GuestMemory();
    const ram = new BufferBacking(VQ_MEM);
    mem.addRegion('ram', 0, ram);
    ram.write(0, data.subarray(1, 1 + VQ_MEM));
    const layout = virtqLayout(VQ_SIZE);
    const flags = data[0] ?? 0;
    const q = new DeviceQueue(mem, {
      size: VQ_SIZE, desc: layout.descOffset, avail: layout.availOffset, used: layout.usedOffset,
      eventIdx: (flags & 1) !== 0, indirect: (flags & 2) !== 0,
    });
    // Every walk is bounded: at most 2 x size pops before the ring runs dry.
    for (let i = 0; i < 4 * VQ_SIZE; i++) {
      let c;
      try {
        c = q.pop();
      } catch (e) {
        if (!(e instanceof VirtqueueError)) throw e;
        if (e.kind === 'avail-idx') return;
        if (e.head !== undefined && e.head < VQ_SIZE) q.pushUsed(e.head, 0);
        continue;
      }
      if (!c) break;
      check(c.head < VQ_SIZE, 'head in range');
      // Addresses are checked when the buffers are accessed, not here; the
      // chain's sums and bounds are the device half's own.
      const sum = (vs: { len: number }[]) => vs.reduce((a, v) => a + v.len, 0);
      check(sum(c.readable) === c.readableLen && sum(c.writable) === c.writableLen, 'chain lengths add up');
      check(c.readable.length + c.writable.length <= VQ_SIZE + 0xffff, 'chain bounded');
      check([...c.readable, ...c.writable].every((v) => Number.isSafeInteger(v.base) && v.base >= 0), 'addresses are safe integers');
      q.pushUsed(c.head, Math.min(c.writableLen, 16));
    }
    q.setNotification(true);
    q.needsInterrupt();
  },
  seeds: () => {
    const layout = virtqLayout(VQ_SIZE);
    const m = new Uint8Array(1 + layout.totalSize + 8192);
    const v = new DataView(m.buffer, 1);
    // Two chains: [0 -> 1 (write)], [2 indirect -> table at 0x2000 with two entries].
    const desc = (i: number, addr: number, len: number, fl: number, next: number) => {
      v.setBigUint64(layout.descOffset + 16 * i, BigInt(addr), true); v.setUint32(layout.descOffset + 16 * i + 8, len, true);
      v.setUint16(layout.descOffset + 16 * i + 12, fl, true); v.setUint16(layout.descOffset + 16 * i + 14, next, true);
    };
    desc(0, 0x1000, 64, 1, 1); desc(1, 0x1100, 64, 2, 0); desc(2, 0x1800, 32, 4, 0);
    v.setBigUint64(0x1800, 0x1200n, true); v.setUint32(0x1808, 40, true); v.setUint16(0x180c, 1, true); v.setUint16(0x180e, 1, true);
    v.setBigUint64(0x1810, 0x1300n, true); v.setUint32(0x1818, 40, true); v.setUint16(0x181c, 2, true);
    v.setUint16(layout.availOffset + 2, 2, true); v.setUint16(layout.availOffset + 4, 0, true); v.setUint16(layout.availOffset + 6, 2, true);
    m[0] = 3;
    return [m, Uint8Array.of(0, ...m.subarray(1))];
  },
  dictionary: [u16(VQ_SIZE), u16(0xffff), u16(1), u16(2), u16(4), u16(3), u32(0x1000), u32(0xffffffff)],
};

export const TARGETS: readonly FuzzTarget[] = [wire, request, reply, vq];
