// virtiofsd creates its socket file at bind(), before listen(): the
// front-end retries a refused or missing socket until a deadline, then
// fails with the last error and the attempts. No daemon needed here: a
// socket file nobody listens on refuses, as virtiofsd's does for a moment,
// and a listener whose backlog is full makes a connect wait (EAGAIN).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { VhostUserConnection } from '../../tools/vmm/vhost-user/connection';
import { VhostUserError } from '../../tools/vmm/vhost-user/protocol';
import { backlogFull, boundNotListening, openFds } from './vhost-socket-rig';

const t = suite('vhost-user connect retries');
let dir = '';
t.before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vu-connect-')); });
t.after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

t('refused, then listening: the connection is made on a later attempt', async () => {
  const p = path.join(dir, 'late.sock');
  boundNotListening(p);
  let server: net.Server | undefined;
  const accepted = new Promise<void>((resolve) => {
    // The daemon "starts listening" once the front-end has been refused at least once.
    setTimeout(() => {
      fs.rmSync(p);
      server = net.createServer(() => resolve()).listen(p);
    }, 100);
  });
  const c = await VhostUserConnection.connectRetrying(p, 10_000);
  await accepted;
  c.close();
  await new Promise((r) => server!.close(r));
});

t('a socket that never listens: the deadline ends it with the last error and the attempts', async () => {
  const p = path.join(dir, 'never.sock');
  boundNotListening(p);
  try {
    await VhostUserConnection.connectRetrying(p, 300);
    assert.unreachable('connected');
  } catch (e) {
    assert.instance(e, VhostUserError);
    assert.match((e as Error).message, /ECONNREFUSED.*\(after \d+ attempts in 300 ms\)/);
  }
});

t('the daemon gone: no more attempts, its status in the error', async () => {
  const p = path.join(dir, 'missing.sock');
  try {
    await VhostUserConnection.connectRetrying(p, 10_000, () => 'virtiofsd ended (exit status 1)');
    assert.unreachable('connected');
  } catch (e) {
    assert.match((e as Error).message, /virtiofsd ended \(exit status 1\)/);
  }
});

t('a listener whose backlog stays full: the connect waits until its timeout, then is rejected; no fd left open', async () => {
  const p = path.join(dir, 'full.sock');
  const before = openFds();
  const listener = await backlogFull(p);
  try {
    await VhostUserConnection.connect(p, 100);
    assert.unreachable('connected past a full backlog');
  } catch (e) {
    assert.instance(e, VhostUserError);
    assert.is((e as VhostUserError).kind, 'timeout');
    assert.match((e as Error).message, /connect to .*full\.sock: no answer in 100 ms \(its backlog is full\)/);
  } finally {
    await listener.stop();
  }
  assert.is(openFds(), before, 'each attempt closed its socket');
});

t('connects that time out and connects refused, 1500 with a 1 ms timeout: each rejected, and the process lives', async () => {
  // usocket, used before, connected on libuv's thread pool: closing its wrap
  // before that returned made the completion call into freed state (SIGSEGV
  // within a few hundred tries). Nothing of a connect outlives the call now.
  const full = path.join(dir, 'slow.sock');
  const refusing = path.join(dir, 'refusing.sock');
  const listener = await backlogFull(full);
  boundNotListening(refusing);
  let timeouts = 0;
  let refused = 0;
  try {
    for (let i = 0; i < 1500; i++) {
      try {
        (await VhostUserConnection.connect(i % 2 ? refusing : full, 1)).close();
        assert.unreachable('connected to a socket that never accepts');
      } catch (e) {
        assert.instance(e, VhostUserError);
        if ((e as VhostUserError).kind === 'timeout') timeouts++;
        else if (/ECONNREFUSED/.test((e as Error).message)) refused++;
      }
    }
  } finally {
    await listener.stop();
  }
  assert.is(timeouts, 750, `every connect to the full backlog timed out (${timeouts})`);
  assert.is(refused, 750, `every connect to the socket not listening was refused (${refused})`);
});

t.run();
