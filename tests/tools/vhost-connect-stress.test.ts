// A thousand vhost-user connections opened and ended every way one can
// end, ten at a time, with the garbage collector forced between rounds:
// refused, missing, timed out on a full backlog, answered then closed,
// closed with a request in flight, dropped by the back-end, left without
// an answer. With usocket (used before) a GC between a close and libuv's
// close phase freed a handle libuv still used; now nothing native outlives
// a call. The process must live, each end be the right one, and every fd
// be closed at the end.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { VhostUserConnection } from '../../tools/vmm/vhost-user/connection';
import { VhostUserError, VhostUserRequest as R, encodeMessage, encodeU64, VHOST_USER_REPLY_MASK } from '../../tools/vmm/vhost-user/protocol';
import { backlogFull, boundNotListening, openFds, type PythonPeer } from './vhost-socket-rig';

const t = suite('vhost-user connections under churn');
let dir = '';
const servers: net.Server[] = [];
let full: PythonPeer | undefined;

/** global.gc under --expose-gc; else the flag set now and gc taken from a fresh context. */
function collector(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** A fake back-end at `name`: each connection handed to `onConnection`. */
async function backend(name: string, onConnection: (s: net.Socket) => void): Promise<string> {
  const p = path.join(dir, name);
  const server = net.createServer(onConnection).listen(p);
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  return p;
}

t.before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vu-stress-')); });
t.after(async () => {
  for (const s of servers) s.close();
  await full?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const FEATURES = 0x1_0000_0042n;
const ROUNDS = 100;

t('1000 connections, ten at a time, a forced GC after each round: each ends as it must; no fd left open', async () => {
  const gc = collector();
  const answering = await backend('answering.sock', (s) => {
    s.on('data', () => s.write(encodeMessage(R.GET_FEATURES, VHOST_USER_REPLY_MASK, encodeU64(FEATURES))));
  });
  const dropping = await backend('dropping.sock', (s) => s.destroy());
  const silent = await backend('silent.sock', (s) => s.resume());
  const refusing = path.join(dir, 'refusing.sock');
  boundNotListening(refusing);
  const fullPath = path.join(dir, 'full.sock');
  full = await backlogFull(fullPath);
  const missing = path.join(dir, 'missing.sock');
  const before = openFds();

  const rejects = async (p: Promise<unknown>, kind: string, message: RegExp): Promise<void> => {
    try { await p; } catch (e) {
      assert.instance(e, VhostUserError);
      assert.is((e as VhostUserError).kind, kind, (e as Error).message);
      assert.match((e as Error).message, message);
      return;
    }
    assert.unreachable(`no ${kind}`);
  };
  const kinds: (() => Promise<void>)[] = [
    () => rejects(VhostUserConnection.connect(refusing, 1000), 'closed', /ECONNREFUSED/),
    () => rejects(VhostUserConnection.connect(missing, 1000), 'closed', /ENOENT/),
    () => rejects(VhostUserConnection.connect(fullPath, 1), 'timeout', /backlog is full/),
    async () => { // answered, then closed
      const c = await VhostUserConnection.connect(answering, 5000);
      assert.is(await c.getFeatures(), FEATURES);
      c.close();
    },
    async () => { // closed with a request in flight
      const c = await VhostUserConnection.connect(silent, 5000);
      const asked = c.getFeatures();
      c.close();
      await rejects(asked, 'closed', /closed/);
    },
    async () => { // dropped by the back-end: reported once
      const c = await VhostUserConnection.connect(dropping, 5000);
      const reports: VhostUserError[] = [];
      c.onClose((e) => reports.push(e));
      await rejects(c.getFeatures(), 'closed', /dropping\.sock/);
      assert.is(reports.length, 1);
    },
    async () => { // no answer in time: reported once
      const c = await VhostUserConnection.connect(silent, 20);
      const reports: VhostUserError[] = [];
      c.onClose((e) => reports.push(e));
      await rejects(c.getFeatures(), 'timeout', /no reply to GET_FEATURES in 20 ms/);
      assert.is(reports.length, 1);
      c.close();
    },
  ];
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(Array.from({ length: 10 }, (_, i) => kinds[(round + i) % kinds.length]!()));
    gc();
  }
  // The back-ends' ends close once they see ours closed.
  const connections = (): Promise<number> => Promise.all(servers.map((s) => new Promise<number>((r) => s.getConnections((_, n) => r(n)))))
    .then((ns) => ns.reduce((a, b) => a + b, 0));
  while (await connections() > 0) await new Promise((r) => setTimeout(r, 5));
  gc();
  assert.is(openFds(), before, 'every socket closed');
});

t.run();
