// virtiofs-vmm's command line: QEMU's option names where QEMU has one
// (vhost-user-fs-device: tag, queue-size, num-request-queues, cache-size).

import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { isPowerOfTwo } from '../../core';
import { parseWireAddress } from '../../drivers/wire';
import { usageFromParseArgs } from '../common/errors';
import { parseSize } from '../common/size';
import { UsageError } from '../common/usage';
import { vhostUserAddonMissing } from './vhost-user';

export type DaxPolicy = 'none' | 'always' | 'inode' | 'filesize';
export type BackendKind = 'passthrough' | 'vhost-user';

export interface VmmOptions {
  sharedDir: string;
  tag: string;
  listen: string;
  cacheSize: number;
  queueSize: number;
  numRequestQueues: number;
  memory: number;
  daxPolicy: DaxPolicy;
  backend: BackendKind;
  tokenFile?: string;
  readonly: boolean;
  virtiofsd: string;
  virtiofsdArgs: string[];
  socketPath?: string;
  /** Also serve the share to the host kernel's FUSE client at this directory. */
  fuseMount?: string;
  /** Guests connected at once; one past it is refused. */
  maxGuests: number;
  /** Per guest session: open handles, inodes held, requests served at once,
   *  output bytes queued before its frames stop being read. */
  maxOpenFiles: number;
  maxInodes: number;
  maxRequests: number;
  maxQueuedBytes: number;
  /** vhost-user: hand each request queue's kick and call FIFOs to a guest on this host (default true). */
  doorbells?: boolean;
}

export const DEFAULTS = {
  tag: 'myfs',
  listen: 'tcp:127.0.0.1:0',
  cacheSize: '1G',
  queueSize: 1024,
  numRequestQueues: 1,
  memory: '512M',
  daxPolicy: 'always' as DaxPolicy,
  backend: 'passthrough' as BackendKind,
  virtiofsd: '/usr/lib/qemu/virtiofsd',
  maxGuests: 8,
  maxOpenFiles: 1024,
  maxInodes: 65536,
  maxRequests: 256,
  maxQueuedBytes: '1M',
};

export const USAGE = `usage: virtiofs-vmm --shared-dir DIR [options]

A virtio-fs device as QEMU presents it (virtio-mmio, device id 26), reached
over TCP or a unix socket by a guest (npm run guest, npm start).

  --shared-dir DIR            host directory to share (required)
  --tag NAME                  mount tag in the device config (default ${DEFAULTS.tag}; at most 36 bytes)
  --listen ADDR               tcp:HOST:PORT or unix:PATH (default ${DEFAULTS.listen}; port 0 picks a free one)
  --cache-size SIZE           DAX cache window, shared-memory region 0 (default ${DEFAULTS.cacheSize}; 0 = no window)
  --queue-size N              maximum size of each virtqueue (default ${DEFAULTS.queueSize}; a power of two)
  --num-request-queues N      request queues besides hiprio (default ${DEFAULTS.numRequestQueues})
  --memory SIZE               guest RAM, a shared-memory file in /dev/shm (default ${DEFAULTS.memory})
  --dax-policy POLICY         none|always|inode|filesize: which files get FUSE_ATTR_DAX (default ${DEFAULTS.daxPolicy})
  --backend KIND              passthrough (FUSE served in TypeScript) or vhost-user (the real virtiofsd)
  --virtiofsd PATH            with vhost-user: the daemon to start (default ${DEFAULTS.virtiofsd})
  --virtiofsd-arg=ARG         with vhost-user: one more argument for the daemon (repeatable;
                              write the = when ARG starts with a dash: --virtiofsd-arg=-o)
  --socket-path PATH          with vhost-user: attach to a daemon already listening there instead
  --token-file FILE           secret a guest must present; created (mode 0600) when absent
  --readonly                  refuse every write (EROFS)
  --no-doorbells              with vhost-user: keep each request queue's kick and call FIFOs here
                              (by default a guest on this host gets them: no device-model hop per request)
  --fuse-mount DIR            also mount the share on DIR through the host kernel's FUSE client
                              (/dev/fuse; needs root), so any host tool can use the same server
  --version                   the version
  -h, --help                  this text

Caps, so one guest can exhaust only itself (docs/SECURITY.md):
  --max-guests N              guests connected at once; more are refused (default ${DEFAULTS.maxGuests})
  --max-open-files N          per guest: open files and directories; more get EMFILE (default ${DEFAULTS.maxOpenFiles})
  --max-inodes N              per guest: inodes held by lookups; more get ENFILE (default ${DEFAULTS.maxInodes})
  --max-requests N            per guest: FUSE requests served at once; the rest wait in the ring (default ${DEFAULTS.maxRequests})
  --max-queued-bytes SIZE     per guest: output queued before its frames stop being read; a guest
                              that leaves it unread 30 s, or 4x it, is disconnected (default ${DEFAULTS.maxQueuedBytes}, at least 64K)

Sizes take K, M, G suffixes (powers of 1024). Exit status: 0 after SIGINT or
SIGTERM; 2 when the command line cannot work (a bad option, or a directory,
file, daemon or socket it names is missing), before anything listens; 1 when
it cannot run (the address is in use, an unexpected error).`;

export { UsageError };

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${name}: not a positive integer: "${text}"`);
  return n;
}

function size(name: string, text: string): number {
  try { return parseSize(text); } catch (err) { throw new UsageError(`--${name}: ${(err as Error).message}`); }
}

/** Parse argv (without node and script); undefined for --help. */
export function parseVmmArgs(argv: string[]): VmmOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'shared-dir': { type: 'string' },
        tag: { type: 'string' },
        listen: { type: 'string' },
        'cache-size': { type: 'string' },
        'queue-size': { type: 'string' },
        'num-request-queues': { type: 'string' },
        memory: { type: 'string' },
        'dax-policy': { type: 'string' },
        backend: { type: 'string' },
        virtiofsd: { type: 'string' },
        'virtiofsd-arg': { type: 'string', multiple: true },
        'socket-path': { type: 'string' },
        'token-file': { type: 'string' },
        readonly: { type: 'boolean' },
        'no-doorbells': { type: 'boolean' },
        version: { type: 'boolean' },
        'fuse-mount': { type: 'string' },
        'max-guests': { type: 'string' },
        'max-open-files': { type: 'string' },
        'max-inodes': { type: 'string' },
        'max-requests': { type: 'string' },
        'max-queued-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    const u = usageFromParseArgs(err);
    throw u instanceof UsageError ? u : new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help || v.version) return undefined;
  if (!v['shared-dir'] && !v['socket-path']) throw new UsageError('--shared-dir DIR is required');
  if (v['fuse-mount'] !== undefined && (v.backend ?? DEFAULTS.backend) !== 'passthrough') {
    throw new UsageError('--fuse-mount serves the passthrough: it does not go with --backend vhost-user');
  }

  const queueSize = positiveInt('queue-size', v['queue-size'] ?? String(DEFAULTS.queueSize));
  if (!isPowerOfTwo(queueSize) || queueSize > 32768) {
    throw new UsageError(`--queue-size: must be a power of two up to 32768, not ${queueSize}`);
  }
  const numRequestQueues = positiveInt('num-request-queues', v['num-request-queues'] ?? String(DEFAULTS.numRequestQueues));
  if (numRequestQueues > 1023) throw new UsageError('--num-request-queues: at most 1023 (1024 queues with hiprio)');

  const daxPolicy = (v['dax-policy'] ?? DEFAULTS.daxPolicy) as DaxPolicy;
  if (!['none', 'always', 'inode', 'filesize'].includes(daxPolicy)) {
    throw new UsageError(`--dax-policy: none, always, inode or filesize, not "${daxPolicy}"`);
  }
  const backend = (v.backend ?? DEFAULTS.backend) as BackendKind;
  if (!['passthrough', 'vhost-user'].includes(backend)) {
    throw new UsageError(`--backend: passthrough or vhost-user, not "${backend}"`);
  }
  const tag = v.tag ?? DEFAULTS.tag;
  if (new TextEncoder().encode(tag).length > 36 || tag.length === 0) throw new UsageError('--tag: 1 to 36 bytes');
  const cacheSize = size('cache-size', v['cache-size'] ?? DEFAULTS.cacheSize);
  if (cacheSize % 4096 !== 0) throw new UsageError('--cache-size: a multiple of the page size (4096)');
  // QEMU's realize refuses it too; checked here so no guest is ever refused for it.
  if (cacheSize !== 0 && !isPowerOfTwo(cacheSize)) {
    throw new UsageError(`--cache-size ${v['cache-size']}: a power of two (${powerOfTwoNear(cacheSize)}), or 0 for no window`);
  }
  const listen = v.listen ?? DEFAULTS.listen;
  try { parseWireAddress(listen); } catch (err) {
    const why = (err as Error).message.replace(/^wire address "[^"]*": /, '');
    const hint = /^[^:/]+:\d+$/.test(listen) ? ` (tcp:${listen}?)` : listen.startsWith('/') ? ` (unix:${listen}?)` : '';
    throw new UsageError(`--listen ${listen}: ${/^expected/.test(why) ? 'write tcp:HOST:PORT or unix:PATH' : why}${hint}`);
  }
  const memory = size('memory', v.memory ?? DEFAULTS.memory);
  if (memory < 1024 * 1024) throw new UsageError('--memory: at least 1M');
  const maxQueuedBytes = size('max-queued-bytes', v['max-queued-bytes'] ?? DEFAULTS.maxQueuedBytes);
  if (maxQueuedBytes < 64 * 1024) throw new UsageError('--max-queued-bytes: at least 64K');

  return {
    sharedDir: v['shared-dir'] ?? '',
    tag,
    listen,
    cacheSize,
    queueSize,
    numRequestQueues,
    memory,
    daxPolicy,
    backend,
    tokenFile: v['token-file'],
    readonly: v.readonly ?? false,
    virtiofsd: v.virtiofsd ?? DEFAULTS.virtiofsd,
    virtiofsdArgs: v['virtiofsd-arg'] ?? [],
    socketPath: v['socket-path'],
    fuseMount: v['fuse-mount'],
    maxGuests: positiveInt('max-guests', v['max-guests'] ?? String(DEFAULTS.maxGuests)),
    maxOpenFiles: positiveInt('max-open-files', v['max-open-files'] ?? String(DEFAULTS.maxOpenFiles)),
    maxInodes: positiveInt('max-inodes', v['max-inodes'] ?? String(DEFAULTS.maxInodes)),
    maxRequests: positiveInt('max-requests', v['max-requests'] ?? String(DEFAULTS.maxRequests)),
    maxQueuedBytes,
    doorbells: !v['no-doorbells'],
  };
}

/** "16M or 32M": the powers of two around n, for the message. */
function powerOfTwoNear(n: number): string {
  const lo = 2 ** Math.floor(Math.log2(n));
  const fmt = (b: number): string => (b >= 1 << 30 ? `${b / (1 << 30)}G` : b >= 1 << 20 ? `${b / (1 << 20)}M` : `${b / 1024}K`);
  return `${fmt(lo)} or ${fmt(lo * 2)}`;
}

/** `--version` was asked for. */
export function wantsVersion(argv: readonly string[]): boolean {
  return argv.includes('--version') && !argv.includes('--help') && !argv.includes('-h');
}

export const VIRTIOFSD_INSTALL_HINT = 'apt-get install -y qemu-system-common';

/** What the options name on this host, checked before anything listens:
 *  throws a UsageError naming the option and the fix. */
export function checkHost(opts: VmmOptions): void {
  const code = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  if (opts.backend === 'passthrough' || !opts.socketPath) {
    const st = fs.statSync(opts.sharedDir, { throwIfNoEntry: false });
    if (!st?.isDirectory()) throw new UsageError(`--shared-dir ${opts.sharedDir}: not a directory; name the directory to share`);
  }
  if (opts.tokenFile && fs.existsSync(opts.tokenFile)) {
    let text: string;
    try { text = fs.readFileSync(opts.tokenFile, 'utf8'); } catch (e) {
      throw new UsageError(`--token-file ${opts.tokenFile}: cannot read it (${code(e)}); `
        + `${code(e) === 'EISDIR' ? 'name a file, not a directory' : 'fix its permissions or name another file'}`);
    }
    if (!text.trim()) throw new UsageError(`--token-file ${opts.tokenFile}: the file is empty; put a secret in it or remove it to have one made`);
  }
  if (opts.backend !== 'vhost-user') return;
  const noAddon = vhostUserAddonMissing();
  if (noAddon) throw new UsageError(`--backend vhost-user: ${noAddon}`);
  if (opts.socketPath) {
    const st = fs.statSync(opts.socketPath, { throwIfNoEntry: false });
    if (!st?.isSocket()) {
      throw new UsageError(`--socket-path ${opts.socketPath}: ${st ? 'not a socket' : 'no such socket'}; `
        + `start the daemon first (virtiofsd --socket-path=${opts.socketPath} -o source=DIR) or leave the option out`);
    }
    return;
  }
  try { fs.accessSync(opts.virtiofsd, fs.constants.X_OK); } catch (e) {
    throw new UsageError(`--virtiofsd ${opts.virtiofsd}: ${code(e) === 'ENOENT' ? 'not found' : `not executable (${code(e)})`}; `
      + `install it (${VIRTIOFSD_INSTALL_HINT}) or name another with --virtiofsd PATH`);
  }
}
