import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WindowBacking } from '../../core/window';
import { HostFileRange } from '../../core/host-file.node';
import { WindowMapper } from '../../tools/vmm/window-mapper';
import type { DeviceLink, MapRequest } from '../../tools/vmm/wire-server';
import { MAP_WRITE } from '../../drivers/wire/frames';

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


t('a write mapping: MAP_WRITE on the frame, the guest opens the path read-write; an upgrade re-maps the range in place', async () => {
  const f = path.join(dir, 'w');
  fs.writeFileSync(f, Buffer.alloc(8192, 0x11));
  const fd = fs.openSync(f, 'r+');
  const guestWindow = new WindowBacking(8192);
  const flags: number[] = [];
  // As drivers/virtio-fs/connect.node.ts applies a MAP: read-write only with MAP_WRITE.
  const link: DeviceLink = {
    peer: 'test', closed: false, interrupt() {}, close() {},
    async map(m: MapRequest) {
      flags.push(m.flags);
      const w = (m.flags & MAP_WRITE) !== 0;
      guestWindow.map(m.moffset, m.len, HostFileRange.open(m.path, w), m.foffset, w);
    },
    async unmap(moffset: number, len: number) { guestWindow.unmap(moffset, len); },
  };
  const mapper = new WindowMapper(new WindowBacking(8192), link);
  await mapper.map({ moffset: 0, len: 8192, fd, foffset: 0, writable: false });
  assert.throws(() => guestWindow.write(10, new Uint8Array([1])), /read mapping/, 'a store through a read mapping faults');
  assert.throws(() => mapper.window.write(10, new Uint8Array([1])), /read mapping/);
  // The upgrade: the same range, the same file range, for writing.
  await mapper.map({ moffset: 0, len: 8192, fd, foffset: 0, writable: true });
  assert.equal(flags.map((x) => (x & MAP_WRITE) !== 0), [false, true]);
  guestWindow.write(10, new Uint8Array([0xab, 0xcd]));
  const host = fs.readFileSync(f); // a host reader, at once
  assert.equal([host[9], host[10], host[11], host[12]], [0x11, 0xab, 0xcd, 0x11]);
  const d = new Uint8Array(2);
  mapper.window.read(10, d);
  assert.equal(Array.from(d), [0xab, 0xcd], 'the device\'s view of the window is the same file');
  assert.is(guestWindow.mappings().length, 1, 'replaced, not doubled');
  await mapper.unmap([{ moffset: 0, len: 8192 }]);
  guestWindow.clear();
  fs.closeSync(fd);
});

t.run();
