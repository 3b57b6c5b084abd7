import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WindowBacking } from '../../core/window';
import { HostFileRange } from '../../core/host-file.node';
import { WindowMapper } from '../../tools/vmm/window-mapper';
import type { DeviceLink, MapRequest } from '../../tools/vmm/wire-server';

const t = suite('device-side window mapper');

let dir = '';
t.before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapper-')); });
t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A guest link that applies MAP/UNMAP to its own window after a delay, as a remote guest does. */
function fakeLink(guestWindow: WindowBacking, log: string[]): DeviceLink {
  return {
    peer: 'test', closed: false,
    interrupt() {},
    close() {},
    async map(m: MapRequest) {
      log.push(`map ${m.moffset}`);
      await new Promise((r) => setTimeout(r, 5));
      // The guest opens the path itself: the device's descriptor must still be open.
      guestWindow.map(m.moffset, m.len, HostFileRange.open(m.path, false), m.foffset, false);
      log.push(`ack ${m.moffset}`);
    },
    async unmap(moffset: number, len: number) {
      log.push(`unmap ${moffset}`);
      guestWindow.unmap(moffset, len);
    },
  };
}

t('a remote guest sees the same file bytes; changes apply one at a time', async () => {
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  fs.writeFileSync(a, Buffer.alloc(8192, 0xaa));
  fs.writeFileSync(b, Buffer.alloc(8192, 0xbb));
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  const guestWindow = new WindowBacking(16384);
  const log: string[] = [];
  const mapper = new WindowMapper(new WindowBacking(16384), fakeLink(guestWindow, log));
  // Two SETUPMAPPINGs over the same range at once: the second must not start
  // (and close the first one's descriptor) before the guest acked the first.
  await Promise.all([
    mapper.map({ moffset: 0, len: 8192, fd: fa, foffset: 0, writable: false }),
    mapper.map({ moffset: 0, len: 8192, fd: fb, foffset: 0, writable: false }),
  ]);
  fs.closeSync(fa); // the FUSE fh may go: the mapping keeps its own descriptor
  fs.closeSync(fb);
  assert.equal(log, ['map 0', 'ack 0', 'map 0', 'ack 0']);
  const d = new Uint8Array(4);
  guestWindow.read(100, d);
  assert.equal(Array.from(d), [0xbb, 0xbb, 0xbb, 0xbb]);
  mapper.window.read(100, d);
  assert.equal(Array.from(d), [0xbb, 0xbb, 0xbb, 0xbb]);
  await mapper.unmap([{ moffset: 0, len: 8192 }]);
  assert.throws(() => guestWindow.read(0, d), /unmapped/);
  assert.throws(() => mapper.window.read(0, d), /unmapped/);
  guestWindow.clear();
});

t('a failed map leaves nothing mapped and the next change still runs', async () => {
  const f = path.join(dir, 'c');
  fs.writeFileSync(f, 'x');
  const fd = fs.openSync(f, 'r');
  const mapper = new WindowMapper(new WindowBacking(8192));
  let failed = false;
  try { await mapper.map({ moffset: 4096, len: 8192, fd, foffset: 0, writable: false }); } catch { failed = true; }
  assert.ok(failed, 'a range past the window is refused');
  assert.is(mapper.window.mappings().length, 0);
  await mapper.map({ moffset: 0, len: 4096, fd, foffset: 0, writable: false });
  assert.is(mapper.window.mappings().length, 1);
  mapper.clear();
  fs.closeSync(fd);
});

t.run();
