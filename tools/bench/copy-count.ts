// Counts the copies of payload bytes one FUSE_READ costs, device model and
// guest, for a 4 KiB and a 1 MiB read, with guest RAM in a plain buffer
// and in a /dev/shm file (both in this one process, over the in-process
// transport). A copy is a user-space memcpy (TypedArray set/slice) or a
// syscall that moves the payload (read/pread/readv, write/pwrite/writev,
// blocking or in the thread pool), counted when it moves at least 4 KiB and
// attributed to the first project frame on the stack (tools/vmm: device;
// drivers/virtio-fs, fs/virtiofs, the driver's virtqueue half: guest).
//
//   npx ts-node --transpile-only tools/bench/copy-count.ts
//
// It patches `fs` and Uint8Array.prototype before loading the project, so
// it is a measuring tool, not part of the bench's runs.

import type * as Fuse from '../../fs/fuse';

/* eslint-disable @typescript-eslint/no-var-requires */
const nodeFs = require('node:fs') as Record<string, unknown> & typeof import('node:fs');
const os = require('node:os') as typeof import('node:os');
const path = require('node:path') as typeof import('node:path');

const MIN = 4096;
const tally = new Map<string, number>();
let counting = false;

function side(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(3);
  for (const f of frames) {
    if (f.includes('/tools/vmm/')) return 'device';
    if (f.includes('/drivers/virtio-fs/') || f.includes('/fs/virtiofs/') || f.includes('/drivers/virtqueue/driver')) return 'guest';
  }
  return 'other';
}

function note(where: string, kind: string, n: number): void {
  if (!counting || n < MIN) return;
  const k = `${where} ${kind}`;
  tally.set(k, (tally.get(k) ?? 0) + 1);
}

type Fn = (...a: unknown[]) => unknown;
for (const name of ['readSync', 'writeSync', 'readvSync', 'writevSync']) {
  const orig = nodeFs[name] as Fn;
  nodeFs[name] = function (this: unknown, ...a: unknown[]) {
    const r = orig.apply(this, a);
    if (typeof r === 'number') note(side(), `syscall ${name}`, r);
    return r;
  };
}
for (const name of ['read', 'write', 'readv', 'writev']) {
  const orig = nodeFs[name] as Fn;
  const wrapped = function (this: unknown, ...a: unknown[]) {
    const cb = a[a.length - 1] as Fn;
    const where = side();
    a[a.length - 1] = (err: unknown, n: unknown, ...rest: unknown[]) => {
      if (typeof n === 'number') note(where, `syscall ${name}`, n);
      return cb(err, n, ...rest);
    };
    return orig.apply(this, a);
  };
  // Keep what util.promisify reads (the result's field names).
  for (const sym of Object.getOwnPropertySymbols(orig)) {
    (wrapped as unknown as Record<symbol, unknown>)[sym] = (orig as unknown as Record<symbol, unknown>)[sym];
  }
  nodeFs[name] = wrapped;
}
const proto = Uint8Array.prototype as unknown as { set: Fn; slice: Fn };
const origSet = proto.set;
proto.set = function (this: Uint8Array, src: unknown, off?: unknown) {
  note(side(), 'memcpy', (src as { length: number }).length);
  return origSet.call(this, src, off);
};
const origSlice = proto.slice;
proto.slice = function (this: Uint8Array, ...a: unknown[]) {
  const r = origSlice.apply(this, a) as Uint8Array;
  note(side(), 'memcpy', r.length);
  return r;
};

async function main(): Promise<void> {
  const K = require('../../fs/fuse') as typeof Fuse;
  const { Allocator } = require('../../core') as typeof import('../../core');
  const { InProcessTransport } = require('../../drivers/virtio-mmio') as typeof import('../../drivers/virtio-mmio');
  const { VirtioFsDriver } = require('../../drivers/virtio-fs') as typeof import('../../drivers/virtio-fs');
  const { DeviceInstance } = require('../../tools/vmm/instance') as typeof import('../../tools/vmm/instance');
  const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'copies-'));
  nodeFs.writeFileSync(path.join(dir, 'f'), Buffer.alloc(2 << 20, 7));
  const RAM = 16 << 20;
  try {
    for (const ram of ['buffer', 'shm'] as const) {
      const host = DeviceInstance.create({
        sharedDir: dir, tag: 'c', cacheSize: 0, queueSize: 64, numRequestQueues: 1, memory: RAM,
        daxPolicy: 'none', readonly: true, logger: () => undefined,
      }, { ram });
      const driver = await VirtioFsDriver.probe(new InProcessTransport(host.device.registers), host.memory,
        new Allocator(0x10000, RAM - 0x10000));
      let unique = 1n;
      const call = async <O extends Fuse.Opcode>(opcode: O, nodeid: bigint, body: Fuse.RequestBodies[O], cap = 4096): Promise<Fuse.ReplyBodies[O]> => {
        const bytes = K.encodeRequest({ opcode, unique: unique++, nodeid, uid: 0, gid: 0, pid: 1, body } as Fuse.AnyRequest);
        const d = K.decodeReply(opcode, await driver.request(bytes, cap));
        if (!d.ok || d.value.body === undefined) throw new Error(`${K.opcodeName(opcode)} failed`);
        return d.value.body as Fuse.ReplyBodies[O];
      };
      await call(K.FUSE_INIT, 0n, { major: 7, minor: 38, max_readahead: 0, flags: K.FUSE_MAX_PAGES });
      const e = await call(K.FUSE_LOOKUP, 1n, { name: K.fuseName('f') });
      const o = await call(K.FUSE_OPEN, e.nodeid, { flags: 0, open_flags: 0 });
      for (const size of [4096, 1 << 20]) {
        const read = () => call(K.FUSE_READ, e.nodeid,
          { fh: o.fh, offset: 0n, size, read_flags: 0, lock_owner: 0n, flags: 0 }, 16 + size);
        await read(); // warm: the first read of a file may differ
        tally.clear();
        counting = true;
        const r = await read();
        counting = false;
        if (r.data.length !== size) throw new Error('short read');
        const row = [...tally].sort().map(([k, v]) => `${k} x${v}`).join(', ');
        process.stdout.write(`${ram.padEnd(6)} ${size === 4096 ? '4 KiB' : '1 MiB'}: ${row}\n`);
      }
      await driver.close();
      await host.close();
    }
  } finally {
    nodeFs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { process.stderr.write(`${String(e)}\n`); process.exit(1); });
