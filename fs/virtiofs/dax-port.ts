// The window manager's DaxPort over a FUSE session: the window is guest
// memory at the region's base (reads and writes of it reach the host file
// each range shows: docs/PROTOCOL.md, "The DAX window across two
// processes"), and mappings change through FUSE_SETUPMAPPING (READ, or
// READ|WRITE for a write mapping and an upgrade) and FUSE_REMOVEMAPPING.

import { Errno, ErrnoError } from '../../core/errno';
import type { SharedMemoryRegion } from '../../drivers/virtio-fs';
import type { DaxPort, DaxWindow, RemoveMappingRange, SetupMappingArgs } from './dax';
import type { FuseDevice } from './device';
import { FUSE_REMOVEMAPPING, FUSE_ROOT_ID, FUSE_SETUPMAPPING, FUSE_SETUPMAPPING_FLAG_READ, FUSE_SETUPMAPPING_FLAG_WRITE } from '../fuse';
import type { FuseSession } from './session';

export class SessionDaxPort implements DaxPort {
  readonly window: DaxWindow;

  constructor(device: FuseDevice, region: SharedMemoryRegion, private readonly session: FuseSession) {
    const { base, len } = region;
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(len) || base < 0 || len <= 0) {
      throw new ErrnoError(Errno.EINVAL, `virtiofs: bad DAX window base ${base} len ${len}`);
    }
    const memory = device.memory;
    this.window = {
      size: len,
      // The manager only reaches inside `size`; GuestMemory checks the range
      // again, and the window faults on a write through a read mapping.
      read: (moffset, dst) => memory.readInto(base + moffset, dst),
      write: (moffset, src) => memory.write(base + moffset, src),
    };
  }

  async setupMapping(a: SetupMappingArgs): Promise<void> {
    const flags = FUSE_SETUPMAPPING_FLAG_READ | (a.write ? FUSE_SETUPMAPPING_FLAG_WRITE : 0n);
    await this.session.call(FUSE_SETUPMAPPING, a.nodeid, {
      fh: a.fh, foffset: BigInt(a.foffset), len: BigInt(a.len), flags, moffset: BigInt(a.moffset),
    });
  }

  async removeMapping(ranges: readonly RemoveMappingRange[]): Promise<void> {
    // Servers ignore the nodeid of REMOVEMAPPING (ranges are window
    // offsets); the root's is valid everywhere, where OSv's 0 is not.
    await this.session.call(FUSE_REMOVEMAPPING, FUSE_ROOT_ID, {
      mappings: ranges.map((r) => ({ moffset: BigInt(r.moffset), len: BigInt(r.len) })),
    });
  }
}
