// The vhost-user message codec: requests byte for byte as the spec lays
// them out, replies checked before use (short, oversized, wrong request,
// wrong version, missing reply flag, wrong payload size).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  VHOST_USER_HDR_SIZE, VHOST_USER_MAX_REPLY_PAYLOAD, VHOST_USER_NEED_REPLY_MASK, VHOST_USER_REPLY_MASK,
  VhostUserError, VhostUserRequest as R, checkReply, decodeReplyHeader, decodeU64Reply, decodeVringStateReply,
  encodeMemTable, encodeMessage, encodeU64, encodeVringAddr, encodeVringFile, encodeVringState,
} from '../../tools/vmm/vhost-user/protocol';

const t = suite('vhost-user protocol');

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** A reply as a back-end sends it. */
function reply(request: number, payload: Uint8Array, flags = 0x1 | VHOST_USER_REPLY_MASK, size = payload.length): Uint8Array {
  const out = new Uint8Array(VHOST_USER_HDR_SIZE + payload.length);
  dv(out).setUint32(0, request, true);
  dv(out).setUint32(4, flags, true);
  dv(out).setUint32(8, size, true);
  out.set(payload, VHOST_USER_HDR_SIZE);
  return out;
}

function rejects(f: () => unknown, kind: string): void {
  try {
    f();
  } catch (e) {
    assert.instance(e, VhostUserError);
    assert.is((e as VhostUserError).kind, kind);
    return;
  }
  assert.unreachable(`accepted; ${kind} expected`);
}

t('header: request, version 1 plus flags, size; payload follows', () => {
  const m = encodeMessage(R.SET_VRING_NUM, VHOST_USER_NEED_REPLY_MASK, encodeVringState({ index: 1, num: 1024 }));
  assert.is(m.length, 20);
  assert.is(dv(m).getUint32(0, true), 8);
  assert.is(dv(m).getUint32(4, true), 0x9);
  assert.is(dv(m).getUint32(8, true), 8);
  assert.is(dv(m).getUint32(12, true), 1);
  assert.is(dv(m).getUint32(16, true), 1024);
  const bare = encodeMessage(R.GET_FEATURES, 0);
  assert.equal([...bare], [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
});

t('vring addr, memory table and vring file layouts', () => {
  const a = encodeVringAddr({ index: 2, flags: 0, desc: 0x7f0000001000n, used: 0x7f0000003000n, avail: 0x7f0000002000n, log: 0n });
  assert.is(a.length, 40);
  assert.is(dv(a).getUint32(0, true), 2);
  assert.is(dv(a).getBigUint64(8, true), 0x7f0000001000n);
  assert.is(dv(a).getBigUint64(16, true), 0x7f0000003000n, 'used before avail, as struct vhost_vring_addr');
  assert.is(dv(a).getBigUint64(24, true), 0x7f0000002000n);
  const m = encodeMemTable([{ guestPhysAddr: 0n, memorySize: 1n << 30n, userspaceAddr: 0x7f0000000000n, mmapOffset: 0n }]);
  assert.is(m.length, 8 + 32);
  assert.is(dv(m).getUint32(0, true), 1);
  assert.is(dv(m).getBigUint64(16, true), 1n << 30n);
  assert.is(dv(m).getBigUint64(24, true), 0x7f0000000000n);
  assert.is(dv(encodeVringFile(3, true)).getBigUint64(0, true), 3n);
  assert.is(dv(encodeVringFile(3, false)).getBigUint64(0, true), 0x103n, 'no-fd flag');
  assert.throws(() => encodeVringFile(256, true), RangeError);
  assert.throws(() => encodeMemTable([]), RangeError);
  assert.throws(() => encodeVringState({ index: -1, num: 0 }), RangeError);
  assert.throws(() => encodeU64(-1n), RangeError);
  assert.throws(() => encodeU64(1n << 64n), RangeError);
});

t('round trip: u64 and vring-state replies decode what was encoded (property)', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
    assert.is(decodeU64Reply(R.GET_FEATURES, reply(R.GET_FEATURES, encodeU64(v))), v);
  }), { numRuns: 200 });
  fc.assert(fc.property(fc.nat(0xffffffff), fc.nat(0xffffffff), (index, num) => {
    assert.equal(decodeVringStateReply(R.GET_VRING_BASE, reply(R.GET_VRING_BASE, encodeVringState({ index, num }))), { index, num });
  }), { numRuns: 200 });
});

t('short replies: no header yet is "wait", a truncated payload is rejected', () => {
  assert.is(decodeReplyHeader(new Uint8Array(11)), undefined);
  const full = reply(R.GET_FEATURES, encodeU64(5n));
  rejects(() => checkReply(R.GET_FEATURES, full.subarray(0, 15), 8), 'short');
  rejects(() => checkReply(R.GET_FEATURES, full.subarray(0, 5), 8), 'short');
  rejects(() => decodeU64Reply(R.GET_FEATURES, reply(R.GET_FEATURES, new Uint8Array(4))), 'payload');
});

t('oversized, wrong version, missing reply flag, other request, long payload: rejected', () => {
  rejects(() => decodeReplyHeader(reply(R.GET_FEATURES, new Uint8Array(0), 0x5, VHOST_USER_MAX_REPLY_PAYLOAD + 1)), 'oversized');
  rejects(() => decodeReplyHeader(reply(R.GET_FEATURES, new Uint8Array(0), 0x5, 0xffffffff)), 'oversized');
  rejects(() => decodeU64Reply(R.GET_FEATURES, reply(R.GET_FEATURES, encodeU64(1n), 0x6)), 'version');
  rejects(() => decodeU64Reply(R.GET_FEATURES, reply(R.GET_FEATURES, encodeU64(1n), 0x1)), 'not-reply');
  rejects(() => decodeU64Reply(R.GET_FEATURES, reply(R.GET_QUEUE_NUM, encodeU64(1n))), 'mismatch');
  rejects(() => decodeU64Reply(R.GET_FEATURES, reply(R.GET_FEATURES, new Uint8Array(16))), 'payload');
});

t('random bytes never escape as anything but VhostUserError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
    try {
      decodeU64Reply(R.GET_FEATURES, b);
    } catch (e) {
      assert.instance(e, VhostUserError);
    }
  }), { numRuns: 300 });
});

t.run();
