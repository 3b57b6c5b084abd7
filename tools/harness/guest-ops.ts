// The guest side of an op: the same syscall through the VFS, as the op's
// caller (vfs.as), with the result in the host agent's words.

import {
  O_CREAT, O_EXCL, O_RDONLY, O_TRUNC, O_WRONLY, RENAME_EXCHANGE, RENAME_NOREPLACE, type Vfs,
} from '../../core/vfs';
import { outcome } from './compare';
import { pattern, readResult, ROOT, type Op } from './ops';

async function withFd<T>(vfs: Vfs, p: string, flags: number, fn: (fd: number) => Promise<T>): Promise<T> {
  const fd = await vfs.open(p, flags);
  try { return await fn(fd); } finally { await vfs.close(fd); }
}

async function run(vfs: Vfs, o: Op): Promise<string> {
  switch (o.op) {
    case 'mkdir': await vfs.mkdir(o.path, o.mode); return 'ok';
    case 'rmdir': await vfs.rmdir(o.path); return 'ok';
    case 'create':
      await vfs.close(await vfs.open(o.path, O_CREAT | O_WRONLY | (o.how === 'excl' ? O_EXCL : O_TRUNC), o.mode));
      return 'ok';
    case 'write': return withFd(vfs, o.path, O_WRONLY, async (fd) => `ok ${await vfs.pwrite(fd, pattern(o.seed, o.len), o.off)}`);
    case 'truncate': await vfs.truncate(o.path, o.len); return 'ok';
    case 'read': return withFd(vfs, o.path, O_RDONLY, async (fd) => readResult(await vfs.pread(fd, o.len, o.off)));
    case 'unlink': await vfs.unlink(o.path); return 'ok';
    case 'link': await vfs.link(o.from, o.to); return 'ok';
    case 'symlink': await vfs.symlink(o.target, o.path); return 'ok';
    case 'rename':
      if (!o.flag) await vfs.rename(o.from, o.to);
      else await vfs.rename2(o.from, o.to, o.flag === 'noreplace' ? RENAME_NOREPLACE : RENAME_EXCHANGE);
      return 'ok';
    case 'chmod': await vfs.chmod(o.path, o.mode); return 'ok';
    case 'chown': await vfs.chown(o.path, o.uid, o.gid); return 'ok';
    case 'stat': await vfs.lstat(o.path); return 'ok';
  }
}

let pid = 1000;

/** Applies op (paths already guest paths) through the VFS as its caller. */
export async function guestOp(vfs: Vfs, op: Op): Promise<string> {
  const who = op.as ?? ROOT;
  // A pid of its own per call: no record lock or cache is the caller's to keep.
  const view = who === ROOT ? vfs : vfs.as({ uid: who.uid, gid: who.gid, groups: [], umask: who.umask, pid: pid++ });
  try {
    return await run(view, op);
  } catch (err) {
    return outcome(err);
  }
}
