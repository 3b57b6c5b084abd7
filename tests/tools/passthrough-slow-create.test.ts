import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Errno } from '../../core/errno';
import * as K from '../../fs/fuse';
import { fuseName } from '../../fs/fuse';
import { PassthroughServer } from '../../tools/vmm/passthrough';
import { PassthroughClient } from '../../tools/vmm/passthrough/client';

// CREATE through the thread pool (a filesystem the slow guard moved there):
// the fd it keeps is a plain number that a garbage collection cannot close
// behind its back. A FileHandle's fd taken out of the handle was closed
// again when the handle was collected: writes through the fh failed EBADF,
// or the device model died on "Closing file descriptor N on garbage
// collection failed" (the harness's write checks found it).
const t = suite('passthrough: CREATE on the thread-pool path');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

t('the fh of a CREATE survives a garbage collection; RELEASE closes it once', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-slow-create-'));
  let now = 0;
  // Every blocking call takes 1 s by this clock: hung, so the filesystem
  // goes to the thread pool at once and stays there.
  const server = new PassthroughServer({ root, daxPolicy: 'none', logger: { warn: () => undefined }, slowSyncMs: 2, clock: () => (now += 1000) });
  const c = new PassthroughClient(server);
  try {
    await c.init();
    const dev = fs.statSync(root, { bigint: true }).dev;
    assert.is((await c.call(K.FUSE_LOOKUP, 1n, { name: fuseName('nope') })).errno, Errno.ENOENT);
    assert.ok(server.slowFilesystem(dev), 'the thread-pool path');
    const fhs: Array<[bigint, bigint]> = [];
    for (let k = 0; k < 20; k++) {
      const r = await c.call(K.FUSE_CREATE, 1n, { flags: fs.constants.O_RDWR, mode: 0o644, umask: 0, open_flags: 0, name: fuseName(`f${k}`) });
      assert.is(r.errno, 0);
      fhs.push([r.body!.entry_out.nodeid, r.body!.open_out.fh]);
    }
    gc();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    for (const [nodeid, fh] of fhs) {
      const w = await c.call(K.FUSE_WRITE, nodeid, { fh, offset: 0n, write_flags: 0, lock_owner: 0n, flags: 0, data: new Uint8Array(9).fill(7) });
      assert.is(w.errno, 0, 'the fd is still open');
      assert.is((await c.call(K.FUSE_RELEASE, nodeid, { fh, flags: 0, release_flags: 0, lock_owner: 0n })).errno, 0);
    }
    gc();
    await new Promise((r) => setImmediate(r));
    for (let k = 0; k < 20; k++) assert.is(fs.readFileSync(path.join(root, `f${k}`)).length, 9);
  } finally {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

t.run();
