import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  decodeFrame, encodeFrame, encodeHello, encodeRegRead, encodeRegWrite, Frame, FrameDecoder, FrameType,
  MAX_FRAME_LENGTH, WIRE_MAGIC, WIRE_VERSION, WireProtocolError, WireErrorKind,
} from '../../drivers/wire/frames';
import { formatWireAddress, parseWireAddress } from '../../drivers/wire/address';

const t = suite('wire-frames');

const samples: Frame[] = [
  { type: FrameType.Hello, magic: WIRE_MAGIC, version: WIRE_VERSION, token: new Uint8Array([1, 2, 3, 250]) },
  { type: FrameType.Hello, magic: WIRE_MAGIC, version: WIRE_VERSION, token: new Uint8Array(0) },
  { type: FrameType.Welcome, version: 1, ram: { path: '/dev/shm/vm-ram-é', base: 0, size: 2 ** 30 }, window: { base: 2 ** 40, len: 2 ** 33 } },
  { type: FrameType.Welcome, version: 1, ram: { path: '', base: 0, size: 4096 }, window: null },
  { type: FrameType.Refuse, code: 13, reason: 'bad access token' },
  { type: FrameType.RegRead, id: 0xffffffff, offset: 0x100, width: 1 },
  { type: FrameType.RegRead, id: 7, offset: 0x70, width: 4 },
  { type: FrameType.RegValue, id: 7, value: 0xdeadbeef },
  { type: FrameType.RegWrite, offset: 0x70, width: 2, value: 0xffff },
  { type: FrameType.Notify, queue: 3 },
  { type: FrameType.Interrupt, bits: 1 },
  { type: FrameType.Map, seq: 9, flags: 3, moffset: 2 ** 21, len: 2 ** 21, foffset: Number.MAX_SAFE_INTEGER - 5, path: '/proc/123/fd/7' },
  { type: FrameType.Unmap, seq: 10, moffset: 0, len: 2 ** 34 },
  { type: FrameType.MapAck, seq: 10, status: 0 },
  { type: FrameType.Goodbye, code: 0, reason: '' },
  { type: FrameType.Doorbell, seq: 3, queue: 1, handover: true, kick: '/proc/12/fd/30', call: '/proc/12/fd/31' },
  { type: FrameType.Doorbell, seq: 4, queue: 1, handover: false, kick: '', call: '' },
  { type: FrameType.DoorbellAck, seq: 4, status: 95 },
];

t('every type round-trips through encodeFrame/decodeFrame', () => {
  for (const f of samples) {
    const bytes = encodeFrame(f);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    assert.is(dv.getUint32(0, true), bytes.length - 4, 'length counts what follows it');
    assert.is(dv.getUint16(4, true), f.type);
    assert.is(dv.getUint16(6, true), 0);
    assert.equal(decodeFrame(bytes), f);
  }
});

t('byte layout of REG_READ and HELLO is the documented one', () => {
  assert.equal([...encodeRegRead(0x01020304, 0x70, 4)],
    [16, 0, 0, 0, 4, 0, 0, 0, 4, 3, 2, 1, 0x70, 0, 0, 0, 4, 0, 0, 0]);
  assert.equal([...encodeHello(new Uint8Array([0xaa]))],
    [13, 0, 0, 0, 1, 0, 0, 0, 0x56, 0x46, 0x53, 0x57, 1, 0, 1, 0, 0xaa]);
});

t('encoders reject out-of-range fields', () => {
  assert.throws(() => encodeRegRead(1, 0, 3 as 4), RangeError);
  assert.throws(() => encodeRegWrite(0, 1, 256), RangeError);
  assert.throws(() => encodeRegWrite(-1, 4, 0), RangeError);
  assert.throws(() => encodeFrame({ type: FrameType.Map, seq: 1, flags: 4, moffset: 0, len: 1, foffset: 0, path: '' }), RangeError);
  assert.throws(() => encodeFrame({ type: FrameType.Unmap, seq: 1, moffset: 2 ** 53, len: 1 }), RangeError);
});

function raw(length: number, type: number, payload: number[] = [], reserved = 0): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, length, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, reserved, true);
  b.set(payload, 8);
  return b;
}

function errorOf(bytes: Uint8Array): WireProtocolError {
  const d = new FrameDecoder();
  d.push(bytes);
  const r = d.next() ?? d.end();
  assert.ok(r instanceof WireProtocolError, `expected an error, got ${JSON.stringify(r)}`);
  assert.is(r.errno, 71, 'EPROTO');
  return r;
}

t('malformed frames give typed errors', () => {
  const cases: [Uint8Array, WireErrorKind][] = [
    [raw(MAX_FRAME_LENGTH + 1, FrameType.Notify), 'oversized'],
    [raw(3, FrameType.Notify), 'undersized'],
    [raw(8, 99, [0, 0, 0, 0]), 'unknown-type'],
    [raw(8, FrameType.Notify, [0, 0, 0, 0], 1), 'bad-field'],
    [raw(7, FrameType.Notify, [0, 0, 0]), 'bad-size'],
    [raw(12, FrameType.MapAck, [0, 0, 0, 0, 0, 0, 0, 0]).subarray(0, 15), 'truncated'],
    [raw(16, FrameType.RegRead, [1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]), 'bad-field'],
    [raw(16, FrameType.RegRead, [1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 9, 0]), 'bad-field'],
    [raw(16, FrameType.RegWrite, [0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0]), 'bad-field'],
    [raw(13, FrameType.Hello, [0x56, 0x46, 0x53, 0x57, 1, 0, 2, 0, 0xaa]), 'bad-size'],
    [raw(28, FrameType.Unmap, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 1, 0, 0, 0, 0, 0, 0, 0]), 'bad-field'],
    [raw(37, FrameType.Map, [...new Array(32).fill(0), 0xff]), 'bad-field'],
  ];
  for (const [bytes, kind] of cases) assert.is(errorOf(bytes).kind, kind, `kind for ${[...bytes.subarray(0, 8)]}`);
});

t('an oversized length is rejected from the header alone', () => {
  const d = new FrameDecoder();
  d.push(raw(0xffffffff, FrameType.Map).subarray(0, 8));
  const r = d.next();
  assert.ok(r instanceof WireProtocolError && r.kind === 'oversized');
  d.push(new Uint8Array(100));
  assert.is(d.next(), r, 'the decoder stays failed');
});

t('a frame split into single bytes, and many frames in one chunk', () => {
  const big: Frame = { type: FrameType.Map, seq: 1, flags: 2, moffset: 0, len: 4096, foffset: 0, path: 'p'.repeat(4096) };
  const d = new FrameDecoder();
  const bytes = encodeFrame(big);
  for (let i = 0; i < bytes.length; i++) {
    d.push(bytes.subarray(i, i + 1));
    const r = d.next();
    if (i < bytes.length - 1) assert.is(r, null);
    else assert.equal(r, big);
  }
  const many = 20000;
  const one = encodeRegRead(5, 0x70, 4);
  const chunk = new Uint8Array(one.length * many);
  for (let i = 0; i < many; i++) chunk.set(one, i * one.length);
  d.push(chunk);
  let n = 0;
  for (let r = d.next(); r !== null; r = d.next()) {
    assert.ok(!(r instanceof WireProtocolError));
    n++;
  }
  assert.is(n, many);
  assert.is(d.buffered, 0);
  assert.is(d.end(), null);
});

const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const width = fc.constantFrom<1 | 2 | 4>(1, 2, 4);
const text = (max: number) => fc.string({ maxLength: max });
const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ type: fc.constant(1 as const), magic: u32, version: fc.nat({ max: 0xffff }), token: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({
    type: fc.constant(2 as const), version: fc.nat({ max: 0xffff }),
    ram: fc.record({ path: text(40), base: fc.nat({ max: 2 ** 40 }), size: fc.nat({ max: 2 ** 40 }) }),
    window: fc.option(fc.record({ base: fc.nat({ max: 2 ** 50 }), len: fc.nat({ max: 2 ** 40 }) })),
  }),
  fc.record({ type: fc.constantFrom(3 as const, 12 as const), code: u32, reason: text(40) }),
  fc.record({ type: fc.constant(4 as const), id: u32, offset: u32, width }),
  fc.record({ type: fc.constant(5 as const), id: u32, value: u32 }),
  width.chain((w) => fc.record({ type: fc.constant(6 as const), offset: u32, width: fc.constant(w), value: fc.nat({ max: 2 ** (8 * w) - 1 }) })),
  fc.record({ type: fc.constant(7 as const), queue: u32 }),
  fc.record({ type: fc.constant(8 as const), bits: u32 }),
  fc.record({ type: fc.constant(9 as const), seq: u32, flags: fc.nat({ max: 3 }), moffset: u64, len: u64, foffset: u64, path: text(40) }),
  fc.record({ type: fc.constant(10 as const), seq: u32, moffset: u64, len: u64 }),
  fc.record({ type: fc.constant(11 as const), seq: u32, status: u32 }),
) as fc.Arbitrary<Frame>;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

t('property: any chunking of a frame stream decodes to the same frames', () => {
  fc.assert(fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
    const stream = concat(frames.map(encodeFrame));
    const points = [...new Set(cuts.map((c) => (stream.length ? c % stream.length : 0)))].sort((a, b) => a - b);
    const d = new FrameDecoder();
    const out: Frame[] = [];
    let prev = 0;
    for (const p of [...points, stream.length]) {
      d.push(stream.subarray(prev, p));
      prev = p;
      for (let r = d.next(); r !== null; r = d.next()) {
        if (r instanceof WireProtocolError) throw r;
        out.push(r);
      }
    }
    assert.equal(out, structuredClone(frames)); // plain prototypes, as the decoder makes
    assert.is(d.end(), null);
  }), { numRuns: 300 });
});

t('property: random bytes in random chunks never throw and always terminate', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat({ max: 40 }), { maxLength: 10 }), (bytes, sizes) => {
    const d = new FrameDecoder();
    let at = 0;
    let steps = 0;
    for (const s of [...sizes, bytes.length]) {
      d.push(bytes.subarray(at, at + s));
      at += s;
      for (let r = d.next(); r !== null && !(r instanceof WireProtocolError); r = d.next()) {
        assert.ok(++steps < 1000, 'decoder loops');
      }
    }
    const e = d.end();
    assert.ok(e === null || e instanceof WireProtocolError);
  }), { numRuns: 500 });
});

t('property: a valid frame with corrupted bytes decodes or errors, never throws', () => {
  fc.assert(fc.property(frameArb, fc.nat(), fc.nat({ max: 255 }), (f, at, v) => {
    const b = encodeFrame(f).slice();
    b[at % b.length] = v;
    const r = decodeFrame(b);
    assert.ok(r instanceof WireProtocolError || typeof r.type === 'number');
  }), { numRuns: 500 });
});

t('wire addresses parse and format', () => {
  assert.equal(parseWireAddress('tcp:127.0.0.1:0'), { kind: 'tcp', host: '127.0.0.1', port: 0 });
  assert.equal(parseWireAddress('tcp://[::1]:5555'), { kind: 'tcp', host: '::1', port: 5555 });
  assert.equal(parseWireAddress('unix:/tmp/x.sock'), { kind: 'unix', path: '/tmp/x.sock' });
  assert.is(formatWireAddress(parseWireAddress('tcp:[::1]:9')), 'tcp://[::1]:9');
  assert.is(formatWireAddress(parseWireAddress('unix:///tmp/a')), 'unix:///tmp/a');
  for (const bad of ['tcp:host', 'tcp:1.2.3.4:70000', 'udp:1:2', 'unix:', 'tcp::1:5']) {
    assert.throws(() => parseWireAddress(bad), RangeError, bad);
  }
});

t.run();
