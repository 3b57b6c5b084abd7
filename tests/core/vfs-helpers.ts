// Shared by the VFS write-side tests: a writable fake mounted at /, and
// errno assertions.
import * as assert from 'uvu/assert';
import { ErrnoError } from '../../core/errno';
import { Vfs } from '../../core/vfs';
import { FakeFsType, FakeMount, Tree } from './vfs-fake';

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export async function rejects(p: Promise<unknown>, errno: number, what = ''): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, ErrnoError, what);
    assert.is((e as ErrnoError).code, new ErrnoError(errno).code, `${what}: ${(e as Error).message}`);
    return;
  }
  assert.unreachable(`${what}: expected ${new ErrnoError(errno).code}`);
}

/** A writable tree at / (and a second mount at /other), as root; `tree` lets a test add to it first. */
export async function writable(build: (t: Tree) => void = () => {}): Promise<{ vfs: Vfs; fs: FakeMount; tree: Tree; type: FakeFsType }> {
  const tree = new Tree().dir('/other');
  build(tree);
  const type = new FakeFsType('fake', new Map([['main', tree], ['second', new Tree().file('/f', 'second')]]), true, 64);
  const vfs = new Vfs();
  await vfs.mount(type, 'main', '/');
  await vfs.mount(type, 'second', '/other');
  return { vfs, fs: type.instances[0]!, tree, type };
}

/** A non-root caller: uid 1000, gid 1000, also in group 50. */
export const USER = { uid: 1000, gid: 1000, groups: [50], umask: 0o022, pid: 4242 };
export const OTHER = { uid: 2000, gid: 2000, groups: [], umask: 0o022, pid: 4343 };
