// The vhost-user socket's own calls (tools/native/src/unixsock.c):
// unixConnect and sendmsg with SCM_RIGHTS, checked against an independent
// peer (Python's socket module receives the fds), their errors as errno
// errors with no fd left open, the full-socket path (0, then sent once the
// peer reads), and fds sent to the front-end anyway: dropped by the kernel
// at the read, never installed here.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostcalls } from '../../tools/native/hostcalls.node';
import { VhostUserConnection } from '../../tools/vmm/vhost-user/connection';
import { backlogFull, boundNotListening, openFds, PythonPeer } from './vhost-socket-rig';

const t = suite('vhost-user socket calls');
let dir = '';
t.before(() => {
  assert.ok(hostcalls, 'tools/native is built (npm run build)');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vu-socket-'));
});
t.after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const calls = (): NonNullable<typeof hostcalls> => hostcalls!;

function code(f: () => unknown): string {
  try { f(); } catch (e) { return (e as NodeJS.ErrnoException).code ?? String(e); }
  return 'no error';
}

/** A peer that accepts one connection and prints what one recvmsg brings: the data (hex) and each fd's inode. */
async function receivingPeer(p: string): Promise<PythonPeer> {
  const peer = new PythonPeer(`
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
data, fds, flags, _ = socket.recv_fds(c, 4096, 16)
print(json.dumps({'data': data.hex(), 'inos': [os.fstat(f).st_ino for f in fds], 'truncated': bool(flags & socket.MSG_CTRUNC)}), flush=True)
sys.stdin.read()
`, p);
  const l = await peer.line();
  if (l !== 'ready') { await peer.stop(); throw new Error(l); }
  return peer;
}

t('unixConnect and sendmsg: the peer gets the bytes and the very files, as SCM_RIGHTS', async () => {
  const p = path.join(dir, 'recv.sock');
  const peer = await receivingPeer(p);
  const files = ['a', 'b', 'c'].map((n) => path.join(dir, n));
  for (const f of files) fs.writeFileSync(f, f);
  const fds = files.map((f) => fs.openSync(f, 'r'));
  let fd = -1;
  try {
    fd = calls().unixConnect(Buffer.from(p));
    const data = Buffer.from('header and payload');
    assert.is(calls().sendmsg(fd, data, fds), data.length);
    const got = JSON.parse(await peer.line());
    assert.is(Buffer.from(got.data, 'hex').toString(), 'header and payload');
    assert.equal(got.inos, fds.map((f) => fs.fstatSync(f).ino), 'the same files, in order');
    assert.is(got.truncated, false);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    for (const f of fds) fs.closeSync(f);
    await peer.stop();
  }
});

t('unixConnect: a missing socket ENOENT, one not listening ECONNREFUSED, a full backlog EAGAIN, a long path ENAMETOOLONG; no fd left open', async () => {
  const refusing = path.join(dir, 'refusing.sock');
  boundNotListening(refusing);
  const full = path.join(dir, 'full.sock');
  const before = openFds();
  const listener = await backlogFull(full);
  try {
    assert.is(code(() => calls().unixConnect(Buffer.from(path.join(dir, 'missing.sock')))), 'ENOENT');
    assert.is(code(() => calls().unixConnect(Buffer.from(refusing))), 'ECONNREFUSED');
    assert.is(code(() => calls().unixConnect(Buffer.from(full))), 'EAGAIN');
    assert.is(code(() => calls().unixConnect(Buffer.from(`/${'x'.repeat(108)}`))), 'ENAMETOOLONG');
  } finally {
    await listener.stop();
  }
  assert.is(openFds(), before, 'every failed connect closed its socket');
});

t('bad arguments are TypeErrors, never a syscall on a wrong fd', () => {
  const bad = (f: () => unknown): void => {
    try { f(); } catch (e) { assert.instance(e, TypeError); return; }
    assert.unreachable('accepted');
  };
  const c = calls() as unknown as Record<string, (...a: unknown[]) => unknown>;
  bad(() => c.unixConnect!('/a/string'));
  bad(() => c.unixConnect!(Buffer.alloc(0)));
  bad(() => c.unixConnect!(Buffer.from('/a\0b')));
  bad(() => c.sendmsg!(-1, Buffer.from('x'), []));
  bad(() => c.sendmsg!(1.5, Buffer.from('x'), []));
  bad(() => c.sendmsg!(0, Buffer.alloc(0), []));
  bad(() => c.sendmsg!(0, Buffer.from('x'), [2 ** 31]));
  bad(() => c.sendmsg!(0, Buffer.from('x'), ['3']));
  bad(() => c.sendmsg!(0, Buffer.from('x'), new Array(254).fill(0)));
  bad(() => c.sendmsg!(0, Buffer.from('x')));
});

/** A listener at `name` handing each connection to `onConnection`, listening when this resolves. */
async function listen(name: string, onConnection: (s: net.Socket) => void, pauseOnConnect = false): Promise<{ path: string; server: net.Server }> {
  const p = path.join(dir, name);
  const server = net.createServer({ pauseOnConnect }, onConnection).listen(p);
  await new Promise((r) => server.once('listening', r));
  return { path: p, server };
}

t('sendmsg on a full socket answers 0 (EAGAIN), sending nothing; once the peer reads, the rest goes', async () => {
  // Paused: the peer reads nothing until resumed, so the socket fills.
  let accept: (s: net.Socket) => void = () => undefined;
  const accepted = new Promise<net.Socket>((resolve) => { accept = resolve; });
  const { path: p, server } = await listen('paused.sock', (s) => accept(s), true);
  const fd = calls().unixConnect(Buffer.from(p));
  const peer = await accepted;
  try {
    const chunk = Buffer.alloc(65536, 7);
    let sent = 0;
    let n: number;
    while ((n = calls().sendmsg(fd, chunk, [])) > 0) sent += n;
    assert.is(n, 0, 'full: 0, not an error');
    assert.ok(sent > 0);
    let received = 0;
    peer.on('data', (d: Buffer) => { received += d.length; });
    peer.resume();
    while (received < sent) await new Promise((r) => setImmediate(r));
    let after = 0;
    while (after === 0) { after = calls().sendmsg(fd, chunk, []); await new Promise((r) => setImmediate(r)); }
    while (received < sent + after) await new Promise((r) => setImmediate(r));
    assert.is(received, sent + after, 'every byte sent arrived, none twice');
  } finally {
    fs.closeSync(fd);
    peer.destroy();
    await new Promise((r) => server.close(r));
  }
});

t('sendmsg to a peer gone: EPIPE thrown, no SIGPIPE; to a bad fd: EBADF', async () => {
  let gone: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => { gone = resolve; });
  const { path: p, server } = await listen('gone.sock', (s) => { s.on('close', () => gone()); s.destroy(); });
  const fd = calls().unixConnect(Buffer.from(p));
  try {
    await closed;
    assert.is(code(() => calls().sendmsg(fd, Buffer.from('x'), [])), 'EPIPE');
    assert.is(code(() => calls().sendmsg(0x7fffffff, Buffer.from('x'), [])), 'EBADF');
  } finally {
    fs.closeSync(fd);
    await new Promise((r) => server.close(r));
  }
});

t('fds sent to the front-end with a reply are dropped by the kernel at the read: none installed, the file released', async () => {
  // The peer answers GET_FEATURES with one end of a socketpair attached,
  // closes its own copy, and waits on the other end: EOF there means the
  // last reference went, i.e. the front-end's read(2) dropped the fd.
  const p = path.join(dir, 'fds-back.sock');
  const peer = new PythonPeer(`
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
req = c.recv(12)
a, b = socket.socketpair()
socket.send_fds(c, [struct.pack('<III', 1, 0x5, 8) + struct.pack('<Q', 0x1234)], [b.fileno()])
b.close()
a.settimeout(10)
try:
    print('released' if a.recv(1) == b'' else 'data', flush=True)
except socket.timeout:
    print('still held after 10 s', flush=True)
sys.stdin.read()
`, p);
  let conn: VhostUserConnection | undefined;
  try {
    assert.is(await peer.line(), 'ready');
    const before = openFds();
    conn = await VhostUserConnection.connect(p, 5000);
    assert.is(await conn.getFeatures(), 0x1234n);
    assert.is(await peer.line(), 'released');
    assert.is(openFds(), before + 1, 'only the connection\'s own socket is open');
    conn.close();
    assert.is(openFds(), before, 'close() closed it');
  } finally {
    conn?.close();
    await peer.stop();
  }
});

t.run();
