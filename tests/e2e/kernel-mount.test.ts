// The host kernel as a second client: virtiofs-vmm --fuse-mount serves the
// passthrough through /dev/fuse, and real tools (coreutils, diff, tar, fio)
// work on the mount; the program never leaves a mount behind, also when it
// is killed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { spawnVmm, type VmmChild } from '../../tools/guest/spawn-vmm';

const run = promisify(execFile);
const t = suite('host kernel FUSE mount (--fuse-mount)');

function mounted(mnt: string): boolean {
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mnt);
}

async function waitUnmounted(mnt: string): Promise<void> {
  // Readiness by state, not by time: the watcher unmounts when the vmm is gone.
  for (let i = 0; i < 200 && mounted(mnt); i++) await new Promise((r) => setTimeout(r, 25));
}

async function sh(cmd: string, cwd: string): Promise<string> {
  const r = await run('/bin/sh', ['-c', cmd], { cwd, timeout: 120000, maxBuffer: 1 << 24 });
  return r.stdout;
}

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

interface Rig { vmm: VmmChild; share: string; mnt: string; dir: string }

async function rig(): Promise<Rig> {
  assert.ok(fs.existsSync('/dev/fuse'), '/dev/fuse is missing: the host kernel needs the fuse module');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfs-kmount-'));
  const share = path.join(dir, 'share');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(share);
  fs.mkdirSync(mnt);
  const vmm = await spawnVmm(['--shared-dir', share, '--cache-size', '0', '--memory', '8M', '--fuse-mount', mnt]);
  assert.ok(mounted(mnt), 'mounted before the listening line');
  return { vmm, share, mnt, dir };
}

async function done(r: Rig): Promise<void> {
  await r.vmm.stop();
  await waitUnmounted(r.mnt);
  const left = mounted(r.mnt);
  if (left) await run('umount', ['-l', r.mnt]).catch(() => undefined);
  fs.rmSync(r.dir, { recursive: true, force: true });
  assert.not.ok(left, 'no mount left behind');
}

t('coreutils on the mount: cp -a, mv, ln, ln -s, chmod, touch, truncate, rm -r; diff -r against the host', async () => {
  const r = await rig();
  try {
    const src = path.resolve(__dirname, '../../core');
    await sh(`cp -a ${src} tree && mv tree moved && ln -s moved link && ln moved/errno.ts hard.ts && chmod 640 hard.ts`
      + ` && touch -d 2020-02-02 hard.ts && truncate -s 100 made && mkdir -p a/b/c && echo hi > a/b/c/f`, r.mnt);
    await sh(`diff -r ${src} moved && diff -r ${src} link/`, r.mnt);
    await sh(`diff -r ${r.share} ${r.mnt}`, r.dir); // the host sees exactly what the mount shows
    const st = fs.statSync(path.join(r.share, 'hard.ts'));
    assert.is(st.nlink, 2);
    assert.is(st.mode & 0o777, 0o640);
    assert.is(new Date(st.mtimeMs).toISOString().slice(0, 10), '2020-02-02');
    assert.is(fs.statSync(path.join(r.share, 'made')).size, 100);
    assert.is(fs.readlinkSync(path.join(r.share, 'link')), 'moved');
    await sh('rm -r moved a link hard.ts made', r.mnt);
    assert.equal(fs.readdirSync(r.share), []);
  } finally {
    await done(r);
  }
});

t('tar out of the mount and back in: the same bytes (sha256), owners and modes', async () => {
  const r = await rig();
  try {
    const src = path.resolve(__dirname, '../../fs');
    await sh(`cp -a ${src} in`, r.mnt);
    const tarball = path.join(r.dir, 'out.tar');
    await sh(`tar cf ${tarball} in`, r.mnt);
    await sh(`mkdir back && tar xpf ${tarball} -C back && diff -r in back/in`, r.mnt);
    const a = path.join(r.share, 'in', 'fuse', 'structs.ts');
    const b = path.join(r.share, 'back', 'in', 'fuse', 'structs.ts');
    assert.is(sha(a), sha(b));
    assert.is(sha(a), sha(path.join(src, 'fuse', 'structs.ts')));
    assert.is(fs.statSync(a).mode, fs.statSync(b).mode);
  } finally {
    await done(r);
  }
});

t('fio write and read jobs with --verify=crc32c', async () => {
  const r = await rig();
  try {
    const out = await sh('fio --name=v --directory=. --size=8m --bs=4k --rw=randwrite --ioengine=psync --direct=1'
      + ' --verify=crc32c --do_verify=1 --numjobs=2 --group_reporting --output-format=json', r.mnt);
    const j = JSON.parse(out) as { jobs: Array<{ error: number; write: { io_bytes: number }; read: { io_bytes: number } }> };
    assert.is(j.jobs[0]!.error, 0, 'no verify error');
    assert.ok(j.jobs[0]!.write.io_bytes >= 16 * 1024 * 1024, 'both jobs wrote their 8 MiB');
    assert.ok(j.jobs[0]!.read.io_bytes >= 16 * 1024 * 1024, 'and read them back to verify');
  } finally {
    await done(r);
  }
});

t('the mount goes with the program: SIGTERM, SIGINT, and SIGKILL (the watcher unmounts)', async () => {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
    const r = await rig();
    fs.writeFileSync(path.join(r.mnt, 'f'), 'x');
    r.vmm.child.kill(signal);
    await waitUnmounted(r.mnt);
    const left = mounted(r.mnt);
    await done(r);
    assert.not.ok(left, `${signal}: no mount left behind`);
  }
});

t.run();
