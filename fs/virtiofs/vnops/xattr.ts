// Extended attributes (Linux's fs/fuse/xattr.c): GETXATTR and LISTXATTR with
// the size probe (size 0 asks the size), SETXATTR, REMOVEXATTR. A server
// without them: EOPNOTSUPP from then on, as Linux's fc->no_xattr.

import { Errno, ErrnoError } from '../../../core/errno';
import { OpContext, Vnode, Vnops } from '../../../core/vfs';
import { FUSE_GETXATTR, FUSE_LISTXATTR, FUSE_REMOVEXATTR, FUSE_SETXATTR, XattrOut } from '../../fuse';
import { VnopsContext, inodeOf, req, unlessNosys } from './context';
import { invalidateAttr } from './lookup';

const none = (): never => { throw new ErrnoError(Errno.EOPNOTSUPP, 'the server has no extended attributes'); };

/** The value (at most size bytes) or, for size 0, the size; EIO for a reply that breaks that. */
function answer(out: XattrOut, size: number): Uint8Array | number {
  if (size === 0) {
    if (out.size === undefined) throw new ErrnoError(Errno.EIO, 'virtiofs: xattr size probe answered with data');
    return out.size;
  }
  if (out.value === undefined || out.value.length > size) throw new ErrnoError(Errno.EIO, 'virtiofs: xattr value longer than asked');
  return out.value;
}

export function xattrOps(ctx: VnopsContext): Pick<Vnops, 'getxattr' | 'listxattr' | 'setxattr' | 'removexattr'> {
  // One ENOSYS answers for all four: the server has no xattrs.
  const call = <T>(fn: () => Promise<T>): Promise<T> => unlessNosys(ctx, FUSE_GETXATTR, fn, none);
  return {
    getxattr(vp: Vnode, name: Uint8Array, size: number, o?: OpContext) {
      return call(async () => answer(await ctx.session.call(FUSE_GETXATTR, inodeOf(vp).nodeid, { size, name }, undefined,
        { ...req(o), sizeProbe: size === 0 }), size));
    },
    listxattr(vp: Vnode, size: number, o?: OpContext) {
      return call(async () => answer(await ctx.session.call(FUSE_LISTXATTR, inodeOf(vp).nodeid, { size }, undefined,
        { ...req(o), sizeProbe: size === 0 }), size));
    },
    async setxattr(vp: Vnode, name: Uint8Array, value: Uint8Array, flags: number, o?: OpContext) {
      const ip = inodeOf(vp);
      await call(() => ctx.session.call(FUSE_SETXATTR, ip.nodeid, { flags, name, value }, undefined, req(o)));
      invalidateAttr(ip);
    },
    async removexattr(vp: Vnode, name: Uint8Array, o?: OpContext) {
      const ip = inodeOf(vp);
      await call(() => ctx.session.call(FUSE_REMOVEXATTR, ip.nodeid, { name }, undefined, req(o)));
      invalidateAttr(ip);
    },
  };
}
