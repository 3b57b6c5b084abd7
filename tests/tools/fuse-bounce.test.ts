// READ replies that cannot be filled in place reuse pooled bounce buffers:
// a second READ gets the first one's buffer, its reply holds only its own
// bytes, the pool is bounded, and a buffer a fill may still write into is
// never handed to another reply.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FUSE_OUT_HEADER_SIZE } from '../../fs/fuse';
import { BouncePool, BOUNCE_PER_SIZE, ReplySink, type ReplyTarget } from '../../tools/vmm/fuse';

const t = suite('fuse bounce buffers');
const HDR = FUSE_OUT_HEADER_SIZE;

/** A reply with no live view, as guest RAM reached by positioned I/O. */
class PositionedReply implements ReplyTarget {
  readonly bytes: Uint8Array;
  constructor(readonly capacity: number) { this.bytes = new Uint8Array(capacity); }
  write(offset: number, src: Uint8Array): void { this.bytes.set(src, offset); }
  views(): undefined { return undefined; }
}

t('take rounds up to a power of two; give keeps a few of each size, up to a byte bound', () => {
  const pool = new BouncePool(64 << 10, BOUNCE_PER_SIZE);
  const a = pool.take(5000);
  assert.is(a.length, 8192);
  pool.give(a);
  assert.is(pool.take(100), a, 'the same buffer back');
  const many = Array.from({ length: BOUNCE_PER_SIZE + 2 }, () => pool.take(8192));
  for (const b of many) pool.give(b);
  assert.is(pool.bytesKept, BOUNCE_PER_SIZE * 8192, 'no more than perSize of one size');
  pool.give(new Uint8Array(32 << 10));
  assert.is(pool.bytesKept, BOUNCE_PER_SIZE * 8192 + (32 << 10));
  pool.give(new Uint8Array(64 << 10));
  assert.is(pool.bytesKept, BOUNCE_PER_SIZE * 8192 + (32 << 10), 'past the byte bound: dropped');
  pool.give(new Uint8Array(16384).subarray(0, 8192));
  pool.give(new Uint8Array(10000));
  assert.is(pool.bytesKept, BOUNCE_PER_SIZE * 8192 + (32 << 10), 'views and odd sizes are not kept');
  assert.throws(() => pool.take(-1), /bounce buffer/);
});

t('a second READ reuses the first one\'s buffer and its reply holds only its own bytes', () => {
  const pool = new BouncePool();
  const seen: Uint8Array[] = [];
  const readInto = (fill: number, len: number): Uint8Array => {
    const reply = new PositionedReply(HDR + 4096);
    const sink = new ReplySink(reply, 4096, pool);
    sink.fill(len, (bufs) => { seen.push(bufs[0]!); bufs[0]!.fill(fill, 0, len); return len; });
    assert.is(sink.finish(7n), HDR + len);
    sink.dispose();
    return reply.bytes;
  };
  const first = readInto(0xaa, 4096);
  const second = readInto(0xbb, 100);
  assert.is(seen[0]!.buffer, seen[1]!.buffer, 'one buffer, reused');
  assert.is(first[HDR + 4095], 0xaa);
  assert.is(second[HDR + 99], 0xbb);
  assert.is(second[HDR + 100], 0, 'nothing of the first READ past the second one\'s length');
  assert.is(new DataView(second.buffer).getUint32(0, true), HDR + 100, 'the header says its own length');
});

t('a buffer a fill may still write into goes back only when the fill settles', async () => {
  const pool = new BouncePool();
  const sink = new ReplySink(new PositionedReply(HDR + 4096), 4096, pool);
  let finishFill!: (n: number) => void;
  const pending = sink.fillLater(4096, () => new Promise<number>((r) => { finishFill = r; }));
  sink.dispose(); // the request was abandoned (an error, a reset)
  assert.is(pool.bytesKept, 0, 'not reusable while the thread pool may still write into it');
  finishFill(10);
  await pending;
  assert.is(pool.bytesKept, 8192, 'back once the fill is done');
  assert.throws(() => sink.fill(1, () => 1), /after the reply was disposed/);
});

t.run();
