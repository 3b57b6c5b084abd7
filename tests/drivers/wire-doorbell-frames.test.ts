import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeFrame, encodeDoorbell, encodeDoorbellAck, FrameDecoder, FrameType, MAX_PATH, WireProtocolError,
} from '../../drivers/wire/frames';

// DOORBELL and DOORBELL_ACK (docs/PROTOCOL.md): layout, and what the decoder refuses.
const t = suite('wire-doorbell-frames');

function doorbell(seq: number, queue: number, flags: number, kick: Uint8Array, call: Uint8Array,
                  lens: [number, number] = [kick.length, call.length]): Uint8Array {
  const b = new Uint8Array(24 + kick.length + call.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, b.length - 4, true);
  dv.setUint16(4, FrameType.Doorbell, true);
  dv.setUint32(8, seq, true);
  dv.setUint32(12, queue, true);
  dv.setUint32(16, flags, true);
  dv.setUint16(20, lens[0], true);
  dv.setUint16(22, lens[1], true);
  b.set(kick, 24);
  b.set(call, 24 + kick.length);
  return b;
}
const bytes = (s: string) => new TextEncoder().encode(s);

function errorOf(b: Uint8Array): string {
  const d = new FrameDecoder();
  d.push(b);
  const r = d.next();
  assert.ok(r instanceof WireProtocolError, `expected an error, got ${JSON.stringify(r)}`);
  assert.is(r.errno, 71, 'EPROTO');
  return r.message;
}

t('DOORBELL hand-over: the documented layout, decoded back', () => {
  const b = encodeDoorbell(0x01020304, 1, { kick: '/k', call: '/cc' });
  assert.equal([...b], [...doorbell(0x01020304, 1, 1, bytes('/k'), bytes('/cc'))]);
  assert.equal([...b.subarray(0, 8)], [25, 0, 0, 0, 13, 0, 0, 0]);
  assert.equal(decodeFrame(b), { type: FrameType.Doorbell, seq: 0x01020304, queue: 1, handover: true, kick: '/k', call: '/cc' });
});

t('DOORBELL take-back carries no paths; DOORBELL_ACK is seq and status', () => {
  const b = encodeDoorbell(9, 2, null);
  assert.is(b.length, 24);
  assert.equal(decodeFrame(b), { type: FrameType.Doorbell, seq: 9, queue: 2, handover: false, kick: '', call: '' });
  assert.equal([...encodeDoorbellAck(9, 95)], [12, 0, 0, 0, 14, 0, 0, 0, 9, 0, 0, 0, 95, 0, 0, 0]);
  assert.equal(decodeFrame(encodeDoorbellAck(9, 0)), { type: FrameType.DoorbellAck, seq: 9, status: 0 });
});

t('the decoder refuses a malformed DOORBELL, naming the rule', () => {
  const k = bytes('/proc/1/fd/3'), c = bytes('/proc/1/fd/4');
  assert.match(errorOf(doorbell(1, 1, 3, k, c)), /unknown flags 0x3/);
  assert.match(errorOf(doorbell(1, 1, 1, k, c, [k.length + 1, c.length])), /path lengths/);
  assert.match(errorOf(doorbell(1, 1, 1, new Uint8Array(0), c)), /hand-over without both paths/);
  assert.match(errorOf(doorbell(1, 1, 1, k, new Uint8Array(0))), /hand-over without both paths/);
  assert.match(errorOf(doorbell(1, 1, 0, k, c)), /take-back with paths/);
  assert.match(errorOf(doorbell(1, 1, 1, new Uint8Array([0xff, 0xfe]), c)), /not UTF-8/);
  const long = new Uint8Array(MAX_PATH + 1).fill(0x61);
  assert.match(errorOf(doorbell(1, 1, 1, long, c)), /above 4096/);
  // Too short for its fixed part.
  const short = doorbell(1, 1, 0, new Uint8Array(0), new Uint8Array(0)).subarray(0, 20);
  new DataView(short.buffer).setUint32(0, 16, true);
  assert.match(errorOf(short), /payload of 12 bytes/);
});

t('the encoder refuses what the decoder would', () => {
  assert.throws(() => encodeDoorbell(1, 1, { kick: '', call: '/c' }), RangeError);
  assert.throws(() => encodeDoorbell(1, -1, null), RangeError);
  assert.throws(() => encodeDoorbell(1, 1, { kick: 'x'.repeat(MAX_PATH + 1), call: '/c' }), RangeError);
  assert.throws(() => encodeDoorbellAck(2 ** 32, 0), RangeError);
});

t.run();
