// The request and reply over descriptor chains, hostile ones included:
// buffers too short, a request split over many descriptors, a reply buffer
// that ends mid-header, buffers outside guest memory, writes after a reset,
// memory without a live view (the /dev/shm backing's path). And WRITE
// decoded from its head with its data left in the chain.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno } from '../../core/errno';
import { BufferBacking, GuestMemory, MemoryBacking } from '../../core/memory';
import { Iovec } from '../../drivers/virtqueue';
import * as K from '../../fs/fuse';
import { AnyRequest, decodeReply, decodeRequest, encodeRequest, fuseName, nameToString } from '../../fs/fuse';
import {
  ChainReply, ChainRequest, FuseFilesystem, FuseServer, ReadSink, WriteArgs, WriteSource,
} from '../../tools/vmm/fuse';
import { MemFs, symlink } from '../../tools/vmm/memfs';
import { makeRig, settle, until } from './device-virtio-fs-harness';

const t = suite('fuse-chain');
const SIZE = 1 << 20;

/** A backing without a live view, counting the bytes that cross it. */
class CountingBacking implements MemoryBacking {
  readonly inner = new BufferBacking(SIZE);
  reads = 0;
  writes: number[] = [];
  get size(): number { return SIZE; }
  reset(): void { this.reads = 0; this.writes = []; }
  read(offset: number, dst: Uint8Array): void { this.reads += dst.length; this.inner.read(offset, dst); }
  write(offset: number, src: Uint8Array): void { this.writes.push(src.length); this.inner.write(offset, src); }
}

function memory(backing: MemoryBacking = new BufferBacking(SIZE)): GuestMemory {
  return new GuestMemory([{ name: 'ram', base: 0, size: SIZE, backing }]);
}

/** Lays `bytes` out at `base` in pieces of the given lengths (cycled), each
 *  piece followed by a gap, and returns the iovecs. */
function place(mem: GuestMemory, bytes: Uint8Array, base: number, pieces: number[]): Iovec[] {
  const iovs: Iovec[] = [];
  let at = 0;
  let gpa = base;
  for (let k = 0; at < bytes.length; k++) {
    const n = Math.min(pieces[k % pieces.length]!, bytes.length - at);
    mem.write(gpa, bytes.subarray(at, at + n));
    iovs.push({ base: gpa, len: n });
    at += n;
    gpa += n + 64;
  }
  return iovs;
}

/** Writable iovecs of the given lengths, laid out from `base` with gaps. */
function writable(base: number, lens: number[]): Iovec[] {
  let gpa = base;
  return lens.map((len) => { const v = { base: gpa, len }; gpa += len + 64; return v; });
}

function gatherOut(mem: GuestMemory, iovs: Iovec[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const v of iovs) {
    const k = Math.min(v.len, n - at);
    if (k <= 0) break;
    mem.readInto(v.base, out.subarray(at, at + k));
    at += k;
  }
  return out;
}

const req = (r: Omit<AnyRequest, 'uid' | 'gid' | 'pid'>) => encodeRequest({ uid: 0, gid: 0, pid: 1, ...r } as AnyRequest);
const init = req({ opcode: K.FUSE_INIT, unique: 1n, nodeid: 0n, body: { major: 7, minor: 38, max_readahead: 0, flags: K.FUSE_MAX_PAGES } });

async function served(fs: FuseFilesystem) {
  const warnings: string[] = [];
  const server = new FuseServer(fs, { logger: { warn: (m) => { warnings.push(m); } } });
  const mem = memory();
  const ok = await server.serve(new ChainRequest(mem, place(mem, init, 0, [init.length])), new ChainReply(mem, writable(0x1000, [4096])), 1);
  assert.ok(ok !== null && ok > 16);
  return { server, warnings };
}

const tree = () => ({ 'a-rather-long-file-name.txt': new Uint8Array(9000).map((_, k) => (k * 13) & 0xff), l: symlink('x') });

t('a request split over many descriptors (a name cut anywhere) decodes as the whole one', async () => {
  const { server } = await served(new MemFs(tree()));
  const lookup = req({ opcode: K.FUSE_LOOKUP, unique: 2n, nodeid: 1n, body: { name: fuseName('a-rather-long-file-name.txt') } });
  for (const pieces of [[1], [3, 7], [39, 2], [40], [41, 1000]]) {
    for (const backing of [new BufferBacking(SIZE), new CountingBacking()]) {
      const mem = memory(backing);
      const out = writable(0x8000, [4096]);
      const iovs = place(mem, lookup, 0, pieces);
      if (backing instanceof CountingBacking) backing.reset();
      const n = await server.serve(new ChainRequest(mem, iovs), new ChainReply(mem, out), 1);
      if (backing instanceof CountingBacking) assert.is(backing.reads, lookup.length, 'each request byte read once');
      const d = decodeReply(K.FUSE_LOOKUP, gatherOut(mem, out, n!));
      assert.ok(d.ok && d.value.errno === 0, `pieces ${pieces}`);
    }
  }
});

t('short buffers: no readable header, no reply; a reply buffer under 16 bytes gets nothing', async () => {
  const { server, warnings } = await served(new MemFs(tree()));
  const mem = memory();
  const getattr = req({ opcode: K.FUSE_GETATTR, unique: 3n, nodeid: 1n, body: { getattr_flags: 0, fh: 0n } });
  assert.is(await server.serve(new ChainRequest(mem, place(mem, getattr.subarray(0, 12), 0, [5])), new ChainReply(mem, writable(0x8000, [4096])), 1), null);
  assert.ok(warnings.some((w) => /undecodable/.test(w)));
  const tiny = writable(0x8000, [7, 8]);
  mem.write(0x8000, new Uint8Array(7).fill(0xee));
  assert.is(await server.serve(new ChainRequest(mem, place(mem, getattr, 0, [40, 16])), new ChainReply(mem, tiny), 1), null);
  assert.equal([...mem.read(0x8000, 7)], new Array(7).fill(0xee), 'nothing written');
  const small = writable(0x8000, [10, 10]);
  assert.is(await server.serve(new ChainRequest(mem, place(mem, getattr, 0, [56])), new ChainReply(mem, small), 1), 16);
  const d = decodeReply(K.FUSE_GETATTR, gatherOut(mem, small, 16));
  assert.ok(d.ok && d.value.errno === Errno.ERANGE, 'an attr reply cannot fit in 20 bytes');
});

t('READ into a reply buffer that ends mid-header, and into many small ones, with and without live views', async () => {
  const fs = new MemFs(tree());
  const { server } = await served(fs);
  const data = tree()['a-rather-long-file-name.txt'];
  const ctl = memory();
  const call = async (r: Uint8Array) => {
    const out = writable(0x8000, [4096]);
    const n = await server.serve(new ChainRequest(ctl, place(ctl, r, 0, [r.length])), new ChainReply(ctl, out), 1);
    return gatherOut(ctl, out, n!);
  };
  const e = decodeReply(K.FUSE_LOOKUP, await call(req({ opcode: K.FUSE_LOOKUP, unique: 4n, nodeid: 1n, body: { name: fuseName('a-rather-long-file-name.txt') } })));
  const nodeid = e.ok ? e.value.body!.nodeid : 0n;
  const o = decodeReply(K.FUSE_OPEN, await call(req({ opcode: K.FUSE_OPEN, unique: 5n, nodeid, body: { flags: 0, open_flags: 0 } })));
  const fh = o.ok ? o.value.body!.fh : 0n;
  const read = req({ opcode: K.FUSE_READ, unique: 6n, nodeid, body: { fh, offset: 100n, size: 5000, read_flags: 0, lock_owner: 0n, flags: 0 } });
  for (const lens of [[10, 8192], [16, 8192], [1, 1, 1, 5, 9, 4000, 4000], new Array(1100).fill(8)]) {
    for (const backing of [new BufferBacking(SIZE), new CountingBacking()]) {
      const mem = memory(backing);
      const out = writable(0x10000, lens);
      const iovs = place(mem, read, 0, [read.length]);
      if (backing instanceof CountingBacking) backing.reset();
      const n = await server.serve(new ChainRequest(mem, iovs), new ChainReply(mem, out), 1);
      const cap = lens.reduce((a, b) => a + b, 0);
      const want = Math.min(5000, cap - 16);
      assert.is(n, 16 + want, `lens ${lens.length}`);
      const d = decodeReply(K.FUSE_READ, gatherOut(mem, out, n!));
      assert.ok(d.ok && Buffer.from(d.value.body!.data).equals(Buffer.from(data.subarray(100, 100 + want))));
      if (backing instanceof CountingBacking && lens.length === 2) {
        assert.equal(backing.writes, [lens[0]!, n! - lens[0]!], 'header and data reach guest memory in one pass');
      }
    }
  }
});

t('buffers outside guest memory: the request is refused up front, a reply write is recorded as failed', async () => {
  const mem = memory();
  assert.throws(() => new ChainRequest(mem, [{ base: 0, len: 40 }, { base: SIZE - 8, len: 16 }]), /outside guest memory/);
  const reply = new ChainReply(mem, [{ base: 0x100, len: 8 }, { base: SIZE - 4, len: 64 }]);
  reply.write(0, new Uint8Array(16).fill(1));
  assert.ok(reply.error !== undefined);
  assert.is(reply.views(0, 16, false), undefined);
  const { server } = await served(new MemFs(tree()));
  const getattr = req({ opcode: K.FUSE_GETATTR, unique: 7n, nodeid: 1n, body: { getattr_flags: 0, fh: 0n } });
  const bad = new ChainReply(mem, [{ base: SIZE - 50, len: 200 }]);
  await server.serve(new ChainRequest(mem, place(mem, getattr, 0, [56])), bad, 1);
  assert.ok(bad.error !== undefined, 'the queue answers used.len 0 for it');
});

t('after a reset nothing reaches guest memory: writes dropped, late fills bounced and discarded', async () => {
  let live = true;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const fs: FuseFilesystem = {
    read: async (_ctx, b, out: ReadSink) => {
      await out.fillLater(b.size, async (bufs) => {
        await gate;
        for (const v of bufs) v.fill(0x77);
        return b.size;
      });
    },
  };
  const { server } = await served(fs);
  const mem = memory();
  const out = writable(0x8000, [4096]);
  const read = req({ opcode: K.FUSE_READ, unique: 8n, nodeid: 2n, body: { fh: 1n, offset: 0n, size: 1000, read_flags: 0, lock_owner: 0n, flags: 0 } });
  const p = server.serve(new ChainRequest(mem, place(mem, read, 0, [80])), new ChainReply(mem, out, () => live), 1);
  await new Promise((r) => setImmediate(r));
  live = false; // the device was reset
  release();
  await p;
  assert.ok(mem.read(0x8000, 4096).every((b) => b === 0), 'the late fill never touched the old reply buffer');
  const reply = new ChainReply(mem, out, () => false);
  reply.write(0, new Uint8Array(16).fill(9));
  assert.ok(mem.read(0x8000, 16).every((b) => b === 0));
  assert.is(reply.views(0, 16, false), undefined);
});

t('through the queues: a READ whose thread-pool fill ends after a reset writes nothing into guest memory', async () => {
  let started = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const server = new FuseServer({
    read: async (_ctx, b, out) => {
      started++;
      await out.fillLater(b.size, async (bufs) => { await gate; for (const v of bufs) v.fill(0x77); return b.size; });
    },
  }, { logger: { warn: () => undefined } });
  const rig = await makeRig({ handler: server });
  const reply = decodeReply(K.FUSE_INIT, await rig.driver.request(init, 4096));
  assert.ok(reply.ok && reply.value.errno === 0, 'served through the chain path');
  const read = req({ opcode: K.FUSE_READ, unique: 2n, nodeid: 2n, body: { fh: 1n, offset: 0n, size: 8192, read_flags: 0, lock_owner: 0n, flags: 0 } });
  const pending = rig.driver.request(read, 16 + 8192).catch((e: Error) => e);
  await until(() => started === 1, 'the read started');
  await rig.driver.close(); // resets the device with the read in flight
  assert.ok((await pending) instanceof Error);
  release();
  await settle();
  await settle();
  const ram = rig.mem.read(0, rig.mem.regions()[0]!.size);
  assert.is(ram.indexOf(0x77), -1, 'no byte of the late fill reached guest RAM');
});

t('WRITE: decoded from its head (as the codec decodes the whole), data left in the descriptors', async () => {
  const seen: Array<{ args: WriteArgs; data: WriteSource }> = [];
  const fs: FuseFilesystem = { write: (_ctx, args, data) => { seen.push({ args, data }); return { size: data.length }; } };
  const { server } = await served(fs);
  const payload = new Uint8Array(70000).map((_, k) => (k * 31) & 0xff);
  for (const [k, ext] of [new Uint8Array(0), new Uint8Array(16).fill(5)].entries()) {
    const body = { fh: 0x1122334455667788n, offset: 0x0102030405060708n + BigInt(k), write_flags: 0xa5a5, lock_owner: 0xfeedn, flags: 0o2 + k, data: payload };
    const bytes = encodeRequest({ opcode: K.FUSE_WRITE, unique: 9n, nodeid: 3n, uid: 7, gid: 8, pid: 9, body, ext: ext.length ? ext : undefined });
    const whole = decodeRequest(bytes);
    assert.ok(whole.ok);
    const mem = memory();
    const iovs = place(mem, bytes, 0, [80, 4096]);
    const out = writable(0x80000, [4096]);
    const n = await server.serve(new ChainRequest(mem, iovs), new ChainReply(mem, out), 1);
    const d = decodeReply(K.FUSE_WRITE, gatherOut(mem, out, n!));
    assert.ok(d.ok && d.value.body!.size === payload.length);
    const got = seen.pop()!;
    const { data: _d, ...want } = (whole.value as { body: K.WriteIn }).body;
    assert.equal(got.args, want);
    const slices = got.data.slices();
    assert.ok(slices.length > 1 && slices.every((s) => s.buffer === (mem.regions()[0]!.backing.bytes!).buffer), 'views of guest memory');
    assert.ok(Buffer.from(got.data.bytes()).equals(Buffer.from(payload)));
  }
  // The codec's checks hold: size disagreeing with the data is EINVAL, answered with the unique.
  const bytes = encodeRequest({ opcode: K.FUSE_WRITE, unique: 10n, nodeid: 3n, uid: 0, gid: 0, pid: 0, body: { fh: 1n, offset: 0n, write_flags: 0, lock_owner: 0n, flags: 0, data: new Uint8Array(100) } });
  new DataView(bytes.buffer).setUint32(40 + 16, 99, true);
  const mem = memory();
  const out = writable(0x8000, [4096]);
  const n = await server.serve(new ChainRequest(mem, place(mem, bytes, 0, [80, 20])), new ChainReply(mem, out), 1);
  const d = decodeReply(K.FUSE_WRITE, gatherOut(mem, out, n!));
  assert.ok(d.ok && d.value.errno === Errno.EINVAL && d.value.unique === 10n);
  assert.is(decodeRequest(bytes).ok, false, 'the codec refuses it too');
  assert.is(nameToString(fuseName('ok')), 'ok');
});

t.run();
