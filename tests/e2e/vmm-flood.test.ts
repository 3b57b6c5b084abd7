// The spawned device model under a guest that floods register reads and
// never reads the answers: its memory stays bounded (it stops reading that
// guest), another guest is served meanwhile, and the flooder is cut off.
// (Before backpressure the vmm grew from 46 MB to over 1 GB here.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseWireAddress } from '../../drivers/wire/address';
import { encodeHello, encodeRegRead } from '../../drivers/wire/frames';
import { mountShare } from '../../tools/guest/mount';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';

const t = suite('vmm under a register-read flood');
let dir = '';
let vmm: VmmChild | undefined;

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

t.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flood-'));
  fs.writeFileSync(path.join(dir, 'hello'), 'hello\n');
  vmm = await spawnVmm(['--shared-dir', dir, '--cache-size', '0', '--memory', '16M', '--max-queued-bytes', '256K']);
});

t.after(async () => {
  await vmm?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

t('RSS stays bounded while a guest floods and never reads; another guest is served', async () => {
  const pid = vmm!.child.pid!;
  const before = rssMb(pid);
  const a = parseWireAddress(vmm!.address);
  if (a.kind !== 'tcp') throw new Error('tcp expected');
  const sock = net.connect(a.port, a.host);
  sock.on('error', () => {});
  await new Promise((r) => sock.once('connect', r));
  sock.write(encodeHello(new TextEncoder().encode(vmm!.token)));
  await new Promise((r) => sock.once('data', r)); // WELCOME
  sock.pause();
  let id = 0;
  let peak = before;
  const batch = () => Buffer.concat(Array.from({ length: 4096 }, () => encodeRegRead(id++ >>> 0, 0x70, 4)));
  // Bounded: at most 8M reads (160 MB of frames), or until our own 32 MB backlog shows the device stopped reading.
  for (let n = 0; n < 2048 && !sock.destroyed && sock.writableLength < 32 << 20; n++) {
    sock.write(batch());
    await new Promise((r) => setTimeout(r, 1));
    peak = Math.max(peak, rssMb(pid));
  }
  assert.ok(sock.writableLength >= 32 << 20 || sock.destroyed, 'the device stopped reading the flooder');
  const guest = await mountShare({ connect: vmm!.address, token: vmm!.token });
  try {
    const fd = await guest.vfs.open('/hello');
    assert.is(Buffer.from(await guest.vfs.read(fd, 100)).toString(), 'hello\n', 'another guest is served meanwhile');
    await guest.vfs.close(fd);
  } finally { await guest.close(); }
  peak = Math.max(peak, rssMb(pid));
  assert.ok(peak - before < 400, `RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MB`);
  sock.destroy();
});

t.run();
