import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { BufferBacking, GuestMemory } from '../../core/memory';
import { ShmFileBacking } from '../../core/shm-file.node';
import { guestMemorySuite, pattern, throwsGm, type Kind } from './memory-suite';

// The plain buffer here; the shared files in memory-positioned.test.ts and
// memory-mapped.test.ts.
const buffer: Kind = { name: 'buffer', make: (n) => new BufferBacking(n), live: true, cleanup: () => {} };
guestMemorySuite(buffer);

const c = suite('memory (construction)');

c('constructor takes regions and checks their sizes', () => {
  const b = new BufferBacking(32);
  const m = new GuestMemory([{ name: 'ram', base: 0, size: 32, backing: b }]);
  m.setU8(31, 1);
  assert.is(b.bytes[31], 1);
  throwsGm(() => new GuestMemory([{ name: 'ram', base: 0, size: 64, backing: b }]), 'size mismatch');
});

c('BufferBacking over a subarray stays inside it', () => {
  const whole = new Uint8Array(64);
  const m = new GuestMemory();
  m.addRegion('ram', 0x1000, new BufferBacking(whole.subarray(16, 32)));
  m.setU32(0x1000, 0xffffffff);
  m.setU32(0x100c, 0xaabbccdd);
  assert.is(whole[16], 0xff);
  assert.is(whole[28], 0xdd);
  assert.is(whole[15], 0);
  assert.is(whole[32], 0);
  throwsGm(() => m.u8(0x1010), 'past the subarray');
});

c('ShmFileBacking: exclusive create, mode 0600, size; open sees the same bytes', () => {
  const a = ShmFileBacking.create(8192);
  try {
    assert.match(a.path, /^\/dev\/shm\/virtiofs-\d+-[0-9a-f]+$/);
    const st = fs.statSync(a.path);
    assert.is(st.size, 8192);
    assert.is(st.mode & 0o777, 0o600);
    const name = a.path.slice('/dev/shm/'.length);
    assert.throws(() => ShmFileBacking.create(4096, { name }), /EEXIST/);
    const b = ShmFileBacking.open(a.path);
    try {
      assert.is(b.size, 8192);
      a.write(4000, pattern(200, 1));
      const dst = new Uint8Array(200);
      b.read(4000, dst);
      assert.equal(dst, pattern(200, 1));
      // reads past the end of the file fail instead of spinning
      assert.throws(() => b.read(8100, new Uint8Array(200)), /short read/);
    } finally { b.close(); }
    a.close();
    a.close(); // idempotent
    assert.ok(a.closed);
    assert.throws(() => a.read(0, new Uint8Array(1)), /closed/);
  } finally { a.close(); a.unlink(); }
  assert.not.ok(fs.existsSync(a.path));
});

c('ShmFileBacking: bad sizes and names are rejected; dir option', () => {
  assert.throws(() => ShmFileBacking.create(0), RangeError);
  assert.throws(() => ShmFileBacking.create(1.5), RangeError);
  assert.throws(() => ShmFileBacking.create(16, { name: '../x' }), RangeError);
  assert.throws(() => ShmFileBacking.create(16, { name: '..' }), RangeError);
  const dir = fs.mkdtempSync('/tmp/shm-test-');
  try {
    const b = ShmFileBacking.create(16, { dir, name: 'guest-ram' });
    assert.is(b.path, `${dir}/guest-ram`);
    b.close();
    fs.writeFileSync(`${dir}/empty`, '');
    assert.throws(() => ShmFileBacking.open(`${dir}/empty`), /bad size/);
    assert.throws(() => ShmFileBacking.open(dir), /not a regular file|EISDIR/);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

c.run();
