// Property test of the read-write window, the same for both placements
// (OSv's stack, Linux's range pool), with and without the adaptive rule:
// random reads, writes (inside the file through the window, extending ones
// as FUSE_WRITE), truncates, drops and refused write mappings, against a
// reference model of the files' bytes. After every step: every byte read
// is the model's; the host files are the model; nothing on the device
// shows a chunk past the end of its file; a chunk the manager writes
// through is a write mapping on the device; every SETUPMAPPING with WRITE
// over a read mapping of the same file range was an upgrade at its own
// moffset, and there are exactly as many as the statistics say; no copy
// through the window ever faults.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Errno } from '../../../core/errno';
import { DaxManager, MemoryDaxPort, type DaxPort, type PlacementName, type SetupMappingArgs } from '../../../fs/virtiofs/dax';
import { interfaceOnly } from './dax-placements';
import { PLACEMENTS } from '../../../fs/virtiofs/dax';

const N = 3;

const op = fc.oneof(
  fc.record({ k: fc.constant('read' as const), n: fc.integer({ min: 1, max: N }), off: fc.nat(200), len: fc.integer({ min: 0, max: 90 }), adaptive: fc.boolean() }),
  fc.record({ k: fc.constant('write' as const), n: fc.integer({ min: 1, max: N }), off: fc.nat(200), len: fc.integer({ min: 0, max: 60 }), v: fc.nat(255), adaptive: fc.boolean() }),
  fc.record({ k: fc.constant('write' as const), n: fc.integer({ min: 1, max: N }), off: fc.nat(200), len: fc.integer({ min: 0, max: 60 }), v: fc.nat(255), adaptive: fc.boolean() }),
  fc.record({ k: fc.constant('truncate' as const), n: fc.integer({ min: 1, max: N }), size: fc.nat(160) }),
  fc.record({ k: fc.constant('drop' as const), n: fc.integer({ min: 1, max: N }) }),
  fc.record({ k: fc.constant('space' as const), full: fc.boolean() }),
);

const scenario = fc.record({
  cs: fc.constantFrom(4, 8, 16),
  W: fc.integer({ min: 0, max: 10 }),
  sizes: fc.tuple(fc.nat(120), fc.nat(120), fc.nat(120)),
  ops: fc.array(op, { maxLength: 50 }),
});

async function property(placement: PlacementName): Promise<void> {
  await fc.assert(fc.asyncProperty(scenario, async ({ cs, W, sizes, ops }) => {
    let full = false;
    const device = new MemoryDaxPort({ windowSize: W * cs, alignment: 0, fail: (a) => (full && a.write ? Errno.ENOSPC : 0) });
    const model = new Map<bigint, Uint8Array>();
    sizes.forEach((size, i) => {
      const b = new Uint8Array(size).map((_, j) => (i * 40 + j) & 255);
      model.set(BigInt(i + 1), b);
      device.files.set(BigInt(i + 1), b.slice());
    });
    // The port as the manager sees it, recording what each WRITE setup replaced.
    const upgrades: SetupMappingArgs[] = [];
    const port: DaxPort = {
      window: device.window,
      setupMapping: async (a) => {
        const shown = device.mapped.find((e) => e.moffset <= a.moffset && a.moffset < e.moffset + e.len);
        const upgrade = a.write && shown !== undefined && !shown.write && shown.nodeid === a.nodeid
          && shown.foffset + (a.moffset - shown.moffset) === a.foffset;
        await device.setupMapping(a);
        if (upgrade) upgrades.push(a);
      },
      removeMapping: (r) => device.removeMapping(r),
    };
    const m = new DaxManager(port, {
      chunkSize: cs, mapAlignment: 0, placement: (w) => interfaceOnly(PLACEMENTS[placement](w)),
      adaptive: { sampleChunks: 4, backoff: 3, maxBackoff: 12 },
    });
    const sizeOf = (n: bigint) => model.get(n)!.length;
    const resize = (n: bigint, size: number) => {
      for (const files of [model, device.files]) {
        const old = files.get(n)!;
        const b = new Uint8Array(size);
        b.set(old.subarray(0, size));
        files.set(n, b);
      }
    };
    const hostWrite = (n: bigint, off: number, data: Uint8Array) => { // FUSE_WRITE
      if (off + data.length > sizeOf(n)) resize(n, off + data.length);
      device.files.get(n)!.set(data, off);
    };
    for (const o of ops) {
      if (o.k === 'space') { full = o.full; continue; }
      const n = BigInt(o.n);
      if (o.k === 'read') {
        const dst = new Uint8Array(o.len);
        const r = await m.read({ nodeid: n, size: sizeOf(n) }, 1n, o.len, { offset: o.off, dst }, false, o.adaptive);
        const want = Math.max(0, Math.min(o.len, sizeOf(n) - o.off));
        if (r.fallback) dst.set(device.files.get(n)!.subarray(o.off + r.bytes, o.off + want), r.bytes); // FUSE_READ
        else assert.is(r.bytes, want);
        assert.equal(dst.subarray(0, want), model.get(n)!.subarray(o.off, o.off + want), 'read');
      } else if (o.k === 'write') {
        const data = new Uint8Array(o.len).fill(o.v);
        let written = 0;
        if (o.off + o.len <= sizeOf(n)) {
          const r = await m.write({ nodeid: n, size: sizeOf(n) }, 1n, o.off, data, o.adaptive);
          written = r.bytes;
          if (r.fallback?.errno === Errno.ENOSPC) {
            assert.ok(full && r.fallback.reason === 'setupmapping', 'ENOSPC only from a refused write mapping');
          } else {
            if (r.fallback) hostWrite(n, o.off + written, data.subarray(written));
            else assert.is(written, o.len);
            written = o.len;
          }
        } else {
          hostWrite(n, o.off, data); // extending: FUSE_WRITE, as Linux
          written = o.len;
        }
        if (o.off + written > sizeOf(n)) { const b = new Uint8Array(o.off + written); b.set(model.get(n)!); model.set(n, b); }
        model.get(n)!.set(data.subarray(0, written), o.off);
      } else if (o.k === 'truncate') {
        await m.truncate(n, o.size);
        resize(n, o.size);
      } else {
        await m.dropInode(n);
      }
      await m.idle();
      for (const [k, b] of model) assert.equal(device.files.get(k), b, `host file ${k}`);
      for (const e of device.mapped) {
        for (let c = 0; c < e.len; c += cs) assert.ok(e.foffset + c < Math.max(1, sizeOf(e.nodeid)) || e.foffset + c === 0, `chunk past the end of ${e.nodeid} on the device`);
      }
      for (const x of m.snapshot().mappings) {
        if (x.nodeid === null) continue;
        assert.ok(x.fstart * cs < sizeOf(x.nodeid) || x.fstart === 0, 'a mapping past the end in the placement');
        if (!x.writable) continue;
        for (let c = 0; c < x.nchunks; c++) {
          const at = x.moffset + c * cs;
          const e = device.mapped.find((d) => d.moffset <= at && at < d.moffset + d.len)!;
          assert.ok(e && e.write && e.nodeid === x.nodeid && e.foffset + (at - e.moffset) === (x.fstart + c) * cs, 'writable means a write mapping there');
        }
      }
      assert.is(m.stats.upgrades, upgrades.length, 'upgrades counted');
      assert.is(m.stats.fallbacks.copy, 0, 'the window never faulted');
    }
  }), { numRuns: 250 });
}

for (const placement of ['lifo', 'lru'] as const) {
  const t = suite(`dax read-write model (${placement})`);
  t('reads, writes, truncates, drops and ENOSPC agree with a model of the files', () => property(placement));
  t.run();
}
