// virtiofsd creates its socket file at bind(), before listen(): the
// front-end retries a refused or missing socket until a deadline, then
// fails with the last error and the attempts. No daemon needed here: a
// socket file nobody listens on refuses, as virtiofsd's does for a moment.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { VhostUserConnection } from '../../tools/vmm/vhost-user/connection';
import { VhostUserError } from '../../tools/vmm/vhost-user/protocol';

const t = suite('vhost-user connect retries');
let dir = '';
t.before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vu-connect-')); });
t.after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** A unix socket file that is bound but never listens: connect is refused. */
function boundNotListening(p: string): void {
  execFileSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', p]);
}

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

t('a connect that times out while usocket still connects on the thread pool: rejected, and the process lives', async () => {
  // Closing usocket's wrap before its threaded connect returned made the
  // completion call into freed state: SIGSEGV within a few hundred tries.
  const p = path.join(dir, 'slow.sock');
  boundNotListening(p);
  let timeouts = 0;
  let refused = 0;
  for (let i = 0; i < 1500; i++) {
    try {
      (await VhostUserConnection.connect(p, 1)).close();
      assert.unreachable('connected to a socket that never listens');
    } catch (e) {
      assert.instance(e, VhostUserError);
      if ((e as VhostUserError).kind === 'timeout') timeouts++; else refused++;
    }
  }
  assert.ok(timeouts > 0, `some connects outlasted 1 ms (${timeouts} timeouts, ${refused} refused)`);
  await new Promise((r) => setTimeout(r, 200)); // the late completions arrive
});

t.run();
