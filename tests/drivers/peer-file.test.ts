// The guest does not trust the device model: the files it names in WELCOME
// and MAP are opened only when they are its own fds of the expected kind,
// and the token goes only to a listener of the expected user.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { Errno, ErrnoError } from '../../core/errno';
import { connectVirtioFs } from '../../drivers/virtio-fs/connect.node';
import { connectWire } from '../../drivers/wire/tcp-transport.node';
import { normalizeHost, tcpRows, tcpServerSide } from '../../drivers/wire/peer.node';
import { DeviceLink, DeviceSession, WireServer } from '../../tools/vmm/wire-server';

const t = suite('peer-file');
const RAM_SIZE = 1 << 20;
let tmp = '';

t.before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-file-')); });
t.after(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

interface Dev { server: WireServer; links: DeviceLink[]; logs: string[]; helloSeen: number }

/** A device model in this process whose WELCOME names `ramPath`; its
 *  registers are never answered, so the guest waits in its probe. */
async function device(ramPath: string, listen = 'tcp:127.0.0.1:0', size = RAM_SIZE): Promise<Dev> {
  const d: Dev = { server: undefined as unknown as WireServer, links: [], logs: [], helloSeen: 0 };
  d.server = await WireServer.listen({
    listen, log: (m) => d.logs.push(m),
    createSession: (link): DeviceSession => {
      d.helloSeen++;
      d.links.push(link);
      return {
        ram: { path: ramPath, base: 0, size }, window: { base: 2 ** 40, len: 1 << 22 },
        readRegister: () => new Promise<number>(() => {}), writeRegister: () => {}, notify: () => {}, close: () => {},
      };
    },
  });
  return d;
}

async function refusal(p: Promise<unknown>): Promise<ErrnoError> {
  try { await p; } catch (e) { assert.instance(e, ErrnoError); return e as ErrnoError; }
  throw new Error('expected a refusal');
}

const procFd = (fd: number, pid = process.pid) => `/proc/${pid}/fd/${fd}`;

t('WELCOME naming a plain path (a file the user can write) is refused; the file is untouched', async () => {
  const victim = path.join(tmp, 'victim');
  fs.writeFileSync(victim, Buffer.alloc(RAM_SIZE, 7));
  const before = fs.readFileSync(victim);
  const d = await device(victim);
  try {
    const e = await refusal(connectVirtioFs(d.server.address()));
    assert.is(e.errno, Errno.EPROTO);
    assert.match(e.message, /guest RAM: path .* is not \/proc\/<pid>\/fd\/<n>/);
    assert.ok(fs.readFileSync(victim).equals(before), 'not a byte written');
  } finally { await d.server.close(); }
});

t('a fd of another process is refused: it does not hold the connection', async () => {
  const file = path.join(tmp, 'other');
  fs.writeFileSync(file, Buffer.alloc(RAM_SIZE));
  const child = spawn('sh', ['-c', 'exec 5<>"$0"; read x', file], { stdio: ['pipe', 'ignore', 'ignore'] });
  await new Promise((r) => setTimeout(r, 50));
  // Wait until the child holds fd 5 (it opens it before reading stdin).
  for (let i = 0; i < 200 && !fs.existsSync(`/proc/${child.pid}/fd/5`); i++) await new Promise((r) => setTimeout(r, 10));
  const d = await device(procFd(5, child.pid!));
  try {
    const e = await refusal(connectVirtioFs(d.server.address()));
    assert.is(e.errno, Errno.EPROTO);
    assert.match(e.message, /does not hold the device end of this connection/);
  } finally {
    child.kill('SIGKILL');
    await d.server.close();
  }
});

t('a FIFO as guest RAM: refused at once, nothing blocks', async () => {
  const fifo = path.join(tmp, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const d = await device(procFd(fd));
  try {
    const e = await refusal(connectVirtioFs(d.server.address()));
    assert.is(e.errno, Errno.EPROTO);
    assert.match(e.message, /is not a regular file/);
  } finally { fs.closeSync(fd); await d.server.close(); }
});

t('RAM of another size than announced, or held read-only by the device, is refused', async () => {
  const file = path.join(tmp, 'small');
  fs.writeFileSync(file, Buffer.alloc(4096));
  const rw = fs.openSync(file, 'r+');
  let d = await device(procFd(rw));
  try {
    const e = await refusal(connectVirtioFs(d.server.address()));
    assert.is(e.errno, Errno.EPROTO);
    assert.match(e.message, /has 4096 bytes, not 1048576/);
  } finally { fs.closeSync(rw); await d.server.close(); }
  const ro = fs.openSync(file, 'r');
  d = await device(procFd(ro), 'tcp:127.0.0.1:0', 4096);
  try {
    const e = await refusal(connectVirtioFs(d.server.address()));
    assert.is(e.errno, Errno.EPROTO);
    assert.match(e.message, /holds it read-only/);
  } finally { fs.closeSync(ro); await d.server.close(); }
});

t('a MAP naming a FIFO closes the connection with EPROTO; the guest never blocks', async () => {
  const ramFile = path.join(tmp, 'ram');
  fs.writeFileSync(ramFile, Buffer.alloc(RAM_SIZE));
  const ram = fs.openSync(ramFile, 'r+');
  const fifo = path.join(tmp, 'map-fifo');
  execFileSync('mkfifo', [fifo]);
  const ffd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const d = await device(procFd(ram));
  try {
    const guest = connectVirtioFs(d.server.address());
    for (let i = 0; i < 500 && d.links.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const mapped = d.links[0]!.map({ moffset: 0, len: 4096, foffset: 0, flags: 1, path: procFd(ffd) });
    const e = await refusal(guest);
    assert.ok(e.errno === Errno.EIO || e.errno === Errno.EPROTO, e.message);
    await refusal(mapped);
    for (let i = 0; i < 500 && !d.logs.some((l) => /MAP seq \d+: .* is not a regular file/.test(l)); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(d.logs.some((l) => /goodbye \(71\).*MAP seq \d+: .* is not a regular file/.test(l)), d.logs.join('\n'));
  } finally { fs.closeSync(ram); fs.closeSync(ffd); await d.server.close(); }
});

t('the token goes only to a listener of the expected user (TCP and unix)', async () => {
  for (const listen of ['tcp:127.0.0.1:0', `unix:${path.join(tmp, 'dev.sock')}`]) {
    const d = await device('', listen);
    try {
      const e = await refusal(connectWire(d.server.address(), 'secret', { peerUid: 4242 }));
      assert.is(e.errno, Errno.EPROTO);
      assert.match(e.message, /not sending the token: .*(belongs to|owned by) uid \d+, not 4242/);
      assert.is(d.helloSeen, 0, 'no HELLO reached the device');
    } finally { await d.server.close(); }
  }
});

t('/proc/net/tcp rows decode to the addresses Node reports (v4 and v6 loopback)', async () => {
  for (const host of ['127.0.0.1', '::1']) {
    const srv = net.createServer(() => {});
    await new Promise<void>((r) => srv.listen(0, host, () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    const c = net.connect(port, host);
    await new Promise((r) => c.once('connect', r));
    const row = tcpServerSide(c, tcpRows());
    assert.ok(row, `row for ${host}`);
    assert.is(row!.local, `${normalizeHost(host)}:${port}`);
    assert.is(row!.uid, process.geteuid!());
    c.destroy();
    await new Promise((r) => srv.close(r));
  }
});

t.run();
