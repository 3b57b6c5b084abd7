// Mounting the fake device under a real Vfs, for the filesystem's tests.
import { Vfs, MountOptions } from '../../../core/vfs';
import { VirtiofsFileSystemType } from '../../../fs/virtiofs';
import { FakeFuseDevice, FakeOptions } from './fs-fake-device';

export async function mounted(opts: FakeOptions = {}, mountOpts: MountOptions = {}, build?: (d: FakeFuseDevice) => void) {
  const dev = new FakeFuseDevice(opts);
  build?.(dev);
  const logs: string[] = [];
  const type = new VirtiofsFileSystemType({ log: (m) => logs.push(m) });
  type.addDevice(dev);
  const vfs = new Vfs();
  await vfs.mount(type, 'fake', '/', mountOpts);
  const readAll = async (path: string, step = 1 << 20): Promise<Uint8Array> => {
    const fd = await vfs.open(path);
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const b = await vfs.read(fd, step);
      if (b.length === 0) break;
      parts.push(b);
      total += b.length;
    }
    await vfs.close(fd);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  return { dev, vfs, type, logs, readAll };
}

/** True when a and b hold the same bytes (without uvu's slow diff of big arrays). */
export function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
