// The device model's end of the wire: handshake, registers in program
// order, posted writes and notifies, interrupts, MAP/UNMAP, and every bad
// frame refused with a reason. The guest's end alone: tests/drivers/wire-client.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Errno, ErrnoError } from '../../core/errno';
import type { RegisterWidth } from '../../drivers/transport';
import { parseWireAddress } from '../../drivers/wire/address';
import {
  encodeFrame, encodeHello, encodeInterrupt, encodeRegRead, Frame, FrameDecoder,
  FrameType, WIRE_MAGIC, WireProtocolError, MAP_READ, MAP_WRITE,
} from '../../drivers/wire/frames';
import { connectWire } from '../../drivers/wire/tcp-transport.node';
import { DeviceLink, DeviceSession, WireServer } from '../../tools/vmm/wire-server';
import { RAM, TOKEN, WINDOW, rejection, sleep, within } from '../drivers/wire-kit';

const t = suite('wire-server');
const SLOW = 0x200; // a register whose read is answered after a delay

class FakeSession implements DeviceSession {
  readonly ram = RAM;
  readonly window = WINDOW;
  writes: [number, number, number][] = [];
  notifies: number[] = [];
  closedWith: Error | null = null;
  constructor(readonly link: DeviceLink) {}
  readRegister(offset: number, width: RegisterWidth): number | Promise<number> {
    if (offset === SLOW) return new Promise((r) => setTimeout(() => r(0x5107), 30));
    if (offset === 0x300) return new Promise(() => {}); // never answered
    return (offset * 16 + width) >>> 0;
  }
  writeRegister(offset: number, width: RegisterWidth, value: number): void {
    this.writes.push([offset, width, value]);
  }
  notify(queue: number): void {
    this.notifies.push(queue);
  }
  close(reason: Error): void {
    this.closedWith = reason;
  }
}

interface Harness {
  server: WireServer;
  sessions: FakeSession[];
  logs: string[];
}

async function start(listen = 'tcp:127.0.0.1:0', extra: { handshakeTimeoutMs?: number } = {}): Promise<Harness> {
  const sessions: FakeSession[] = [];
  const logs: string[] = [];
  const server = await WireServer.listen({
    listen, token: TOKEN, log: (m) => logs.push(m), ...extra,
    createSession: (link) => { const s = new FakeSession(link); sessions.push(s); return s; },
  });
  return { server, sessions, logs };
}

/** A client speaking raw bytes, recording every frame it receives. */
interface Raw { sock: net.Socket; frames: Frame[]; closed: Promise<void>; errors: WireProtocolError[] }
function raw(address: string): Promise<Raw> {
  const a = parseWireAddress(address);
  return new Promise((resolve, reject) => {
    const sock = a.kind === 'tcp' ? net.connect(a.port, a.host) : net.connect(a.path);
    const d = new FrameDecoder();
    const r: Raw = { sock, frames: [], errors: [], closed: new Promise((res) => sock.on('close', () => res())) };
    sock.on('data', (c) => {
      d.push(c);
      for (let f = d.next(); f !== null; f = d.next()) {
        if (f instanceof WireProtocolError) { r.errors.push(f); break; }
        r.frames.push(f);
      }
    });
    sock.on('error', () => {});
    sock.once('connect', () => resolve(r));
    sock.once('error', reject);
  });
}

const hello = () => encodeHello(new TextEncoder().encode(TOKEN));

t('handshake over TCP: WELCOME carries RAM and window', async () => {
  const h = await start();
  try {
    assert.match(h.server.address(), /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const c = await connectWire(h.server.address(), TOKEN);
    assert.equal(c.welcome, { version: 1, ram: RAM, window: WINDOW });
    assert.is(await c.read(0x10, 4), 0x104);
    c.close();
  } finally {
    await h.server.close();
  }
});

t('handshake and reads over a unix socket in a temp dir', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wire-'));
  const h = await start(`unix:${path.join(dir, 'vmm.sock')}`);
  try {
    assert.is(h.server.address(), `unix://${path.join(dir, 'vmm.sock')}`);
    const c = await connectWire(h.server.address(), TOKEN);
    assert.is(await c.read(0x100, 1), 0x1001);
    c.close();
  } finally {
    await h.server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('concurrent reads each get their own answer; a slow read holds later ones in program order', async () => {
  const h = await start();
  const c = await connectWire(h.server.address(), TOKEN);
  try {
    const offs = Array.from({ length: 120 }, (_, i) => i * 4); // below SLOW
    const vals = await Promise.all(offs.map((o, i) => c.read(o, ([1, 2, 4] as const)[i % 3])));
    assert.equal(vals, offs.map((o, i) => o * 16 + [1, 2, 4][i % 3]));
    const order: string[] = [];
    const slow = c.read(SLOW, 4).then((v) => { order.push('slow'); return v; });
    c.write(0x24, 4, 9); // must reach the device after the slow read, before the fast one
    const fast = c.read(0x70, 4).then((v) => { order.push('fast'); return v; });
    assert.is(await slow, 0x5107);
    assert.is(await fast, 0x704);
    assert.equal(order, ['slow', 'fast']);
    assert.equal(h.sessions[0].writes, [[0x24, 4, 9]]);
  } finally {
    c.close();
    await h.server.close();
  }
});

t('posted writes and notifies reach the session in order; QueueNotify writes travel as NOTIFY', async () => {
  const h = await start();
  const c = await connectWire(h.server.address(), TOKEN);
  try {
    c.write(0x30, 4, 5);
    c.write(0x100, 1, 0xab);
    c.write(0x50, 4, 2);
    c.notify(1);
    await c.read(0, 4); // a barrier: answered after everything sent before it
    const s = h.sessions[0];
    assert.equal(s.writes, [[0x30, 4, 5], [0x100, 1, 0xab]]);
    assert.equal(s.notifies, [2, 1]);
  } finally {
    c.close();
    await h.server.close();
  }
});

t('interrupts reach onInterrupt handlers with their bits', async () => {
  const h = await start();
  const c = await connectWire(h.server.address(), TOKEN);
  try {
    const got = new Promise<number>((r) => c.onInterrupt(() => r(c.lastInterrupt)));
    h.sessions[0].link.interrupt(3);
    assert.is(await within(got, 2000, 'interrupt'), 3);
  } finally {
    c.close();
    await h.server.close();
  }
});

t('map resolves only after the guest handler ran; unmap likewise; errors carry the guest errno', async () => {
  const h = await start();
  const c = await connectWire(h.server.address(), TOKEN);
  try {
    const applied: string[] = [];
    c.onMap(async (m) => {
      await sleep(30);
      if (m.path === 'missing') throw new ErrnoError(Errno.ENOENT, 'no such file');
      applied.push(`map ${m.moffset}+${m.len} @${m.foffset} ${m.flags} ${m.path}`);
    });
    c.onUnmap((u) => { applied.push(`unmap ${u.moffset}+${u.len}`); });
    const link = h.sessions[0].link;
    await link.map({ moffset: 2 << 20, len: 2 << 20, foffset: 4096, flags: MAP_READ | MAP_WRITE, path: '/proc/1/fd/3' });
    assert.equal(applied, [`map ${2 << 20}+${2 << 20} @4096 3 /proc/1/fd/3`]);
    const m2 = link.map({ moffset: 0, len: 4096, foffset: 0, flags: MAP_READ, path: 'x' });
    const u = link.unmap(0, 4096);
    await u; // UNMAP is applied after the MAP before it
    assert.equal(applied.slice(1), ['map 0+4096 @0 2 x', 'unmap 0+4096']);
    await m2;
    const e = await rejection(link.map({ moffset: 0, len: 4096, foffset: 0, flags: MAP_READ, path: 'missing' }));
    assert.is(e.errno, Errno.ENOENT);
    const outside = await rejection(link.map({ moffset: WINDOW.len - 4096, len: 8192, foffset: 0, flags: MAP_READ, path: 'x' }));
    assert.is(outside.errno, Errno.EINVAL);
    assert.is(await c.read(4, 4), 0x44, 'the connection still works');
  } finally {
    c.close();
    await h.server.close();
  }
});

t('a pending map fails with EIO when the guest goes', async () => {
  const h = await start();
  const c = await connectWire(h.server.address(), TOKEN);
  try {
    c.onMap(() => new Promise(() => {})); // never applies
    const p = h.sessions[0].link.map({ moffset: 0, len: 4096, foffset: 0, flags: MAP_READ, path: 'x' });
    await sleep(20);
    c.close();
    const e = await within(rejection(p), 2000, 'map rejection');
    assert.is(e.errno, Errno.EIO);
    await within((async () => { while (!h.sessions[0].closedWith) await sleep(5); })(), 2000, 'session closed');
  } finally {
    await h.server.close();
  }
});

// [what, frames sent at once, frames sent after WELCOME arrived, the reason]
const badFrames: [string, Uint8Array[], Uint8Array[], RegExp][] = [
  ['truncated frame at EOF', [hello()], [encodeRegRead(1, 0, 4).subarray(0, 10)], /ended inside a frame/],
  ['oversized length', [hello()], [Uint8Array.of(0xff, 0xff, 0xff, 0x7f, 4, 0, 0, 0)], /frame length \d+ above/],
  ['unknown type', [hello()], [Uint8Array.of(4, 0, 0, 0, 77, 0, 0, 0)], /unknown frame type 77/],
  ['frame before HELLO', [encodeRegRead(1, 0, 4)], [], /REG_READ before HELLO/],
  ['frame before WELCOME', [hello(), encodeRegRead(1, 0, 4)], [], /REG_READ before WELCOME/],
  ['second HELLO', [hello()], [hello()], /second HELLO/],
  ['device-only frame from the guest', [hello()], [encodeInterrupt(1)], /device-only INTERRUPT/],
  ['payload size wrong for its type', [hello()], [Uint8Array.of(6, 0, 0, 0, 7, 0, 0, 0, 1, 0)], /NOTIFY: payload of 2 bytes/],
  ['MAP_ACK for no pending map', [hello()], [encodeFrame({ type: FrameType.MapAck, seq: 42, status: 0 })], /unknown seq 42/],
  ['wrong token', [encodeHello(new TextEncoder().encode('guess'))], [], /bad access token/],
  ['bad magic', [encodeHello(new TextEncoder().encode(TOKEN), 1, WIRE_MAGIC ^ 1)], [], /bad magic/],
  ['bad version', [encodeHello(new TextEncoder().encode(TOKEN), 9)], [], /unsupported protocol version 9/],
];

t('each bad frame closes that connection with a reason; another client keeps working', async () => {
  const h = await start();
  const good = await connectWire(h.server.address(), TOKEN);
  try {
    for (const [what, first, then, reason] of badFrames) {
      const r = await raw(h.server.address());
      for (const f of first) r.sock.write(f);
      if (then.length) {
        await within((async () => { while (r.frames.length === 0) await sleep(2); })(), 2000, `${what}: WELCOME`);
        assert.is(r.frames[0].type, FrameType.Welcome);
        for (const f of then) r.sock.write(f);
      }
      const truncated = what.startsWith('truncated');
      if (truncated) r.sock.end();
      await within(r.closed, 2000, `${what}: connection closed`);
      const last = r.frames[r.frames.length - 1];
      assert.ok(last && (last.type === FrameType.Goodbye || last.type === FrameType.Refuse), `${what}: GOODBYE/REFUSE sent`);
      assert.match((last as { reason: string }).reason, reason, what);
      assert.is((last as { code: number }).code, what === 'wrong token' ? Errno.EACCES : Errno.EPROTO, what);
      assert.ok(h.logs.some((l) => reason.test(l)), `${what}: reason logged`);
      assert.is(await good.read(0x8, 2), 0x82, `${what}: other client still served`);
    }
    assert.is(h.server.connectionCount, 1);
  } finally {
    good.close();
    await h.server.close();
  }
});

t('connectWire with a wrong token rejects with EACCES and the reason', async () => {
  const h = await start();
  try {
    const e = await rejection(connectWire(h.server.address(), 'nope'));
    assert.is(e.errno, Errno.EACCES);
    assert.match(e.message, /bad access token/);
  } finally {
    await h.server.close();
  }
});

t('a connection that never says HELLO is refused after the handshake timeout', async () => {
  const h = await start('tcp:127.0.0.1:0', { handshakeTimeoutMs: 50 });
  try {
    const r = await raw(h.server.address());
    await within(r.closed, 2000, 'closed');
    assert.equal(r.frames.map((f) => f.type), [FrameType.Refuse]);
    assert.match((r.frames[0] as { reason: string }).reason, /no HELLO within 50 ms/);
  } finally {
    await h.server.close();
  }
});

t('server close ends every connection: pending reads fail with EIO, onClose fires', async () => {
  const h = await start();
  const c = await connectWire(h.server.address(), TOKEN);
  const closed = new Promise<Error>((r) => c.onClose(r));
  const pending = c.read(0x300, 4); // never answered by the session
  await sleep(10);
  await within(h.server.close(), 2000, 'server close');
  const e = await within(rejection(pending), 2000, 'read rejection');
  assert.is(e.errno, Errno.EIO);
  assert.instance(await within(closed, 2000, 'onClose'), ErrnoError);
  assert.is((await rejection(c.read(0, 4))).errno, Errno.EIO, 'reads after close fail at once');
  assert.ok(h.sessions[0].closedWith, 'session told');
});

t('the listener refuses a non-loopback TCP address without a token, and a bad address', async () => {
  const e = await rejection(WireServer.listen({ listen: 'tcp:0.0.0.0:0', createSession: () => { throw new Error('unused'); } }));
  assert.is(e.errno, Errno.EACCES);
  try {
    await WireServer.listen({ listen: 'udp:1', createSession: () => { throw new Error('unused'); } });
    assert.unreachable('bad address accepted');
  } catch (err) {
    assert.instance(err, RangeError);
  }
});

t('a failing session factory refuses the guest with its reason', async () => {
  const logs: string[] = [];
  const server = await WireServer.listen({
    listen: 'tcp:127.0.0.1:0', log: (m) => logs.push(m),
    createSession: async () => { throw new ErrnoError(Errno.EBUSY, 'device already in use'); },
  });
  try {
    const e = await rejection(connectWire(server.address(), undefined));
    assert.is(e.errno, Errno.EBUSY);
    assert.match(e.message, /device already in use/);
  } finally {
    await server.close();
  }
});

t.run();
