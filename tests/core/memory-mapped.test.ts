// The memory suite over mappings (the addon, core/native): guest RAM a
// sealed memfd mapped with a live view (MappedFileBacking), window ranges
// mapped host file ranges read by guarded copies (MappedFileRange). Fails,
// naming what is missing, when the addon is not built: never skipped.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { GuestMemory } from '../../core/memory';
import { MappedFileBacking } from '../../core/mapped-file.node';
import { MappedFileRange, openFileRange } from '../../core/mapped-range.node';
import { mmapAddon, mmapMissing } from '../../core/native/mmap.node';
import { createRam, openRam, ramIsMapped } from '../../core/ram.node';
import { ShmFileBacking } from '../../core/shm-file.node';
import { filesSuite } from './memory-suite-files';
import { pattern } from './memory-suite';
import { RamChild } from './ram-child-client';

const ROOT = path.resolve(__dirname, '..', '..');
const PAGE = 4096;
const t = suite('memory mapped by the addon');

/** The addon, or a failure that says what is missing. */
function addon() {
  if (!mmapAddon) assert.unreachable(`core/native (the mmap addon) is not loaded: ${mmapMissing}; \`npm run build\` builds it (gcc, make)`);
  return mmapAddon!;
}

t('the addon is built and loaded', () => {
  const a = addon();
  assert.is(a.pageSize, PAGE);
});

t('a memfd from createRam is sealed against shrink, grow and more seals, and mapped', () => {
  const a = addon();
  const ram = createRam(4 * PAGE);
  try {
    assert.instance(ram, MappedFileBacking);
    assert.match(ram.path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.is(a.getSeals(ram.fd), a.F_SEAL_SHRINK | a.F_SEAL_GROW | a.F_SEAL_SEAL);
    assert.throws(() => fs.ftruncateSync(ram.fd, PAGE), /EPERM/);
    assert.throws(() => fs.ftruncateSync(ram.fd, 8 * PAGE), /EPERM/);
    assert.throws(() => fs.writeSync(ram.fd, Uint8Array.of(1), 0, 1, 4 * PAGE), /EPERM/);
    assert.is(fs.fstatSync(ram.fd).size, 4 * PAGE);
    // the live view is the file
    (ram as MappedFileBacking).bytes[5] = 42;
    const d = Buffer.alloc(1);
    fs.readSync(ram.fd, d, 0, 1, 5);
    assert.is(d[0], 42);
  } finally { ram.close(); }
});

t('the seal is read on the fd mapped: an unsealed file is refused, a sealed one opened by path is mapped', () => {
  addon();
  const shm = ShmFileBacking.create(2 * PAGE);
  try {
    assert.throws(() => MappedFileBacking.map(shm.fd, shm.path), /not sealed against shrinking \(F_SEAL_SHRINK\)/);
    assert.not.ok(ramIsMapped(openRam(shm.path)));
  } finally { shm.close(); shm.unlink(); }
  const ram = createRam(2 * PAGE);
  try {
    const again = openRam(ram.path);
    assert.ok(ramIsMapped(again));
    again.close();
    const byFd = openRam(fs.openSync(ram.path, 'r+'));
    assert.ok(ramIsMapped(byFd));
    byFd.close();
  } finally { ram.close(); }
});

t('a mapped parent and a positioned child (no addon) see each other\'s bytes', async () => {
  addon();
  const ram = createRam(1 << 16);
  const mem = new GuestMemory();
  mem.addRegion('ram', 0, ram);
  const child = new RamChild(ram.path, { VIRTIOFS_NO_ADDON: '1' });
  try {
    assert.is(await child.next(), 'ready');
    assert.is(await child.ask('kind'), 'positioned');
    assert.is(await child.ask('write 100 300 4'), 'ok');
    assert.equal(mem.view(100, 300), pattern(300, 4));
    mem.setU32(8, 0xcafef00d);
    assert.is(await child.ask('read 8 4'), '0df0feca');
  } finally { await child.end(); ram.close(); }
});

t('a window range maps the page-aligned span covering it, and serves only the range', () => {
  addon();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapped-'));
  try {
    const file = path.join(dir, 'f');
    const content = pattern(3 * PAGE, 2);
    fs.writeFileSync(file, content);
    const r = MappedFileRange.open(file, PAGE + 100, PAGE, false);
    assert.is(r.base, PAGE);
    const d = new Uint8Array(PAGE);
    r.read(PAGE + 100, d);
    assert.equal(d, content.subarray(PAGE + 100, 2 * PAGE + 100));
    assert.throws(() => r.read(PAGE + 99, new Uint8Array(1)), /outside/);
    assert.throws(() => r.read(2 * PAGE + 100, new Uint8Array(1)), /outside/);
    assert.throws(() => r.write(PAGE + 100, new Uint8Array(1)), /read mapping/);
    r.release();
    r.release(); // idempotent
    assert.ok(r.released);
    assert.throws(() => r.read(PAGE + 100, new Uint8Array(1)), /unmapped/);
    const chosen = openFileRange(fs.openSync(file, 'r'), 0, PAGE, false, true);
    assert.instance(chosen, MappedFileRange);
    chosen.release!();
    const byPath = openFileRange(file, PAGE, PAGE, true); // opened r+, owned
    assert.instance(byPath, MappedFileRange);
    byPath.write(PAGE, Uint8Array.of(9));
    assert.is(fs.readFileSync(file)[PAGE], 9);
    byPath.release!();
    assert.throws(() => fs.fstatSync((byPath as MappedFileRange).fd), /EBADF/);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

t('a SIGBUS outside a guarded copy still ends the process, and a sent one too', async () => {
  addon();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigbus-'));
  try {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, pattern(PAGE, 1));
    const env = { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' };
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register', 'tests/core/sigbus-child.ts', 'load', file],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    assert.is(r.stdout.split('\n')[0], 'guarded 0', `stdout ${r.stdout} stderr ${r.stderr}`);
    assert.is(r.signal, 'SIGBUS', `status ${r.status}, stdout ${r.stdout}`);
    const w = spawn(process.execPath, ['-r', 'ts-node/register', 'tests/core/sigbus-child.ts', 'wait'],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const ended = new Promise<string | null>((resolve) => w.once('exit', (_c, s) => resolve(s)));
    await new Promise<void>((resolve) => w.stdout!.once('data', () => resolve()));
    w.kill('SIGBUS');
    assert.is(await ended, 'SIGBUS');
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

t.run();

filesSuite({
  name: 'mapped',
  mapped: true,
  childEnv: {},
  fileRange: (fd, foffset, len, writable) => {
    if (!mmapAddon) {
      fs.closeSync(fd);
      throw new Error(`core/native (the mmap addon) is not loaded: ${mmapMissing}`);
    }
    return new MappedFileRange(fd, foffset, len, writable, true);
  },
  writePastEnd: 'faults',
});
