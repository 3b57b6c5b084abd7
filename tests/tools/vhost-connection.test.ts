// The vhost-user connection over a back-end faked by a net.Server: a
// back-end that stops reading fills the socket, and the messages wait
// (sendmsg's EAGAIN) and all go, in order, once it reads again; one that
// never reads again ends the connection with a timeout, reported once.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { VhostUserConnection } from '../../tools/vmm/vhost-user/connection';
import { VHOST_USER_HDR_SIZE, VhostUserError, VhostUserRequest as R } from '../../tools/vmm/vhost-user/protocol';
import { openFds } from './vhost-socket-rig';

const t = suite('vhost-user connection, faked back-end');
let dir = '';
t.before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vu-conn-')); });
t.after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** A back-end that accepts one connection and reads nothing until resumed. */
async function pausedBackend(name: string): Promise<{ path: string; peer: Promise<net.Socket>; close(): Promise<void> }> {
  const p = path.join(dir, name);
  let accept: (s: net.Socket) => void = () => undefined;
  const peer = new Promise<net.Socket>((resolve) => { accept = resolve; });
  const server = net.createServer({ pauseOnConnect: true }, (s) => accept(s)).listen(p);
  await new Promise((r) => server.once('listening', r));
  return { path: p, peer, close: async () => { (await peer).destroy(); await new Promise((r) => server.close(r)); } };
}

const MESSAGES = 4000; // 80 KB of SET_FEATURES in 20-byte messages: far more than a unix socket's send buffer holds

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

t('a back-end that stops reading: the messages wait on the full socket, then all go, in order, once it reads', async () => {
  const be = await pausedBackend('paused.sock');
  const conn = await VhostUserConnection.connect(be.path, 10_000);
  try {
    let done = 0;
    const sent = Array.from({ length: MESSAGES }, (_, i) => conn.setFeatures(BigInt(i)).then(() => { done++; }));
    for (let i = 0; i < 10; i++) await tick();
    assert.ok(done < MESSAGES, `the socket filled: ${done} of ${MESSAGES} sent before the back-end read`);
    const peer = await be.peer;
    const chunks: Buffer[] = [];
    peer.on('data', (d: Buffer) => chunks.push(d));
    peer.resume();
    await Promise.all(sent);
    const bytes = 20 * MESSAGES;
    while (chunks.reduce((n, c) => n + c.length, 0) < bytes) await tick();
    const all = Buffer.concat(chunks);
    assert.is(all.length, bytes, 'no byte twice, none lost');
    for (let i = 0; i < MESSAGES; i++) {
      const m = all.subarray(20 * i, 20 * (i + 1));
      assert.is(m.readUInt32LE(0), R.SET_FEATURES);
      assert.is(m.readUInt32LE(8), 8);
      assert.is(m.readBigUInt64LE(VHOST_USER_HDR_SIZE), BigInt(i), `message ${i} in order`);
    }
  } finally {
    conn.close();
    await be.close();
  }
});

t('a back-end that never reads again: the connection ends with a timeout, reported once; every message waiting rejected', async () => {
  const be = await pausedBackend('stuck.sock');
  const conn = await VhostUserConnection.connect(be.path, 200);
  try {
    await be.peer;
    const open = openFds();
    const reports: VhostUserError[] = [];
    conn.onClose((e) => reports.push(e));
    const outcomes = await Promise.allSettled(Array.from({ length: MESSAGES }, (_, i) => conn.setFeatures(BigInt(i))));
    const rejected = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
    assert.ok(rejected.length > 0 && outcomes[MESSAGES - 1]!.status === 'rejected', 'the messages after the full socket failed');
    for (const r of rejected) assert.instance(r.reason, VhostUserError);
    assert.is(reports.length, 1, 'reported once');
    assert.is(reports[0]!.kind, 'timeout');
    assert.match(reports[0]!.message, /stuck\.sock full: the back-end read nothing in 200 ms/);
    assert.ok(conn.isClosed);
    assert.is(openFds(), open - 1, 'its socket is closed');
  } finally {
    conn.close();
    await be.close();
  }
});

t.run();
