// The vhost-user backend against the real virtiofsd (qemu-system-common's
// /usr/lib/qemu/virtiofsd): bring-up, FUSE round trips through the daemon,
// reset, a daemon killed mid-request, too many queues.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriverQueue } from '../../drivers/virtqueue';
import * as K from '../../fs/fuse';
import { VhostUserBackend, VhostUserError, VhostUserFrontend } from '../../tools/vmm/vhost-user';
import { Guest, RAM_SIZE, allThreadsStopped, enc, pidsWith, requireVirtiofsd, tempShare, timeout, until } from './vhost-user-rig';

const t = suite('vhost-user (real virtiofsd)');

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

t.run();
