import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseVmmArgs, USAGE, UsageError } from '../../tools/vmm/options';
import { formatSize, parseSize } from '../../tools/common/size';
import { defaultTokenFile, readTokenFile, writeTokenFile } from '../../tools/common/token';

const t = suite('virtiofs-vmm options');

t('defaults are QEMU-like', () => {
  const o = parseVmmArgs(['--shared-dir', '/tmp'])!;
  assert.is(o.tag, 'myfs');
  assert.is(o.listen, 'tcp:127.0.0.1:0');
  assert.is(o.cacheSize, 1024 ** 3);
  assert.is(o.queueSize, 1024);
  assert.is(o.numRequestQueues, 1);
  assert.is(o.daxPolicy, 'always');
  assert.is(o.backend, 'passthrough');
  assert.is(o.readonly, false);
  assert.is(o.doorbells, true);
  assert.is(parseVmmArgs(['--shared-dir', '/tmp', '--backend', 'vhost-user', '--no-doorbells'])!.doorbells, false);
});

t('every option is read', () => {
  const o = parseVmmArgs(['--shared-dir', '/s', '--tag', 't', '--listen', 'unix:/x', '--cache-size', '0',
    '--queue-size', '256', '--num-request-queues', '2', '--memory', '64M', '--dax-policy', 'filesize',
    '--backend', 'vhost-user', '--virtiofsd', '/v', '--virtiofsd-arg=-o', '--virtiofsd-arg', 'xattr',
    '--token-file', '/tok', '--readonly'])!;
  assert.equal([o.tag, o.listen, o.cacheSize, o.queueSize, o.numRequestQueues, o.memory, o.daxPolicy, o.backend,
    o.virtiofsd, o.virtiofsdArgs, o.tokenFile, o.readonly],
  ['t', 'unix:/x', 0, 256, 2, 64 << 20, 'filesize', 'vhost-user', '/v', ['-o', 'xattr'], '/tok', true]);
  assert.is(parseVmmArgs(['--help']), undefined);
});

t('bad options are usage errors naming the option', () => {
  const bad: [string[], RegExp][] = [
    [[], /--shared-dir/],
    [['--shared-dir', '/s', '--queue-size', '1000'], /power of two/],
    [['--shared-dir', '/s', '--queue-size', '-1'], /queue-size/],
    [['--shared-dir', '/s', '--num-request-queues', '0'], /num-request-queues/],
    [['--shared-dir', '/s', '--dax-policy', 'sometimes'], /dax-policy/],
    [['--shared-dir', '/s', '--backend', 'fuse'], /backend/],
    [['--shared-dir', '/s', '--tag', 'x'.repeat(37)], /tag/],
    [['--shared-dir', '/s', '--cache-size', '1x'], /cache-size/],
    [['--shared-dir', '/s', '--cache-size', '1000'], /page size/],
    [['--shared-dir', '/s', '--bogus'], /bogus/],
  ];
  for (const [argv, re] of bad) assert.throws(() => parseVmmArgs(argv), (e: unknown) => e instanceof UsageError && re.test((e as Error).message), argv.join(' '));
});

t('sizes', () => {
  assert.is(parseSize('4096'), 4096);
  assert.is(parseSize('64K'), 65536);
  assert.is(parseSize('2m'), 2 << 20);
  assert.is(parseSize('1G'), 1 << 30);
  assert.is(parseSize('1GiB'), 1 << 30);
  assert.is(parseSize('0'), 0);
  for (const bad of ['', 'G', '-1', '1.5', '1Q']) assert.throws(() => parseSize(bad), RangeError, bad);
  assert.is(formatSize(2 << 20), '2M');
  assert.is(formatSize(1000), '1000');
});

t('token files: one name per device model address, owner-only', () => {
  assert.is(defaultTokenFile('tcp:127.0.0.1:5000'), defaultTokenFile('tcp://127.0.0.1:5000'));
  assert.is.not(defaultTokenFile('tcp:127.0.0.1:5000'), defaultTokenFile('tcp:127.0.0.1:5001'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-'));
  try {
    const f = path.join(dir, 'sub', 't');
    writeTokenFile(f, 'secret');
    assert.is(fs.statSync(f).mode & 0o777, 0o600);
    assert.is(readTokenFile(f), 'secret');
    fs.symlinkSync(f, path.join(dir, 'link'));
    assert.throws(() => writeTokenFile(path.join(dir, 'link'), 'x'), /ELOOP/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('caps: defaults, parsed, refused when not positive', () => {
  const o = parseVmmArgs(['--shared-dir', '/tmp'])!;
  assert.equal([o.maxGuests, o.maxOpenFiles, o.maxInodes, o.maxRequests, o.maxQueuedBytes], [8, 1024, 65536, 256, 1 << 20]);
  const p = parseVmmArgs(['--shared-dir', '/tmp', '--max-guests', '2', '--max-open-files', '10', '--max-inodes', '20',
    '--max-requests', '3', '--max-queued-bytes', '128K'])!;
  assert.equal([p.maxGuests, p.maxOpenFiles, p.maxInodes, p.maxRequests, p.maxQueuedBytes], [2, 10, 20, 3, 128 << 10]);
  assert.throws(() => parseVmmArgs(['--shared-dir', '/tmp', '--max-guests', '0']), /--max-guests: not a positive integer/);
  assert.throws(() => parseVmmArgs(['--shared-dir', '/tmp', '--max-queued-bytes', '1K']), /at least 64K/);
});

t("the README's options table has every option --help lists", () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf('| option | default | meaning |');
  assert.ok(start >= 0, 'the README has the table');
  const table = readme.slice(start, readme.indexOf('\n\n', start));
  const options = [...USAGE.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--version');
  assert.ok(options.length > 20, `${options.length} options in --help`);
  assert.equal(options.filter((o) => !table.includes(`\`${o}`)), [], 'missing from the README');
});

t.run();
