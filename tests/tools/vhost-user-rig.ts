// What the vhost-user tests share: a minimal guest over a real virtiofsd's
// rings, the daemon checks and small waits.
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GuestMemory } from '../../core/memory';
import { ShmFileBacking } from '../../core/shm-file.node';
import { Allocator } from '../../core/allocator';
import { DriverQueue, virtqLayout } from '../../drivers/virtqueue';
import * as K from '../../fs/fuse';
import { AnyRequest, Opcode, Reply, RequestBodies, decodeReply, encodeRequest, replyMaxSize } from '../../fs/fuse';
import {
  VhostUserBackend, VhostUserFrontend, VIRTIOFSD_PATH, within,
} from '../../tools/vmm/vhost-user';
import type { VirtioFsQueueSetup } from '../../tools/vmm/virtio-fs-device';

export const RAM_SIZE = 8 << 20;
export const QSIZE = 64;

/** A minimal guest: RAM in a shm file, hiprio and one request queue, FUSE requests in flight. */
export class Guest {
  readonly ram = ShmFileBacking.create(RAM_SIZE);
  readonly mem = new GuestMemory([{ name: 'ram', base: 0, size: RAM_SIZE, backing: this.ram }]);
  readonly alloc = new Allocator(0x1000, RAM_SIZE - 0x1000);
  readonly queues: DriverQueue<(r: { len: number } | Error) => void>[] = [];
  readonly setups: VirtioFsQueueSetup[] = [];
  interrupts = 0;
  brokenReasons: string[] = [];
  backend!: VhostUserBackend;
  /** How the guest notifies queue i: straight to the backend, or through a device's registers. */
  kick: (index: number) => void = (i) => this.backend.notify(i);
  private unique = 1n;

  constructor() {
    for (let i = 0; i < 2; i++) {
      const l = virtqLayout(QSIZE);
      const base = this.alloc.alloc(l.totalSize, 4096);
      const setup = { size: QSIZE, desc: base + l.descOffset, avail: base + l.availOffset, used: base + l.usedOffset,
        eventIdx: true, indirect: true };
      this.setups.push(setup);
      this.queues.push(new DriverQueue(this.mem, setup, this.alloc));
    }
  }

  readonly sink = {
    interrupt: (): void => {
      this.interrupts++;
      for (const q of this.queues) for (const c of q.harvest()) c.token({ len: c.len });
    },
    broken: (reason: string): void => {
      this.brokenReasons.push(reason);
      // What the driver does on DEVICE_NEEDS_RESET: fail everything in flight.
      for (const q of this.queues) for (const done of q.detachAll()) done(new Error(`EIO: ${reason}`));
    },
  };

  attach(fe: VhostUserFrontend): VhostUserBackend {
    this.backend = new VhostUserBackend(fe, this.sink, { ramFd: this.ram.fd, ramSize: RAM_SIZE });
    this.backend.queueReady(0, this.setups[0]);
    this.backend.queueReady(1, this.setups[1]);
    return this.backend;
  }

  /** Add a request to queue 1 and kick; resolves with the decoded reply. */
  send<O extends Opcode>(req: { opcode: O; nodeid: bigint; body: RequestBodies[O] }, kick = true): Promise<Reply<O>> {
    const full = { uid: 0, gid: 0, pid: 1, ...req, unique: this.unique++ } as AnyRequest;
    const bytes = encodeRequest(full);
    const inGpa = this.alloc.alloc(bytes.length, 8);
    const outLen = replyMaxSize(full);
    const outGpa = this.alloc.alloc(outLen, 8);
    this.mem.write(inGpa, bytes);
    return new Promise((resolve, reject) => {
      const q = this.queues[1];
      q.add([{ base: inGpa, len: bytes.length }], [{ base: outGpa, len: outLen }], (r) => {
        try {
          if (r instanceof Error) { reject(r); return; }
          const d = decodeReply(full.opcode, this.mem.read(outGpa, r.len));
          if (!d.ok) { reject(new Error(`bad reply: ${d.reason}`)); return; }
          resolve(d.value as Reply<O>);
        } finally {
          this.alloc.free(inGpa);
          this.alloc.free(outGpa);
        }
      });
      if (q.kickNeeded() && kick) this.kick(1);
    });
  }

  async init(): Promise<Reply<typeof K.FUSE_INIT>> {
    return this.send({ opcode: K.FUSE_INIT, nodeid: 0n,
      body: { major: 7, minor: 36, max_readahead: 0x20000, flags: 0n } });
  }

  dispose(): void {
    this.ram.close();
    this.ram.unlink();
  }
}

export function requireVirtiofsd(): void {
  if (!fs.existsSync(VIRTIOFSD_PATH)) {
    assert.unreachable(`${VIRTIOFSD_PATH} is missing: install it with apt-get install -y qemu-system-common`);
  }
}

export function tempShare(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhost-share-'));
  return dir;
}

/** Every thread of `pid` in state T (stopped) or gone. */
export function allThreadsStopped(pid: number): boolean {
  let tasks: string[];
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return true; }
  return tasks.every((tid) => {
    try { return /\) [TtZX] /.test(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')); } catch { return true; }
  });
}

export async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** Every live process whose command line names `needle` (the daemon and its sandbox child). */
export function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (cmd.includes(needle) && !/\) Z /.test(stat)) out.push(Number(e));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

export function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return within(p.then((v) => ({ v })), ms).then((r) => {
    if (!r) throw new Error(`${what}: no answer in ${ms} ms`);
    return r.v;
  });
}

export const enc = new TextEncoder();
