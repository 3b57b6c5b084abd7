// No request waits forever: FUSE_INTERRUPT after request-timeout, the
// connection aborted (ECONNABORTED for everything, at once) after as long
// again. A fake clock drives the deadlines: nothing here depends on timing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import { GuestMemory } from '../../../core/memory';
import { Vfs } from '../../../core/vfs';
import * as K from '../../../fs/fuse';
import { decodeRequest, encodeOutHeader } from '../../../fs/fuse';
import { FuseSession, VirtiofsFileSystemType, connectionOf, type FuseDevice } from '../../../fs/virtiofs';
import { parseOptions } from '../../../fs/virtiofs/options';
import { FakeFuseDevice } from './fs-fake-device';

const t = suite('request-timeout');

class FakeClock {
  now = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;
  readonly api = {
    setTimeout: (fn: () => void, ms: number): unknown => { const id = this.next++; this.timers.push({ at: this.now + ms, fn, id }); return id; },
    clearTimeout: (h: unknown): void => { this.timers = this.timers.filter((x) => x.id !== h); },
  };
  get pending(): number { return this.timers.length; }
  advance(ms: number): void {
    this.now += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.now).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.timers = this.timers.filter((x) => x !== due);
      due.fn();
    }
  }
}

/** A device that answers nothing until told to. */
class SilentDevice implements FuseDevice {
  readonly id = {};
  readonly memory = new GuestMemory();
  readonly requests: { bytes: Uint8Array; answer(b: Uint8Array): void }[] = [];
  readonly sent: Uint8Array[] = [];
  aborts: string[] = [];
  request(bytes: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve) => this.requests.push({ bytes, answer: resolve }));
  }
  send(bytes: Uint8Array): void { this.sent.push(bytes); }
  getDax() { return undefined; }
  abort(reason: string): void { this.aborts.push(reason); }
}

const flush = () => new Promise((r) => setImmediate(r));
async function errnoOf(p: Promise<unknown>): Promise<number> {
  try { await p; } catch (e) { assert.instance(e, ErrnoError); return (e as ErrnoError).errno; }
  throw new Error('expected a rejection');
}
const getattr = (s: FuseSession) => s.call(K.FUSE_GETATTR, 1n, { getattr_flags: 0, fh: 0n });

t('unanswered: FUSE_INTERRUPT after the timeout, then the connection aborts; every call fails at once', async () => {
  const clock = new FakeClock();
  const dev = new SilentDevice();
  const logs: string[] = [];
  const s = new FuseSession(dev, (m) => logs.push(m), { requestTimeoutMs: 1000, timers: clock.api });
  const a = getattr(s);
  const b = s.call(K.FUSE_STATFS, 1n, null);
  let aDone = false;
  a.catch(() => undefined).finally(() => { aDone = true; });
  clock.advance(999);
  await flush();
  assert.is(dev.sent.length, 0);
  clock.advance(1);
  await flush();
  assert.is(dev.sent.length, 2, 'one INTERRUPT per request');
  const int = decodeRequest(dev.sent[0]!);
  assert.ok(int.ok);
  if (int.ok) {
    assert.is(int.value.opcode, K.FUSE_INTERRUPT);
    assert.is((int.value.body as { unique: bigint }).unique, decodeRequest(dev.requests[0]!.bytes).ok
      ? (decodeRequest(dev.requests[0]!.bytes) as { value: { unique: bigint } }).value.unique : -1n);
  }
  assert.not.ok(aDone, 'the caller still waits during the grace period');
  clock.advance(1000);
  assert.is(await errnoOf(a), Errno.ECONNABORTED);
  assert.is(await errnoOf(b), Errno.ECONNABORTED);
  assert.is(dev.aborts.length, 1, 'the device told once');
  assert.match(logs.join('\n'), /connection aborted: FUSE_GETATTR unique \d+: no reply within 1000 ms of its FUSE_INTERRUPT/);
  // Later calls fail at once; a late reply changes nothing.
  assert.is(await errnoOf(getattr(s)), Errno.ECONNABORTED);
  assert.is(await errnoOf(s.forget(5n, 1)), Errno.ECONNABORTED);
  dev.requests[0]!.answer(encodeOutHeader({ len: 16, error: 0, unique: 2n }));
  assert.is(clock.pending, 0, 'no timer left');
});

t('a device that answers the INTERRUPT (EINTR) fails just that call; the connection lives', async () => {
  const clock = new FakeClock();
  const dev = new SilentDevice();
  const s = new FuseSession(dev, () => {}, { requestTimeoutMs: 500, timers: clock.api });
  const a = getattr(s);
  clock.advance(500);
  await flush();
  const req = decodeRequest(dev.requests[0]!.bytes);
  assert.ok(req.ok);
  const unique = req.ok ? req.value.unique : 0n;
  dev.requests[0]!.answer(encodeOutHeader({ len: 16, error: -Errno.EINTR, unique }));
  assert.is(await errnoOf(a), Errno.EINTR);
  clock.advance(10_000);
  assert.is(dev.aborts.length, 0);
  assert.is(s.aborted, undefined);
  assert.is(clock.pending, 0);
});

t('request-timeout=0: no deadline; FUSE_SETLKW has none either', async () => {
  const clock = new FakeClock();
  const dev = new SilentDevice();
  const s = new FuseSession(dev, () => {}, { requestTimeoutMs: 0, timers: clock.api });
  void getattr(s);
  assert.is(clock.pending, 0);
  const s2 = new FuseSession(dev, () => {}, { requestTimeoutMs: 100, timers: clock.api });
  void s2.call(K.FUSE_SETLKW, 2n, { fh: 1n, owner: 1n, lk: { start: 0n, end: 0n, type: 1, pid: 1 }, lk_flags: 0 });
  assert.is(clock.pending, 0);
});

t('a FORGET the device never takes aborts the connection after one timeout', async () => {
  const clock = new FakeClock();
  const dev = new SilentDevice();
  dev.send = () => new Promise<void>(() => {}) as unknown as void;
  const s = new FuseSession(dev, () => {}, { requestTimeoutMs: 100, timers: clock.api });
  const f = s.forget(7n, 1);
  clock.advance(100);
  assert.is(await errnoOf(f), Errno.ECONNABORTED);
  assert.match(dev.aborts[0]!, /FUSE_FORGET unique \d+: not taken by the device within 100 ms/);
});

t('mount option request-timeout: seconds, 0 for none, EINVAL otherwise; one value per connection', async () => {
  assert.is(parseOptions({ 'request-timeout': '7' }).requestTimeoutMs, 7000);
  assert.is(parseOptions({ 'request-timeout': '0' }).requestTimeoutMs, 0);
  assert.is(parseOptions({}).requestTimeoutMs, undefined);
  for (const v of ['-1', '1.5', 'soon', '99999999']) {
    try { parseOptions({ 'request-timeout': v }); assert.unreachable(v); } catch (e) { assert.is((e as ErrnoError).errno, Errno.EINVAL); }
  }
  const dev = new FakeFuseDevice();
  const type = new VirtiofsFileSystemType({ log: () => {} });
  type.addDevice(dev);
  const vfs = new Vfs();
  await vfs.mount(type, 'fake', '/', { 'request-timeout': '12' });
  assert.is((await connectionOf(dev))!.session.requestTimeoutMs, 12_000);
  try { await new Vfs().mount(type, 'fake', '/', { 'request-timeout': '13' }); assert.unreachable(); } catch (e) {
    assert.is((e as ErrnoError).errno, Errno.EINVAL);
  }
  await vfs.umount('/');
  await new Vfs().mount(type, 'fake', '/', {});
  assert.is((await connectionOf(dev))!.session.requestTimeoutMs, 30_000, 'the default');
});

t.run();
