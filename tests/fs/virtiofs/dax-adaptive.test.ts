// The adaptive rule (fs/virtiofs/dax/adaptive.ts): a working set much
// larger than the window turns mapping off (misses go to FUSE_READ /
// FUSE_WRITE, counted), mapping is tried again after the backoff; a
// sequential read or a window with room never turns it off; off unless the
// caller asks for it. Driven by counts, not time.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ADAPTIVE_DEFAULTS, DaxManager, MemoryDaxPort, type PlacementName } from '../../../fs/virtiofs/dax';

const CS = 64 * 1024; // reads of 4 KiB: a chunk read through once yields 64 KiB

function rig(windowChunks: number, fileChunks: number, placement: PlacementName) {
  const device = new MemoryDaxPort({ windowSize: windowChunks * CS });
  device.files.set(1n, new Uint8Array(fileChunks * CS).fill(1));
  // A small sample and backoff so the test stays short; yield as the default.
  const m = new DaxManager(device, { chunkSize: CS, placement, adaptive: { sampleChunks: 16, backoff: 64, maxBackoff: 256 } });
  const size = fileChunks * CS;
  let seed = 99;
  const rand = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 2 ** 32; };
  const read = (off: number, adaptive = true) => m.read({ nodeid: 1n, size }, 1n, 4096, { offset: off, dst: new Uint8Array(4096) }, false, adaptive);
  const write = (off: number, adaptive = true) => m.write({ nodeid: 1n, size }, 1n, off, new Uint8Array(4096), adaptive);
  const randomOffset = () => Math.floor(rand() * fileChunks) * CS;
  return { device, m, read, write, randomOffset };
}

for (const placement of ['lifo', 'lru'] as const) {
  const t = suite(`dax adaptive rule (${placement})`);

  t('random reads over 4x the window: mapping stops, misses go to FUSE_READ, hits stay; mapping is tried again', async () => {
    const { device, m, read, randomOffset } = rig(16, 64, placement);
    let fuse = 0;
    for (let i = 0; i < 600; i++) {
      const r = await read(randomOffset());
      if (r.fallback) { assert.equal(r.fallback, { reason: 'adaptive', errno: 0 }); fuse++; }
    }
    await m.idle();
    const s = m.stats;
    assert.ok(s.adaptiveSwitches >= 1, 'the rule turned mapping off');
    assert.is(s.adaptiveMisses, fuse, 'each counted');
    assert.ok(fuse > 300, `most misses served without mapping (${fuse})`);
    assert.ok(s.hits > 0, 'what is mapped still serves hits');
    assert.ok(device.setupCalls.length < 250, `far fewer SETUPMAPPINGs than misses (${device.setupCalls.length})`);
    assert.ok(s.adaptiveSwitches >= 2 || s.chunksMapped > 16 + 16, 'mapping was tried again after the backoff');
    assert.is(s.fallbacks.setupmapping + s.fallbacks.copy, 0, 'not a failure');
  });

  t('the same for random writes: misses go to FUSE_WRITE', async () => {
    const { m, write, randomOffset } = rig(16, 64, placement);
    let fuse = 0;
    for (let i = 0; i < 400; i++) if ((await write(randomOffset())).fallback?.reason === 'adaptive') fuse++;
    assert.ok(fuse > 150, `${fuse}`);
    assert.is(m.stats.adaptiveMisses, fuse);
  });

  t('a sequential read through a small window, or a window with room, keeps mapping', async () => {
    const seq = rig(4, 64, placement);
    for (let round = 0; round < 3; round++) {
      for (let off = 0; off < 64 * CS; off += 4096) assert.is((await seq.read(off)).fallback, null);
    }
    assert.is(seq.m.stats.adaptiveSwitches, 0, 'each chunk mapped serves 16 reads: 64 KiB, over the default yield (32 KiB)');
    const roomy = rig(80, 64, placement);
    for (let i = 0; i < 600; i++) assert.is((await roomy.read(roomy.randomOffset())).fallback, null);
    assert.is(roomy.m.stats.adaptiveSwitches, 0, 'nothing evicted: mapping is an investment');
  });

  t('off unless asked (the mount option dax-adaptive=off): every miss maps', async () => {
    const { m, read, randomOffset } = rig(16, 64, placement);
    for (let i = 0; i < 300; i++) assert.is((await read(randomOffset(), false)).fallback, null);
    assert.is(m.stats.adaptiveMisses, 0);
    assert.is(m.stats.adaptiveSwitches, 0);
  });

  t.run();
}

const d = suite('dax adaptive rule: defaults');
d('defaults as documented; the yield is bytes per SETUPMAPPING\'d chunk, whatever the chunk size', () => {
  assert.equal(ADAPTIVE_DEFAULTS, { sampleChunks: 64, minYield: 32 * 1024, backoff: 1024, maxBackoff: 32768 });
  assert.throws(() => new DaxManager(new MemoryDaxPort({ windowSize: CS }), { chunkSize: CS, adaptive: { minYield: 0 } }), /minYield/);
  // With 4 KiB chunks a sequential read yields 4 KiB per SETUPMAPPING: not worth mapping under eviction.
  const device = new MemoryDaxPort({ windowSize: 4 * 4096 });
  device.files.set(1n, new Uint8Array(64 * 4096));
  const m = new DaxManager(device, { chunkSize: 4096, adaptive: { sampleChunks: 16, backoff: 64 } });
  return (async () => {
    for (let off = 0; off < 64 * 4096; off += 512) await m.read({ nodeid: 1n, size: 64 * 4096 }, 1n, 512, { offset: off, dst: new Uint8Array(512) }, false, true);
    assert.ok(m.stats.adaptiveSwitches >= 1);
  })();
});
d.run();
