// The guest side of DOORBELL: it opens a queue's kick and call FIFOs only
// when they are the device model's own FIFO fds, then kicks through the FIFO
// instead of a NOTIFY frame and takes call data as that queue's interrupt;
// it declines when told to, and gives them back when the device asks.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { Errno, ErrnoError } from '../../core/errno';
import { connectWire, type WireTransport } from '../../drivers/wire/tcp-transport.node';
import { DeviceLink, WireServer } from '../../tools/vmm/wire-server';

const t = suite('wire-doorbells');
let tmp = '';
t.before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wire-doorbells-')); });
t.after(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

interface Dev {
  server: WireServer;
  links: DeviceLink[];
  notifies: number[];
  writes: [number, number][];
  onNotify: (() => void) | null;
}

async function device(): Promise<Dev> {
  const d: Dev = { server: undefined as unknown as WireServer, links: [], notifies: [], writes: [], onNotify: null };
  d.server = await WireServer.listen({
    listen: 'tcp:127.0.0.1:0', log: () => {},
    createSession: (link) => {
      d.links.push(link);
      return {
        ram: { path: '', base: 0, size: 4096 }, window: null,
        readRegister: () => 0,
        writeRegister: (offset, _w, value) => { d.writes.push([offset, value]); },
        notify: (q) => { d.notifies.push(q); d.onNotify?.(); },
        close: () => {},
      };
    },
  });
  return d;
}

let fifos = 0;
/** A FIFO held open read-write by this process (the device model here): its fd. */
function fifo(): { path: string; fd: number } {
  const p = path.join(tmp, `fifo-${fifos++}`);
  const r = spawnSync('mkfifo', ['-m', '600', p]);
  assert.is(r.status, 0, 'mkfifo');
  return { path: p, fd: fs.openSync(p, fs.constants.O_RDWR) };
}
const procFd = (fd: number, pid = process.pid) => `/proc/${pid}/fd/${fd}`;

function nextNotify(d: Dev): Promise<number> {
  return new Promise((resolve) => { d.onNotify = () => { d.onNotify = null; resolve(d.notifies[d.notifies.length - 1]!); }; });
}

t('a handed-over queue is kicked through its FIFO, interrupted through the other, and given back', async () => {
  const d = await device();
  const tr = await connectWire(d.server.address());
  const kick = fifo(), call = fifo();
  try {
    const link = d.links[0]!;
    assert.is(await link.doorbell!(1, { kick: procFd(kick.fd), call: procFd(call.fd) }), 0, 'accepted');
    assert.equal(tr.doorbells.queues, [1]);
    // The kick is an eventfd write of 1, in the FIFO, and no NOTIFY frame.
    tr.write(0x50, 4, 1);
    const reader = fs.openSync(kick.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const got = Buffer.alloc(16);
    assert.is(fs.readSync(reader, got), 8);
    fs.closeSync(reader);
    assert.equal([...got.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 0]);
    assert.is(tr.notifyFrames(1), 0);
    // Another queue still goes as a frame.
    const n0 = nextNotify(d);
    tr.notify(0);
    assert.is(await n0, 0);
    // Call data is a used-buffer interrupt; its InterruptACK never reaches the device.
    const irq = new Promise<number | undefined>((resolve) => tr.onInterrupt((bits) => { tr.write(0x64, 4, 1); resolve(bits); }));
    fs.writeSync(call.fd, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
    assert.is(await irq, 1);
    assert.is(tr.doorbells.calls, 1);
    // Taken back: NOTIFY frames again.
    assert.is(await link.doorbell!(1, null), 0);
    assert.equal(tr.doorbells.queues, []);
    const n1 = nextNotify(d);
    tr.notify(1);
    assert.is(await n1, 1);
    assert.equal(d.writes.filter(([o]) => o === 0x64), [], 'no InterruptACK for the doorbell interrupt');
  } finally {
    tr.close();
    await d.server.close();
    fs.closeSync(kick.fd);
    fs.closeSync(call.fd);
  }
});

t('a guest that declines answers EOPNOTSUPP and keeps NOTIFY frames', async () => {
  const d = await device();
  const tr = await connectWire(d.server.address(), undefined, { doorbells: false });
  const kick = fifo(), call = fifo();
  try {
    assert.is(await d.links[0]!.doorbell!(1, { kick: procFd(kick.fd), call: procFd(call.fd) }), Errno.EOPNOTSUPP);
    assert.equal(tr.doorbells.queues, []);
    const n = nextNotify(d);
    tr.notify(1);
    assert.is(await n, 1);
  } finally {
    tr.close();
    await d.server.close();
    fs.closeSync(kick.fd);
    fs.closeSync(call.fd);
  }
});

/** Offer `bells` and return why the guest closed the connection. */
async function refused(bells: (good: { kick: string; call: string }) => { kick: string; call: string }): Promise<ErrnoError> {
  const d = await device();
  const tr: WireTransport = await connectWire(d.server.address());
  const kick = fifo(), call = fifo();
  try {
    const closed = new Promise<Error>((resolve) => tr.onClose(resolve));
    const answer = d.links[0]!.doorbell!(1, bells({ kick: procFd(kick.fd), call: procFd(call.fd) }));
    const reason = await closed;
    try { await answer; assert.unreachable('no ack for a refused DOORBELL'); } catch (e) { assert.is((e as ErrnoError).errno, Errno.EIO); }
    assert.instance(reason, ErrnoError);
    assert.equal(tr.doorbells.queues, []);
    return reason as ErrnoError;
  } finally {
    tr.close();
    await d.server.close();
    fs.closeSync(kick.fd);
    fs.closeSync(call.fd);
  }
}

t('a DOORBELL naming a regular file is EPROTO', async () => {
  const file = path.join(tmp, 'regular');
  fs.writeFileSync(file, 'not a fifo');
  const fd = fs.openSync(file, 'r+');
  try {
    const e = await refused((g) => ({ ...g, kick: procFd(fd) }));
    assert.is(e.errno, Errno.EPROTO);
    assert.match(e.message, /DOORBELL kick of queue 1: .* is not a FIFO/);
    assert.is(fs.readFileSync(file, 'utf8'), 'not a fifo', 'nothing written');
  } finally { fs.closeSync(fd); }
});

t('a DOORBELL naming another process\'s fd, a plain path, or one FIFO twice is EPROTO', async () => {
  const other = fifo();
  const child = spawn('sleep', ['60'], { stdio: [other.fd, 'ignore', 'ignore'] });
  try {
    const e1 = await refused((g) => ({ ...g, call: procFd(0, child.pid!) }));
    assert.is(e1.errno, Errno.EPROTO);
    assert.match(e1.message, new RegExp(`DOORBELL call of queue 1: /proc/${child.pid}/fd/0: `));
  } finally {
    child.kill('SIGKILL');
    fs.closeSync(other.fd);
  }
  const plain = fifo();
  try {
    const e2 = await refused((g) => ({ ...g, kick: plain.path }));
    assert.is(e2.errno, Errno.EPROTO);
    assert.match(e2.message, /is not \/proc\/<pid>\/fd\/<n>/);
  } finally { fs.closeSync(plain.fd); }
  const e3 = await refused((g) => ({ kick: g.kick, call: g.kick }));
  assert.is(e3.errno, Errno.EPROTO);
  assert.match(e3.message, /kick and call are the same FIFO/);
});

t.run();
