// Vfs.preadInto / readInto: POSIX reads into the caller's buffer, through a
// filesystem without the readInto vnop (read and copy) and one with it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../core/errno';
import { O_WRONLY, Vfs } from '../../core/vfs';
import { FakeFsType, Tree } from './vfs-fake';

const t = suite('vfs read into');
const str = (b: Uint8Array) => new TextDecoder().decode(b);

async function setup(withReadInto: boolean) {
  const tree = new Tree().file('/hello.txt', 'hello world');
  const type = new FakeFsType('fake', new Map([['src', tree]]), true);
  const vfs = new Vfs();
  await vfs.mount(type, 'src', '/');
  const vnops = type.instances[0]!.vnops;
  const calls: string[] = [];
  if (withReadInto) {
    // A readInto built on the fake's read, so the VFS takes the vnop path.
    (vnops as { readInto?: unknown }).readInto = async (vp: never, fh: unknown, offset: number, dst: Uint8Array, ctx: never) => {
      calls.push(`readInto ${offset} ${dst.length}`);
      const data = await vnops.read(vp, fh, offset, dst.length, ctx);
      dst.set(data);
      return data.length;
    };
  }
  return { vfs, vnops, calls };
}

async function rejects(p: Promise<unknown>, errno: number) {
  try { await p; } catch (e) { assert.instance(e, ErrnoError); assert.is((e as ErrnoError).errno, errno); return; }
  assert.unreachable('should reject');
}

for (const withReadInto of [false, true]) {
  t(`preadInto and readInto ${withReadInto ? 'with' : 'without'} the readInto vnop`, async () => {
    const { vfs, calls } = await setup(withReadInto);
    const fd = await vfs.open('/hello.txt');
    const dst = new Uint8Array(5).fill(0xee);
    assert.is(await vfs.preadInto(fd, dst, 6), 5);
    assert.is(str(dst), 'world');
    assert.is(await vfs.readInto(fd, dst), 5, 'offset 0');
    assert.is(str(dst), 'hello');
    const big = new Uint8Array(16).fill(0xee);
    assert.is(await vfs.readInto(fd, big), 6, 'short at EOF');
    assert.is(str(big.subarray(0, 6)), ' world');
    assert.is(big[6], 0xee, 'nothing written past what was read');
    assert.is(await vfs.readInto(fd, big), 0, 'EOF');
    assert.is(await vfs.preadInto(fd, big, 1000), 0, 'past EOF');
    assert.is(await vfs.preadInto(fd, new Uint8Array(0), 0), 0);
    await rejects(vfs.preadInto(fd, dst, -1), Errno.EINVAL);
    await rejects(vfs.preadInto(fd, 'x' as unknown as Uint8Array, 0), Errno.EFAULT);
    await rejects(vfs.preadInto(99, dst, 0), Errno.EBADF);
    assert.is(calls.length > 0, withReadInto, 'the vnop is used when present');
    await vfs.close(fd);
  });
}

t('preadInto refuses a write-only fd and a vnop claiming more than the buffer', async () => {
  const { vfs, vnops } = await setup(true);
  const wfd = await vfs.open('/hello.txt', O_WRONLY);
  await rejects(vfs.preadInto(wfd, new Uint8Array(4), 0), Errno.EBADF);
  await vfs.close(wfd);
  (vnops as { readInto?: unknown }).readInto = async () => 5;
  const fd = await vfs.open('/hello.txt');
  await rejects(vfs.preadInto(fd, new Uint8Array(4), 0), Errno.EIO);
  await vfs.close(fd);
});

t.run();
