// What the VFS tests share: a fake filesystem's trees, the set-up that
// mounts them, and small helpers.
import { Vfs } from '../../core/vfs';
import { FakeFsType, FakeMount, Tree } from './vfs-fake';
import { dec } from './vfs-helpers';

export { dec, enc, rejects } from './vfs-helpers';

export const str = (b: Uint8Array) => dec.decode(b);

/** The whole file through open/read/close. */
export async function readAll(vfs: Vfs, path: string): Promise<Uint8Array> {
  const fd = await vfs.open(path);
  try {
    const chunks: Uint8Array[] = [];
    for (;;) {
      const c = await vfs.read(fd, 4096);
      if (c.length === 0) break;
      chunks.push(c);
    }
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) { out.set(c, o); o += c.length; }
    return out;
  } finally {
    await vfs.close(fd);
  }
}

export const big = new Uint8Array(10000).map((_, i) => (i * 7) & 0xff);

export function mainTree(): Tree {
  const t = new Tree()
    .dir('/etc').file('/etc/hello.txt', 'hello world').file('/etc/big', big)
    .dir('/dir').dir('/dir/sub').file('/dir/sub/deep.txt', 'deep').dir('/dir/empty')
    .dir('/links')
    .link('/links/rel', '../etc/hello.txt').link('/links/abs', '/etc/hello.txt')
    .link('/links/dirlink', '/dir').link('/links/loop1', 'loop2').link('/links/loop2', 'loop1')
    .link('/links/self', 'self').link('/links/dangling', '/nope').link('/links/tomnt', '/mnt/inner.txt')
    .link('/links/slash', '/etc/hello.txt/').link('/links/empty', '')
    .dir('/mnt').dir('/mnt2');
  for (let i = 0; i < 40; i++) t.link(`/links/chain${i}`, `chain${i + 1}`);
  t.link('/links/chain40', '/etc/hello.txt');
  return t;
}

export function shareTree(): Tree {
  return new Tree().file('/inner.txt', 'inner').dir('/sub').file('/sub/x', 'x').dir('/sub/nest');
}

export interface Setup { vfs: Vfs; type: FakeFsType; rootFs: FakeMount; share: FakeMount }

export async function setup(opts: { writable?: boolean; maxFiles?: number; firstFd?: number } = {}): Promise<Setup> {
  const type = new FakeFsType('fake', new Map([['main', mainTree()], ['share', shareTree()]]), opts.writable ?? false);
  const vfs = new Vfs({ maxFiles: opts.maxFiles, firstFd: opts.firstFd });
  await vfs.mount(type, 'main', '/', {});
  await vfs.mount(type, 'share', '/mnt', { tag: 'share' });
  return { vfs, type, rootFs: type.instances[0], share: type.instances[1] };
}

