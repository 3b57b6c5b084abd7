// One guest cannot hurt another through the wire: a guest that floods
// register reads and never reads the answers stops being read (its output
// stays bounded), is served again once it reads, is cut off if it never
// does; connections past --max-guests are refused with the reason.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { Errno, ErrnoError } from '../../core/errno';
import { parseWireAddress } from '../../drivers/wire/address';
import { encodeHello, encodeRegRead, Frame, FrameDecoder, FrameType, WireProtocolError } from '../../drivers/wire/frames';
import { connectWire } from '../../drivers/wire/tcp-transport.node';
import { DeviceSession, WireServer, type WireServerOptions } from '../../tools/vmm/wire-server';

const t = suite('wire limits');
const BOUND = 64 << 10;

async function server(extra: Partial<WireServerOptions> = {}): Promise<{ server: WireServer; logs: string[] }> {
  const logs: string[] = [];
  const s = await WireServer.listen({
    listen: 'tcp:127.0.0.1:0', log: (m) => logs.push(m), maxQueuedBytes: BOUND, ...extra,
    createSession: (): DeviceSession => ({
      ram: { path: '', base: 0, size: 1 << 20 }, window: null,
      readRegister: (o) => o, writeRegister: () => {}, notify: () => {}, close: () => {},
    }),
  });
  return { server: s, logs };
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw guest: HELLO, WELCOME read, then nothing read back. */
async function flooder(address: string): Promise<net.Socket> {
  const a = parseWireAddress(address);
  const sock = a.kind === 'tcp' ? net.connect(a.port, a.host) : net.connect(a.path);
  sock.on('error', () => {});
  await new Promise((r) => sock.once('connect', r));
  sock.write(encodeHello(new Uint8Array(0)));
  const d = new FrameDecoder();
  await new Promise<void>((resolve) => {
    const onData = (c: Buffer): void => {
      d.push(c);
      const f = d.next();
      if (f && !(f instanceof WireProtocolError) && f.type === FrameType.Welcome) { sock.off('data', onData); resolve(); }
    };
    sock.on('data', onData);
  });
  sock.pause(); // from now on, never read
  return sock;
}

/** Write REG_READ batches until the device stops reading (our own output backs up). */
async function floodUntilBackpressure(sock: net.Socket, stop: () => boolean = () => false): Promise<number> {
  let id = 0;
  const batch = (): Buffer => Buffer.concat(Array.from({ length: 1024 }, () => encodeRegRead(id++, 0x70, 4)));
  // Bounded: 64M reads at most; stops when the device cut us off.
  for (let n = 0; n < 65536 && sock.writableLength < 4 << 20 && !sock.destroyed && !stop(); n++) {
    sock.write(batch());
    await new Promise((r) => setImmediate(r));
  }
  return id;
}

t('a guest that never reads: the device stops reading it; its queued output stays near the bound', async () => {
  const { server: s } = await server({ stallMs: 0 });
  try {
    const sock = await flooder(s.address());
    const sent = await floodUntilBackpressure(sock);
    await until(() => s.outputStats().paused === 1, 'the connection paused');
    const { queuedBytes } = s.outputStats();
    assert.ok(sent > 100_000, `flooded with ${sent} reads`);
    // The bound, plus the answers to the frames of the one chunk being handled.
    assert.ok(queuedBytes <= BOUND + 64 * 1024, `${queuedBytes} bytes queued`);
    sock.destroy();
    await until(() => s.connectionCount === 0, 'connection gone');
  } finally { await s.close(); }
});

t('backpressure loses nothing: once the guest reads, every read is answered in order', async () => {
  const { server: s } = await server({ stallMs: 0 });
  try {
    const sock = await flooder(s.address());
    // Only until the device pauses: every read sent must be answered below.
    const sent = await floodUntilBackpressure(sock, () => s.outputStats().paused === 1);
    await until(() => s.outputStats().paused === 1, 'paused');
    const d = new FrameDecoder();
    let values = 0;
    let next = 0;
    let inOrder = true;
    sock.on('data', (c) => {
      d.push(c);
      for (let f: Frame | WireProtocolError | null = d.next(); f !== null; f = d.next()) {
        if (f instanceof WireProtocolError) throw f;
        if (f.type === FrameType.RegValue) { if (f.id !== next++) inOrder = false; values++; }
      }
    });
    sock.resume();
    await until(() => values === sent, `${sent} answers (have ${values})`, 240_000);
    assert.ok(inOrder, 'in order');
    assert.is(s.outputStats().paused, 0);
    sock.destroy();
  } finally { await s.close(); }
});

t('a guest that stays unread past the stall limit is disconnected; others are served', async () => {
  const { server: s, logs } = await server({ stallMs: 300 });
  try {
    const sock = await flooder(s.address());
    await floodUntilBackpressure(sock);
    const other = await connectWire(s.address());
    assert.is(await other.read(0x70, 4), 0x70, 'another guest is served meanwhile');
    await until(() => logs.some((l) => /has not read its socket for 300 ms/.test(l)), 'stall disconnect');
    assert.is(await other.read(0x74, 4), 0x74, 'and still is');
    other.close();
    sock.destroy();
  } finally { await s.close(); }
});

t('--max-guests: one past it is refused with EUSERS and the reason; a slot freed is usable again', async () => {
  const { server: s, logs } = await server({ maxGuests: 1 });
  try {
    const first = await connectWire(s.address());
    let e: unknown;
    try { await connectWire(s.address()); } catch (err) { e = err; }
    assert.instance(e, ErrnoError);
    assert.is((e as ErrnoError).errno, Errno.EUSERS);
    assert.match((e as Error).message, /too many guests: this device model serves at most 1 at once \(--max-guests\)/);
    assert.ok(logs.some((l) => /refused: too many guests/.test(l)));
    first.close();
    await until(() => s.connectionCount === 0, 'first gone');
    const again = await connectWire(s.address());
    assert.is(await again.read(0x70, 4), 0x70);
    again.close();
  } finally { await s.close(); }
});

t.run();
