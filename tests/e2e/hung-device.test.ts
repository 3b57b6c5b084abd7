// A device that stays connected but never completes a request: with
// request-timeout=1 the guest sends FUSE_INTERRUPT after 1 s, aborts the
// connection after another, and every call fails with ECONNABORTED at once.
// The whole stack in one process (driver, rings, FuseServer, MemFs).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../core/errno';
import * as K from '../../fs/fuse';
import type { FuseFilesystem } from '../../tools/vmm/fuse';
import { MemFs } from '../../tools/vmm/memfs';
import { inProcessDevice, mountInProcess } from '../tools/in-process-share';

const t = suite('hung device');

/** MemFs whose ops never return once `hang` is set. */
function hanging(inner: MemFs): { fs: FuseFilesystem; control: { hang: boolean } } {
  const control = { hang: false };
  const fs = new Proxy(inner as unknown as FuseFilesystem, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function' || prop === 'forget' || prop === 'close' || prop === 'destroy') return v;
      return (...args: unknown[]) => (control.hang ? new Promise(() => {}) : v.apply(target, args));
    },
  });
  return { fs, control };
}

t('an unanswered LOOKUP: INTERRUPT, then ECONNABORTED for it and every later call; the driver stops', async () => {
  const { fs, control } = hanging(new MemFs({ 'a.txt': 'a\n' }));
  const host = inProcessDevice(fs, 'hung');
  const seen: number[] = [];
  const server = host.server!;
  const serve = server.serve.bind(server);
  server.serve = (src, reply, queue) => {
    const head = src.bytes(0, 8);
    seen.push(new DataView(head.buffer, head.byteOffset, 8).getUint32(4, true));
    return serve(src, reply, queue);
  };
  try {
    const { driver, vfs } = await mountInProcess(host, { 'request-timeout': '1' });
    control.hang = true;
    const t0 = Date.now();
    let e: unknown;
    try { await vfs.stat('/a.txt'); } catch (err) { e = err; }
    assert.instance(e, ErrnoError);
    assert.is((e as ErrnoError).errno, Errno.ECONNABORTED);
    assert.ok(Date.now() - t0 >= 1900, 'not before the two periods');
    assert.ok(seen.includes(K.FUSE_INTERRUPT), 'the device got FUSE_INTERRUPT first');
    const t1 = Date.now();
    try { await vfs.stat('/b'); assert.unreachable(); } catch (err) { assert.is((err as ErrnoError).errno, Errno.ECONNABORTED); }
    assert.ok(Date.now() - t1 < 1000, 'at once');
    await driver.close();
    assert.ok(driver.failure, 'the driver was stopped');
    await vfs.umount('/', 1);
  } finally {
    await host.close();
  }
});

t.run();
