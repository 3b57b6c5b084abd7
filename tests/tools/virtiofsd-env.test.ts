import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { virtiofsdEnv } from '../../tools/vmm/vhost-user/daemon';

// The daemon's environment fixes glibc's malloc arena limit, so no worker
// thread counts CPUs (sched_getaffinity is outside virtiofsd's seccomp filter).
const t = suite('virtiofsd environment');

t('adds glibc default arena limit (8 per CPU), keeps everything else', () => {
  const env = virtiofsdEnv({ PATH: '/bin', HOME: '/root' }, 4);
  assert.equal(env, { PATH: '/bin', HOME: '/root', GLIBC_TUNABLES: 'glibc.malloc.arena_max=32' });
});

t('appends to tunables already set', () => {
  const env = virtiofsdEnv({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' }, 2);
  assert.is(env.GLIBC_TUNABLES, 'glibc.malloc.tcache_count=0:glibc.malloc.arena_max=16');
});

t('a limit the caller chose is kept as is', () => {
  const a = { GLIBC_TUNABLES: 'glibc.malloc.check=0:glibc.malloc.arena_max=2' };
  assert.is(virtiofsdEnv(a, 8), a);
  const b = { MALLOC_ARENA_MAX: '1' };
  assert.is(virtiofsdEnv(b, 8), b);
});

t('a nonsensical CPU count still gives a positive limit', () => {
  for (const cpus of [0, -3, NaN, 1.5]) {
    assert.match(virtiofsdEnv({}, cpus).GLIBC_TUNABLES!, /^glibc\.malloc\.arena_max=[1-9]\d*$/, String(cpus));
  }
});

t('does not modify the environment it is given', () => {
  const env = { PATH: '/bin' };
  virtiofsdEnv(env, 1);
  assert.equal(env, { PATH: '/bin' });
});

t.run();
