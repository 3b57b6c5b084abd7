// Many reads of many files at once through a small window, with a device
// whose SETUPMAPPING completes after random delays: every byte must match,
// and no read may copy from chunks another read is re-mapping (the fake
// window throws on a read over a SETUPMAPPING in flight).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Errno } from '../../../core/errno';
import { DaxManager, MemoryDaxPort } from '../../../fs/virtiofs/dax';

const CS = 4096;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

async function storm(seed: number, windowChunks: number, failRate: number) {
  const rand = rng(seed);
  const device = new MemoryDaxPort({
    windowSize: windowChunks * CS,
    delay: () => new Promise((r) => setTimeout(r, Math.floor(rand() * 4))),
    fail: () => (rand() < failRate ? Errno.EIO : 0),
  });
  const sizes: number[] = [];
  for (let n = 1; n <= 8; n++) {
    const size = Math.floor(rand() * 12 * CS);
    const b = new Uint8Array(size);
    for (let j = 0; j < size; j++) b[j] = (n * 53 + j * 11 + (j >> 9)) & 255;
    device.files.set(BigInt(n), b);
    sizes.push(size);
  }
  const m = new DaxManager(device, { chunkSize: CS });
  const reads = Array.from({ length: 150 }, async () => {
    await new Promise((r) => setTimeout(r, Math.floor(rand() * 3)));
    const n = 1 + Math.floor(rand() * 8);
    const size = sizes[n - 1]!;
    const offset = Math.floor(rand() * (size + 1));
    const len = Math.floor(rand() * 3 * CS);
    const dst = new Uint8Array(len);
    const r = await m.read({ nodeid: BigInt(n), size }, BigInt(n), len, { offset, dst }, rand() < 0.3);
    const file = device.files.get(BigInt(n))!;
    assert.equal(dst.subarray(0, r.bytes), file.subarray(offset, offset + r.bytes), `file ${n} at ${offset}`);
    if (!r.fallback) assert.is(r.bytes, Math.min(len, size - offset));
    return r;
  });
  const results = await Promise.all(reads);
  return { m, results };
}

const t = suite('dax concurrency');

t('concurrent reads with random SETUPMAPPING delays: all bytes right, no copy over a re-mapping', async () => {
  for (const [seed, chunks] of [[1, 4], [2, 8], [3, 16], [4, 2]] as const) {
    const { m, results } = await storm(seed, chunks, 0);
    assert.ok(results.every((r) => r.fallback === null), `seed ${seed}: no fallback`);
    assert.is(m.stats.fallbacks.copy, 0);
    assert.ok(m.stats.misses > 0 && m.stats.hits > 0, JSON.stringify([seed, m.stats.snapshot()]));
  }
});

t('with random SETUPMAPPING failures: the bytes read are right and the rest is a setupmapping fallback', async () => {
  const { m, results } = await storm(9, 6, 0.2);
  const fell = results.filter((r) => r.fallback);
  assert.ok(fell.length > 0);
  assert.ok(fell.every((r) => r.fallback!.reason === 'setupmapping' && r.fallback!.errno === Errno.EIO));
  assert.is(m.stats.fallbacks.copy, 0);
});

t('property: random seeds and window sizes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1, max: 12 }), async (seed, chunks) => {
      const { m, results } = await storm(seed, chunks, 0);
      assert.ok(results.every((r) => r.fallback === null));
      assert.is(m.stats.fallbacks.copy, 0);
    }),
    { numRuns: 8 },
  );
});

t.run();
