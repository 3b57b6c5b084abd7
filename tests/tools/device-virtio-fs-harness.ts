// One process: VirtioFsDevice + the TypeScript queue backend with a fake FUSE
// handler, and VirtioFsDriver over an InProcessTransport, on one guest RAM.
import { Allocator } from '../../core/allocator';
import { BufferBacking, GuestMemory, MemoryBacking } from '../../core/memory';
import { InProcessTransport } from '../../drivers/virtio-mmio/in-process-transport';
import { VirtioFsDriver, VirtioFsDriverOptions } from '../../drivers/virtio-fs/driver';
import { FuseQueueBackend, FuseRequestContext, FuseRequestHandler } from '../../tools/vmm/fuse-queues';
import { VirtioFsDevice, VirtioFsDeviceOptions } from '../../tools/vmm/virtio-fs-device';

export const RAM_SIZE = 4 << 20;
export const RAM_RESERVED = 0x1000;

export interface Call {
  request: Uint8Array;
  ctx: FuseRequestContext;
  resolve(reply: Uint8Array | null): void;
  reject(e: unknown): void;
}

/** A handler whose requests complete when the test says so. */
export class ManualHandler implements FuseRequestHandler {
  readonly calls: Call[] = [];
  handled = 0;
  handle(request: Uint8Array, ctx: FuseRequestContext): Promise<Uint8Array | null> {
    this.handled++;
    return new Promise((resolve, reject) => this.calls.push({ request: request.slice(), ctx, resolve, reject }));
  }
  /** Take the calls received so far. */
  take(): Call[] { return this.calls.splice(0); }
}

/** The reply a well-behaved server gives: a marker, then the request reversed. */
export function replyFor(request: Uint8Array): Uint8Array {
  const out = new Uint8Array(request.length + 1);
  out[0] = 0xaa;
  for (let i = 0; i < request.length; i++) out[i + 1] = request[request.length - 1 - i]!;
  return out;
}

export const echoHandler: FuseRequestHandler = {
  handle: async (request) => replyFor(request),
};

/** A distinct request for number `n`, `len` bytes long (at least 4). */
export function requestBytes(n: number, len = 16): Uint8Array {
  const b = new Uint8Array(Math.max(4, len));
  new DataView(b.buffer).setUint32(0, n, true);
  for (let i = 4; i < b.length; i++) b[i] = (n * 31 + i) & 0xff;
  return b;
}

export interface Rig {
  mem: GuestMemory;
  device: VirtioFsDevice;
  backend: FuseQueueBackend;
  transport: InProcessTransport;
  allocator: Allocator;
  driver: VirtioFsDriver;
  log: string[];
}

export interface RigOptions {
  ram?: MemoryBacking;
  handler?: FuseRequestHandler;
  device?: Partial<Omit<VirtioFsDeviceOptions, 'memory' | 'backend'>>;
  driver?: VirtioFsDriverOptions;
}

export async function makeRig(o: RigOptions = {}): Promise<Rig> {
  const log: string[] = [];
  const logger = (m: string) => { log.push(m); };
  const ram = o.ram ?? new BufferBacking(RAM_SIZE);
  const mem = new GuestMemory([{ name: 'ram', base: 0, size: ram.size, backing: ram }]);
  let backend!: FuseQueueBackend;
  const device = new VirtioFsDevice({
    memory: mem, tag: 'myfs', logger, ...o.device,
    backend: (sink) => (backend = new FuseQueueBackend(mem, o.handler ?? echoHandler, sink, { logger, maxInFlight: 4096 })),
  });
  const transport = new InProcessTransport(device.registers);
  const allocator = new Allocator(RAM_RESERVED, ram.size - RAM_RESERVED);
  const driver = await VirtioFsDriver.probe(transport, mem, allocator, { logger, ...o.driver });
  return { mem, device, backend, transport, allocator, driver, log };
}

/** Let queued microtasks and immediates run. */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Wait (boundedly) until `cond` holds. */
export async function until(cond: () => boolean, what: string, turns = 200): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await settle();
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A seeded shuffle (mulberry32), so a failure is reproducible. */
export function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
