// Lookup accounting of the passthrough: the write checks and a random run
// through a guest and the passthrough device model in this process (its
// tables are not visible across the wire), then an unmount; when DESTROY
// arrives the passthrough must hold no inode but the root and no handle:
// every LOOKUP, CREATE, MKNOD, MKDIR, SYMLINK and LINK reply was given back
// by FORGET, every OPEN and OPENDIR by RELEASE. After DESTROY, the same.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Allocator } from '../../core';
import { Vfs } from '../../core/vfs';
import { InProcessTransport } from '../../drivers/virtio-mmio';
import { VirtioFsDriver } from '../../drivers/virtio-fs';
import { VirtiofsFileSystemType, fuseDeviceOf } from '../../fs/virtiofs';
import { DeviceInstance } from '../vmm/instance';
import { PassthroughFs } from '../vmm/passthrough';
import type { Mismatch } from './compare';
import type { CheckResult } from './result';
import { WriteRig, type WriteOptions } from './writes';

export const ACCOUNTING = 'lookup accounting (passthrough in this process)';
/** What the vhost-user row says: virtiofsd's tables are its own. */
export const ACCOUNTING_NOT_VISIBLE = "virtiofsd's inode and handle tables are not visible to the harness: lookup accounting is checked on the passthrough";

interface Counts { inodes: number; handles: number; dirs: number }

export async function checkAccounting(o: WriteOptions & { cacheSize: number }, progress: (m: string) => void): Promise<CheckResult> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'virtiofs-harness-acct-')));
  fs.chmodSync(dir, 0o755);
  const rig = new WriteRig(dir);
  rig.mountXdev();
  let pt: PassthroughFs | undefined;
  let atDestroy: Counts | undefined;
  const counts = (): Counts => ({ inodes: pt!.state.inodes.size, handles: pt!.state.handles.size, dirs: pt!.state.dirs.size });
  const memory = 64 << 20;
  const host = DeviceInstance.create({
    sharedDir: dir, tag: 'harness', cacheSize: o.cacheSize, queueSize: 256, numRequestQueues: 1, memory,
    daxPolicy: 'always', readonly: false, logger: (m) => progress(`passthrough: ${m}`),
    filesystem: (dax) => {
      // Blocking host calls only: this check is about lookups and handles,
      // and the harness's own process must not take the thread-pool paths.
      pt = new PassthroughFs({ root: dir, dax, daxPolicy: 'always', slowSyncMs: Number.MAX_SAFE_INTEGER });
      const fsImpl = pt;
      return new Proxy(fsImpl, {
        get(target, prop) {
          if (prop === 'destroy') return async () => { atDestroy = counts(); await target.destroy(); };
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
  }, { ram: 'buffer' });
  const rows: CheckResult[] = [];
  let ops = 0;
  let after: Counts | undefined;
  let error = '';
  try {
    const driver = await VirtioFsDriver.probe(new InProcessTransport(host.device.registers), host.memory, new Allocator(0, memory));
    const type = new VirtiofsFileSystemType();
    type.addDevice(fuseDeviceOf(driver, host.memory));
    const vfs = new Vfs({ firstFd: 3 });
    await vfs.mount(type, 'harness', '/', { dax: o.cacheSize > 0 ? 'always' : 'never' });
    try {
      rows.push(...await rig.run(vfs, true, 'acct', o, (m) => progress(`[accounting] ${m}`)));
      ops = rows.length;
    } finally {
      await vfs.umount('/');
      after = counts();
      await driver.close();
    }
  } catch (err) {
    error = (err as Error).message;
  } finally {
    await host.close();
    await rig.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const mismatches: Mismatch[] = [];
  const want = (what: string, n: number | undefined, expected: number) => {
    if (n !== expected) mismatches.push({ path: what, field: n === undefined ? 'not reached' : 'count', host: String(expected), guest: n === undefined ? '-' : String(n) });
  };
  if (error) mismatches.push({ path: 'run', field: 'error', host: 'ok', guest: error });
  want('inodes at DESTROY (the root only)', atDestroy?.inodes, 1);
  want('handles at DESTROY', atDestroy?.handles, 0);
  want('inodes after the unmount', after?.inodes, 1);
  want('handles after the unmount', after?.handles, 0);
  const failed = rows.filter((r) => r.status === 'fail').map((r) => r.check);
  const details = `after the write checks${o.ops ? ` and ${o.ops} random ops (seed ${o.seed})` : ''} and an unmount: `
    + `at DESTROY ${atDestroy ? `${atDestroy.inodes} inode(s), ${atDestroy.handles} handle(s), ${atDestroy.dirs} cached directory fd(s)` : 'not reached'}`
    + (failed.length ? `; ${failed.length} of its ${ops} sequences showed differences (not told here: this row is about the counts)` : '');
  return { check: ACCOUNTING, status: mismatches.length ? 'fail' : 'pass', details, mismatches };
}
