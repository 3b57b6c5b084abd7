import { KernelFuseMount } from '../tools/vmm/kernel/fuse-dev';
import { PassthroughServer } from '../tools/vmm/passthrough';
import { execSync, exec } from 'node:child_process';
import { promisify } from 'node:util';
const run = promisify(exec);
async function main() {
  console.log('start');
  const server = new PassthroughServer({ root: '/tmp/kf/share', daxPolicy: 'none', logger: { warn: (m) => console.error('warn', m) } });
  const m = KernelFuseMount.start({ mountpoint: '/tmp/kf/mnt', maxWrite: 1 << 20, log: console.error }, (req) => { console.log('req', req.length); return server.handle(req, { queue: 1, replyCapacity: (1 << 20) + 4096 }); });
  console.log('mounted');
  await new Promise((r) => setTimeout(r, 200));
  try {
    console.log((await run('ls -la /tmp/kf/mnt; cat /tmp/kf/mnt/a.txt; stat /tmp/kf/mnt/sub | head -3', { timeout: 5000 })).stdout);
  } catch (e) { console.error('cmd failed', (e as Error).message); }
  await m.stop();
  console.log(execSync('grep kf /proc/mounts || echo no-mount', { encoding: 'utf8' }));
  await server.close();
}
main().catch((e) => console.error('fatal', e));
