import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError, parseGuestArgs, splitCommands } from '../../tools/guest/args';
import { parseStartArgs } from '../../tools/guest/start';

const isUsage = (e: unknown): boolean => e instanceof UsageError;
const t = suite('guest command line');

t('global options, then the command and its own flags', () => {
  const a = parseGuestArgs(['--connect', 'tcp:127.0.0.1:5000', '--dax=never', '--chunk-size', '64K', '--aggressive', 'ls', '-l', '/a']);
  assert.equal(a, {
    connect: 'tcp:127.0.0.1:5000', dax: 'never', chunkSize: '64K', aggressive: true, adaptive: true, json: false, command: 'ls', args: ['-l', '/a'],
  });
  const b = parseGuestArgs(['--connect', 'unix:/s', '--dax-placement=lru', '--no-dax-adaptive', 'dax']);
  assert.equal([b.placement, b.adaptive, b.command], ['lru', false, 'dax']);
  assert.throws(() => parseGuestArgs(['--connect', 'unix:/s', '--dax-placement', 'fifo', 'dax']), (e: unknown) => e instanceof UsageError);
});

t('--request-timeout: whole seconds, passed as the mount option', () => {
  assert.is(parseGuestArgs(['--connect', 'unix:/s', '--request-timeout', '5', 'ls']).requestTimeout, '5');
  assert.is(parseGuestArgs(['--connect', 'unix:/s', '--request-timeout=0', 'ls']).requestTimeout, '0');
  assert.throws(() => parseGuestArgs(['--connect', 'unix:/s', '--request-timeout', '1.5', 'ls']), /--request-timeout: whole seconds/);
});

t('--json before or after the command', () => {
  assert.ok(parseGuestArgs(['--json', '--connect', 'unix:/s', 'dax']).json);
  const a = parseGuestArgs(['--connect', 'unix:/s', 'stat', '/x', '--json']);
  assert.ok(a.json);
  assert.equal(a.args, ['/x']);
});

t('--help anywhere gives help; start and harness need no --connect', () => {
  assert.is(parseGuestArgs(['--help']).command, 'help');
  assert.is(parseGuestArgs(['--connect', 'tcp:h:1', 'ls', '--help']).command, 'help');
  assert.is(parseGuestArgs(['start']).command, 'start');
  const h = parseGuestArgs(['harness', '--json', '--help', 'x']);
  assert.is(h.command, 'harness');
  assert.equal(h.args, ['--json', '--help', 'x'], 'harness and bench get their words untouched');
  assert.not.ok(h.json);
});

t('usage errors', () => {
  for (const argv of [
    [], ['ls'], ['--connect'], ['--connect', 'tcp:h:1', 'frobnicate'], ['--dax', 'sometimes', 'start'],
    ['--chunk-size', '0', 'start'], ['--chunk-size', '2X', 'start'], ['--bogus', 'start'],
  ]) {
    assert.throws(() => parseGuestArgs(argv), (e: unknown) => e instanceof UsageError, argv.join(' '));
  }
});

t('shell lines: commands at ;, quotes, escapes', () => {
  assert.equal(splitCommands('ls -l /; cat "/a b" \'/c;d\' e\\ f;;  pwd '), [['ls', '-l', '/'], ['cat', '/a b', '/c;d', 'e f'], ['pwd']]);
  assert.equal(splitCommands('   '), []);
  assert.equal(splitCommands('cat ""'), [['cat', '']]);
  assert.throws(() => splitCommands('cat "/a'), isUsage);
  assert.throws(() => splitCommands('cat /a > /b'), isUsage);
  assert.throws(() => splitCommands('cat /a | head'), isUsage);
  assert.equal(splitCommands('cat a>b'), [['cat', 'a>b']], 'inside a word it is a name');
});

t('start options', () => {
  assert.equal(parseStartArgs([], { aggressive: false }), { chunkSize: undefined, aggressive: false }, 'the window is sized to the files');
  const o = parseStartArgs(['--cache-size', '0', '--no-shell', '/srv'], { chunkSize: '4K', aggressive: true });
  assert.equal(o, { cacheSize: '0', chunkSize: '4K', aggressive: true, shell: false, dir: '/srv' });
  assert.throws(() => parseStartArgs(['a', 'b'], { aggressive: false }), isUsage);
  assert.throws(() => parseStartArgs(['--cache-size', 'lots'], { aggressive: false }), isUsage);
  assert.throws(() => parseStartArgs(['--frob'], { aggressive: false }), isUsage);
  assert.throws(() => parseStartArgs(['--cache-size', '3M'], { aggressive: false }), (e: unknown) => isUsage(e) && /power of two/.test(String(e)));
  assert.ok(parseStartArgs(['-h'], { aggressive: false }).help);
  assert.ok(parseStartArgs(['--version'], { aggressive: false }).version);
  assert.equal(parseGuestArgs(['start', '--version', '-h']).args, ['--version', '-h'], 'start gets its own -h and --version');
});

t('checked before connecting: the chunk size is a multiple of 4K, the address has tcp: or unix:', () => {
  for (const [argv, re] of [
    [['--chunk-size', '1K', 'start'], /--chunk-size 1K: a multiple of 4K/],
    [['--connect', '127.0.0.1:5000', 'ls'], /--connect 127\.0\.0\.1:5000: write tcp:HOST:PORT or unix:PATH \(tcp:127\.0\.0\.1:5000\?\)/],
  ] as const) {
    assert.throws(() => parseGuestArgs([...argv]), (e: unknown) => isUsage(e) && re.test((e as Error).message), argv.join(' '));
  }
  assert.is(parseGuestArgs(['--version']).command, 'version');
});

t.run();
