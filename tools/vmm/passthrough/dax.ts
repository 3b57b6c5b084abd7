// DAX mappings: SETUPMAPPING and REMOVEMAPPING through the DaxMapper.

import { Errno, ErrnoError } from '../../../core';
import { RemovemappingIn, SetupmappingIn } from '../../../fs/fuse';
import { checkRemove, checkSetup } from './mappings';
import { PassthroughState } from './state';

// No window: EINVAL, as cloud-hypervisor's fuse server answers.
function noWindow(): never {
  throw new ErrnoError(Errno.EINVAL, 'no DAX window');
}

export async function setupmapping(s: PassthroughState, body: SetupmappingIn): Promise<null> {
  const dax = s.dax ?? noWindow();
  const h = s.fh(body.fh, 'file');
  const m = checkSetup(body, dax.windowSize);
  if (m.writable) {
    // mmap(PROT_WRITE, MAP_SHARED) of a read-only fd fails EACCES in QEMU.
    if (!h.writable) throw new ErrnoError(Errno.EACCES, 'write mapping of a read-only fh');
    await s.reserve(h.fd, m.foffset, m.len);
  }
  await dax.map({ moffset: m.moffset, len: m.len, fd: h.fd, foffset: m.foffset, writable: m.writable });
  return null;
}

export async function removemapping(s: PassthroughState, body: RemovemappingIn): Promise<null> {
  const dax = s.dax ?? noWindow();
  await dax.unmap(checkRemove(body.mappings, dax.windowSize));
  return null;
}
