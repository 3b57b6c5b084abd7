// Micro-benchmark of the DAX window manager alone: find (hit and miss), a
// 4 KiB read that hits, map with eviction on a full window, and eviction,
// at 1 Ki, 16 Ki and 64 Ki chunks, in ns per op, so growth with n shows.
// The port is a null one (SETUPMAPPING resolves at once, the window reads
// nothing): MemoryDaxPort keeps its extents in an array it rebuilds on
// every SETUPMAPPING (O(n)), which would measure the fake, not the manager.

import { DaxManager, type DaxPort } from '../../fs/virtiofs/dax';
import { table } from './report';

export interface MicroResult { op: string; chunks: number; ops: number; nsPerOp: number }

export const MICRO_SIZES = [1024, 16 * 1024, 64 * 1024];
const FILES = 64;
const CHUNK = 2 << 20;
const ROUNDS = 5;

function nullPort(chunks: number): DaxPort {
  return {
    window: { size: chunks * CHUNK, read() {}, write() {} },
    async setupMapping() {},
    async removeMapping() {},
  };
}

/** A full window of n one-chunk mappings that never coalesce (files interleaved): the worst case for the index. */
async function fullManager(n: number): Promise<DaxManager> {
  const m = new DaxManager(nullPort(n), { chunkSize: CHUNK });
  for (let i = 0; i < n; i++) await m.map(NODEIDS[1 + (i % FILES)]!, 0n, 1, Math.floor(i / FILES));
  return m;
}

/** One bigint per file, shared by every key, as a caller's inode holds its nodeid. */
const NODEIDS = Array.from({ length: FILES + 1 }, (_, i) => BigInt(i));

function keys(n: number, count: number, seed: number): { nodeids: bigint[]; fstarts: Int32Array } {
  const nodeids: bigint[] = new Array(count);
  const fstarts = new Int32Array(count);
  let x = seed >>> 0 || 1;
  for (let k = 0; k < count; k++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    const i = x % n;
    nodeids[k] = NODEIDS[1 + (i % FILES)]!;
    fstarts[k] = Math.floor(i / FILES);
  }
  return { nodeids, fstarts };
}

/** The best of `rounds` timings of fn (ns per op). */
async function best(rounds: number, ops: number, fn: () => unknown | Promise<unknown>): Promise<number> {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    await fn();
    const ns = Number(process.hrtime.bigint() - t0) / ops;
    if (ns < min) min = ns;
  }
  return min;
}

export async function microDax(ops = 200_000, sizes = MICRO_SIZES, progress?: (text: string) => void): Promise<MicroResult[]> {
  const out: MicroResult[] = [];
  let sink = 0;
  for (const n of sizes) {
    progress?.(`dax-manager: ${n} chunks: filling the window`);
    const m = await fullManager(n);
    const hit = keys(n, ops, 12345);
    progress?.(`dax-manager: ${n} chunks: find`);
    out.push({ op: 'find (hit)', chunks: n, ops, nsPerOp: await best(ROUNDS, ops, () => {
      for (let k = 0; k < ops; k++) sink += m.find(hit.nodeids[k]!, hit.fstarts[k]!)!.nchunks;
    }) });
    out.push({ op: 'find (miss)', chunks: n, ops, nsPerOp: await best(ROUNDS, ops, () => {
      for (let k = 0; k < ops; k++) sink += m.find(hit.nodeids[k]!, hit.fstarts[k]! + n)?.nchunks ?? 1;
    }) });
    const readOps = Math.min(ops, 100_000);
    const dst = new Uint8Array(4096);
    progress?.(`dax-manager: ${n} chunks: read`);
    out.push({ op: 'read 4 KiB (hit)', chunks: n, ops: readOps, nsPerOp: await best(ROUNDS, readOps, async () => {
      for (let k = 0; k < readOps; k++) {
        const r = await m.read({ nodeid: hit.nodeids[k]!, size: 1 << 40 }, 0n, 4096, { offset: hit.fstarts[k]! * CHUNK + 8192, dst });
        sink += r.bytes;
      }
    }) });
    const mapOps = Math.min(ops, 50_000);
    progress?.(`dax-manager: ${n} chunks: map`);
    out.push({ op: 'map 1 chunk (evicts 1)', chunks: n, ops: mapOps, nsPerOp: await best(ROUNDS, mapOps, async () => {
      for (let k = 0; k < mapOps; k++) await m.map(BigInt(1 + (k & 1)), 0n, 1, 1_000_000 + k, true);
    }) });
    const evOps = Math.min(mapOps, n >> 1);
    let evNs = Infinity;
    progress?.(`dax-manager: ${n} chunks: evict`);
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < evOps; k++) await m.unmap(1);
      evNs = Math.min(evNs, Number(process.hrtime.bigint() - t0) / evOps);
      for (let k = 0; k < evOps; k++) await m.map(BigInt(1 + (k & 1)), 0n, 1, 2_000_000 + k);
    }
    out.push({ op: 'evict 1 chunk (unmap)', chunks: n, ops: evOps, nsPerOp: evNs });
  }
  if (sink === -1) console.log(sink); // keeps the loops from being optimised away
  return out;
}

export function microTable(results: readonly MicroResult[]): string {
  const ops = [...new Set(results.map((r) => r.op))];
  const sizes = [...new Set(results.map((r) => r.chunks))];
  const base = sizes[0]!;
  const head = ['op', ...sizes.map((n) => `${n / 1024} Ki chunks ns/op`), ...sizes.slice(1).map((n) => `x at ${n / 1024} Ki`)];
  const rows = ops.map((op) => {
    const ns = sizes.map((n) => results.find((r) => r.op === op && r.chunks === n)?.nsPerOp ?? NaN);
    return [op, ...ns.map((v) => v.toFixed(0)), ...ns.slice(1).map((v) => `${(v / ns[0]!).toFixed(2)}x`)];
  });
  const logs = sizes.slice(1).map((n) => `${(Math.log2(n) / Math.log2(base)).toFixed(2)}x`);
  rows.push(['(log2 n growth)', ...sizes.map(() => ''), ...logs]);
  return table(head, rows, 1);
}
