// The vhost-user backend against the real virtiofsd (qemu-system-common's
// /usr/lib/qemu/virtiofsd): bring-up, FUSE round trips through the daemon,
// and the lifecycle (daemon killed, too many queues, clean close).

import { suite } from 'uvu';
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
  VhostUserBackend, VhostUserError, VhostUserFrontend, VirtiofsdProcess, VIRTIOFSD_PATH, VringNotifiers, within,
} from '../../tools/vmm/vhost-user';
import { VirtioFsDevice } from '../../tools/vmm/virtio-fs-device';
import type { VirtioFsQueueSetup } from '../../tools/vmm/virtio-fs-device';
import { MmioDriver } from '../../drivers/virtio-mmio/driver';
import { InProcessTransport } from '../../drivers/virtio-mmio/in-process-transport';
import { VIRTIO_MMIO_INT_CONFIG } from '../../drivers/virtio-mmio/registers';
import {
  VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK,
} from '../../drivers/virtio/status';
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, feature } from '../../drivers/virtio/features';
import { VIRTIO_ID_FS } from '../../drivers/virtio/ids';

const t = suite('vhost-user (real virtiofsd)');

const RAM_SIZE = 8 << 20;
const QSIZE = 64;

/** A minimal guest: RAM in a shm file, hiprio and one request queue, FUSE requests in flight. */
class Guest {
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

function requireVirtiofsd(): void {
  if (!fs.existsSync(VIRTIOFSD_PATH)) {
    assert.unreachable(`${VIRTIOFSD_PATH} is missing: install it with apt-get install -y qemu-system-common`);
  }
}

function tempShare(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhost-share-'));
  return dir;
}

/** Every live process whose command line names `needle` (the daemon and its sandbox child). */
/** Every thread of `pid` in state T (stopped) or gone. */
function allThreadsStopped(pid: number): boolean {
  let tasks: string[];
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return true; }
  return tasks.every((tid) => {
    try { return /\) [TtZX] /.test(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')); } catch { return true; }
  });
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

function pidsWith(needle: string): number[] {
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

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return within(p.then((v) => ({ v })), ms).then((r) => {
    if (!r) throw new Error(`${what}: no answer in ${ms} ms`);
    return r.v;
  });
}

const enc = new TextEncoder();

t('bring-up: GET_QUEUE_NUM known before the device; INIT, LOOKUP, OPEN, READ give the file\'s bytes', async () => {
  requireVirtiofsd();
  const share = tempShare();
  const content = new Uint8Array(10000).map((_, i) => (i * 7 + 3) & 0xff);
  fs.writeFileSync(path.join(share, 'data.bin'), content);
  const guest = new Guest();
  const fe = await VhostUserFrontend.start({ daemon: { source: share } });
  const sockDir = fe.dir;
  try {
    assert.is(fe.queueNum, 2);
    assert.is(fe.maxRequestQueues, 1);
    assert.ok(fe.conn.replyAck, 'REPLY_ACK negotiated');
    guest.attach(fe);
    const init = await timeout(guest.init(), 5000, 'FUSE_INIT');
    assert.is(init.errno, 0);
    assert.is(init.body!.major, 7);
    assert.ok(init.body!.minor >= 31);
    assert.is(init.body!.map_alignment, 0);
    const lk = await timeout(guest.send({ opcode: K.FUSE_LOOKUP, nodeid: K.FUSE_ROOT_ID,
      body: { name: enc.encode('data.bin') } }), 5000, 'LOOKUP');
    assert.is(lk.errno, 0);
    assert.is(lk.body!.attr.size, BigInt(content.length));
    const op = await timeout(guest.send({ opcode: K.FUSE_OPEN, nodeid: lk.body!.nodeid,
      body: { flags: 0, open_flags: 0 } }), 5000, 'OPEN');
    assert.is(op.errno, 0);
    const rd = await timeout(guest.send({ opcode: K.FUSE_READ, nodeid: lk.body!.nodeid,
      body: { fh: op.body!.fh, offset: 1000n, size: 8192, read_flags: 0, lock_owner: 0n, flags: 0 } }), 5000, 'READ');
    assert.is(rd.errno, 0);
    assert.equal(rd.body!.data, content.subarray(1000, 9192));
    const missing = await timeout(guest.send({ opcode: K.FUSE_LOOKUP, nodeid: K.FUSE_ROOT_ID,
      body: { name: enc.encode('nope') } }), 5000, 'LOOKUP nope');
    assert.is(missing.errno, 2, 'ENOENT');
    // virtiofsd 7.2 has no DAX: SETUPMAPPING is ENOSYS.
    const sm = await timeout(guest.send({ opcode: K.FUSE_SETUPMAPPING, nodeid: lk.body!.nodeid,
      body: { fh: op.body!.fh, foffset: 0n, len: 1n << 21n, flags: 1n, moffset: 0n } }), 5000, 'SETUPMAPPING');
    assert.is(sm.errno, 38);
    assert.ok(guest.interrupts > 0, 'completions arrived through the call FIFO');
    assert.is(guest.backend.broken, undefined);
  } finally {
    await guest.backend?.close();
    guest.dispose();
  }
  assert.equal(pidsWith(sockDir), [], 'no virtiofsd left');
  assert.not.ok(fs.existsSync(sockDir), 'socket and FIFOs removed');
  fs.rmSync(share, { recursive: true, force: true });
});

t('reset stops the rings (GET_VRING_BASE) and the queues can be set up again', async () => {
  requireVirtiofsd();
  const share = tempShare();
  fs.writeFileSync(path.join(share, 'f'), 'abc');
  const guest = new Guest();
  const fe = await VhostUserFrontend.start({ daemon: { source: share } });
  try {
    const backend = guest.attach(fe);
    assert.is((await timeout(guest.init(), 5000, 'INIT')).errno, 0);
    backend.reset();
    await timeout(backend.settled(), 5000, 'reset');
    assert.is(backend.broken, undefined);
    // The driver re-initialises its rings (same RAM) and makes the queues ready again.
    for (let i = 0; i < 2; i++) guest.queues[i] = new DriverQueue(guest.mem, guest.setups[i], guest.alloc);
    backend.queueReady(0, guest.setups[0]);
    backend.queueReady(1, guest.setups[1]);
    const lk = await timeout(guest.send({ opcode: K.FUSE_LOOKUP, nodeid: K.FUSE_ROOT_ID,
      body: { name: enc.encode('f') } }), 5000, 'LOOKUP after reset');
    assert.is(lk.errno, 0);
    assert.is(lk.body!.attr.size, 3n);
    assert.equal(guest.brokenReasons, []);
    await backend.close();
  } finally {
    await guest.backend?.close();
    guest.dispose();
    fs.rmSync(share, { recursive: true, force: true });
  }
});

t('daemon killed with a request in flight: the request fails, broken is reported with the status, no hang', async () => {
  requireVirtiofsd();
  const share = tempShare();
  fs.writeFileSync(path.join(share, 'f'), 'x'.repeat(4096));
  const guest = new Guest();
  const fe = await VhostUserFrontend.start({ daemon: { source: share } });
  const sockDir = fe.dir;
  try {
    guest.attach(fe);
    assert.is((await timeout(guest.init(), 5000, 'INIT')).errno, 0);
    const pids = pidsWith(sockDir);
    assert.ok(pids.length >= 1);
    // Freeze the daemon so the request is surely in flight when it dies.
    // kill() returns before the signal has stopped every thread: a thread
    // still running could answer the request. Wait until all are stopped.
    for (const p of pids) process.kill(p, 'SIGSTOP');
    await timeout(until(() => pids.every(allThreadsStopped)), 5000, 'daemon stopped');
    const pending = guest.send({ opcode: K.FUSE_LOOKUP, nodeid: K.FUSE_ROOT_ID, body: { name: enc.encode('f') } });
    const started = Date.now();
    for (const p of pids) process.kill(p, 'SIGKILL');
    const err = await timeout(pending.then(() => undefined, (e: Error) => e), 3000, 'pending request');
    assert.instance(err, Error, 'the pending request failed');
    assert.match(err!.message, /EIO/);
    assert.ok(Date.now() - started < 3000, 'promptly');
    assert.is(guest.brokenReasons.length, 1);
    assert.match(guest.brokenReasons[0], /lost/);
    assert.match(guest.brokenReasons[0], /SIGKILL/);
    // Later requests fail too: a new queueReady is refused the same way.
    guest.backend.queueReady(1, guest.setups[1]);
    assert.is(guest.brokenReasons.length, 2);
  } finally {
    await timeout(guest.backend.close(), 8000, 'close');
    guest.dispose();
  }
  assert.equal(pidsWith(sockDir), []);
  assert.not.ok(fs.existsSync(sockDir));
  fs.rmSync(share, { recursive: true, force: true });
});

t('more queues than the daemon offers: a clear error, before anything reaches the daemon', async () => {
  requireVirtiofsd();
  const share = tempShare();
  const guest = new Guest();
  const fe = await VhostUserFrontend.start({ daemon: { source: share } });
  try {
    try {
      fe.checkRequestQueues(2);
      assert.unreachable('2 request queues accepted');
    } catch (e) {
      assert.instance(e, VhostUserError);
      assert.is((e as VhostUserError).kind, 'refused');
      assert.match((e as Error).message, /num-request-queues 2: the back-end serves 2 queues \(hiprio \+ 1 request queue\)/);
    }
    fe.checkRequestQueues(1);
    const backend = new VhostUserBackend(fe, guest.sink, { ramFd: guest.ram.fd, ramSize: RAM_SIZE });
    guest.backend = backend;
    backend.queueReady(2, guest.setups[1]);
    assert.is(guest.brokenReasons.length, 1);
    assert.match(guest.brokenReasons[0], /queue 2: .*serves 2 queues.*num-request-queues <= 1/);
    assert.is(fe.daemon!.status, undefined, 'the daemon still runs');
  } finally {
    await guest.backend?.close();
    guest.dispose();
    fs.rmSync(share, { recursive: true, force: true });
  }
});

t('a daemon asked for a queue it does not serve exits; the loss is reported with its stderr', async () => {
  requireVirtiofsd();
  const share = tempShare();
  const guest = new Guest();
  const fe = await VhostUserFrontend.start({ daemon: { source: share } });
  const lost = new Promise<string>((resolve) => fe.onLost(resolve));
  const notifiers = new VringNotifiers(fe.dir, 2, () => undefined);
  try {
    const c = fe.conn;
    const s = guest.setups[1];
    const base = 0x7f00_0000_0000n;
    const steps = (async () => {
      await c.setFeatures(fe.features & ((1n << 32n) | (1n << 30n)));
      await c.setMemTable([{ guestPhysAddr: 0n, memorySize: BigInt(RAM_SIZE), userspaceAddr: base, mmapOffset: 0n }], [guest.ram.fd]);
      await c.setVringNum({ index: 2, num: s.size });
      await c.setVringAddr({ index: 2, flags: 0, desc: base + BigInt(s.desc), used: base + BigInt(s.used),
        avail: base + BigInt(s.avail), log: 0n });
      await c.setVringBase({ index: 2, num: 0 });
      await c.setVringCall(2, notifiers.callFd);
      await c.setVringKick(2, notifiers.kickFd);
      await c.setVringEnable({ index: 2, num: 1 });
    })();
    const failed = await timeout(steps.then(() => undefined, (e: Error) => e), 6000, 'queue 2 setup');
    const reason = await timeout(lost, 6000, 'loss report');
    assert.instance(failed, VhostUserError, 'the setup messages failed once the daemon left');
    assert.match(reason, /virtiofsd/);
    assert.match(reason, /exit status [1-9]|killed/);
    assert.match(reason, /Invalid queue index: 2|multiple request queues/, 'the daemon\'s own words');
  } finally {
    notifiers.close();
    await fe.close();
    guest.dispose();
    fs.rmSync(share, { recursive: true, force: true });
  }
  assert.equal(pidsWith(fe.dir), []);
});

t('attach mode (--socket-path): a daemon someone else started', async () => {
  requireVirtiofsd();
  const share = tempShare();
  fs.writeFileSync(path.join(share, 'g'), 'attached');
  const daemon = await VirtiofsdProcess.start({ source: share });
  const guest = new Guest();
  try {
    const fe = await VhostUserFrontend.start({ socketPath: daemon.socketPath });
    assert.is(fe.daemon, undefined);
    guest.attach(fe);
    assert.is((await timeout(guest.init(), 5000, 'INIT')).errno, 0);
    const lk = await timeout(guest.send({ opcode: K.FUSE_LOOKUP, nodeid: K.FUSE_ROOT_ID,
      body: { name: enc.encode('g') } }), 5000, 'LOOKUP');
    assert.is(lk.body!.attr.size, 8n);
    await guest.backend.close();
    assert.not.ok(fs.existsSync(fe.dir), 'our FIFO dir removed');
    // The daemon exits by itself once its front-end is gone.
    assert.is(await timeout(daemon.whenExited, 5000, 'daemon exit'), 'exit status 0');
  } finally {
    await daemon.stop(500);
    guest.dispose();
    fs.rmSync(share, { recursive: true, force: true });
  }
  assert.equal(pidsWith(daemon.dir), []);
});

t('a daemon that cannot start: a clear error naming its stderr, nothing left behind', async () => {
  requireVirtiofsd();
  const before = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('vhost-user-')).length;
  const err = await VhostUserFrontend.start({ daemon: { source: '/', extraArgs: ['-o', 'no_such_option_xyz'] } })
    .then(() => undefined, (e: Error) => e);
  assert.instance(err, VhostUserError);
  assert.match(err!.message, /virtiofsd/);
  const after = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('vhost-user-')).length;
  assert.is(after, before);
});

t('through VirtioFsDevice over virtio-mmio: requests served by virtiofsd; a dead daemon sets DEVICE_NEEDS_RESET', async () => {
  requireVirtiofsd();
  const share = tempShare();
  fs.writeFileSync(path.join(share, 'h'), 'through the device');
  const guest = new Guest();
  const fe = await VhostUserFrontend.start({ daemon: { source: share } });
  const sockDir = fe.dir;
  const device = new VirtioFsDevice({
    memory: guest.mem, tag: 'share', numRequestQueues: fe.maxRequestQueues, queueSize: QSIZE,
    backend: (sink) => (guest.backend = new VhostUserBackend(fe, sink, { ramFd: guest.ram.fd, ramSize: RAM_SIZE })),
    logger: () => undefined,
  });
  const transport = new InProcessTransport(device.registers);
  const driver = new MmioDriver(transport);
  let needsReset = false;
  transport.onInterrupt(() => {
    void (async () => {
      const isr = await driver.readInterruptStatus();
      driver.ackInterrupt(isr);
      if (isr & VIRTIO_MMIO_INT_CONFIG && (await driver.getStatus()) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        needsReset = true;
        guest.sink.broken('DEVICE_NEEDS_RESET');
      }
      for (const q of guest.queues) for (const c of q.harvest()) c.token({ len: c.len });
    })();
  });
  guest.kick = (i) => driver.notify(i);
  try {
    await driver.probe(VIRTIO_ID_FS);
    await driver.reset();
    await driver.addStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    await driver.negotiate(feature(VIRTIO_RING_F_EVENT_IDX) | feature(VIRTIO_RING_F_INDIRECT_DESC));
    for (let i = 0; i < 2; i++) {
      const s = guest.setups[i];
      await driver.setupQueue(i, { num: s.size, desc: s.desc, driver: s.avail, device: s.used });
    }
    await driver.addStatus(VIRTIO_STATUS_DRIVER_OK);
    assert.is((await timeout(guest.init(), 5000, 'INIT')).errno, 0);
    const lk = await timeout(guest.send({ opcode: K.FUSE_LOOKUP, nodeid: K.FUSE_ROOT_ID,
      body: { name: enc.encode('h') } }), 5000, 'LOOKUP');
    assert.is(lk.body!.attr.size, 18n);
    for (const p of pidsWith(sockDir)) process.kill(p, 'SIGKILL');
    const err = await timeout(guest.send({ opcode: K.FUSE_LOOKUP, nodeid: K.FUSE_ROOT_ID,
      body: { name: enc.encode('h') } }).then(() => undefined, (e: Error) => e), 3000, 'request after the kill');
    assert.instance(err, Error);
    assert.ok(needsReset, 'the driver saw DEVICE_NEEDS_RESET');
    assert.ok(device.registers.isBroken);
  } finally {
    device.close();
    await timeout(guest.backend.close(), 8000, 'close');
    guest.dispose();
    fs.rmSync(share, { recursive: true, force: true });
  }
  assert.equal(pidsWith(sockDir), []);
  assert.not.ok(fs.existsSync(sockDir));
});

t.run();
