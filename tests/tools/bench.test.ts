import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LatencyHistogram, bucketOf, upperOf } from '../../tools/bench/histogram';
import { OffsetGen } from '../../tools/bench/job';
import { parseArgs, parseRuntime, UsageError } from '../../tools/bench/options';
import { seed002Rows, matrixLine } from '../../tools/bench/matrix';
import { barChartSvg, matrixSvg, shortNum } from '../../tools/bench/svg';
import { windowFor } from '../../tools/bench/target';
import type { JobResult } from '../../tools/bench/job';

const t = suite('bench');

t('fio names: --key value and --key=value, sizes with suffixes', () => {
  const a = parseArgs(['--rw=randread', '--bs', '128k', '--size', '1M', '--runtime', '0.3', '--iodepth=16', '--numjobs', '4', '--dax', 'always', '--name', 'x']);
  assert.is(a.mode, 'jobs');
  assert.is(a.jobs.length, 1);
  const j = a.jobs[0]!;
  assert.equal([j.name, j.rw, j.bs, j.size, j.runtime, j.iodepth, j.numjobs, j.ioengine, j.dax], ['x', 'randread', 131072, 1048576, 0.3, 16, 4, 'libaio', 'always']);
});

t('defaults: read, 4k, psync, both paths, 2 s; io_size alone ends the job', () => {
  const j = parseArgs([]).jobs[0]!;
  assert.equal([j.rw, j.bs, j.iodepth, j.ioengine, j.dax, j.runtime, j.ioSize], ['read', 4096, 1, 'psync', 'both', 2, undefined]);
  const k = parseArgs(['--io_size', '4M']).jobs[0]!;
  assert.is(k.runtime, undefined);
  assert.is(k.ioSize, 4 * 1024 * 1024);
  assert.is(parseArgs(['--io-size', '8k']).jobs[0]!.ioSize, 8192, "'-' spelling too");
});

t('--backend and --no-doorbells choose the spawned vmm and the guest\'s doorbells', () => {
  const a = parseArgs(['--backend', 'vhost-user', '--no-doorbells', '--dax', 'never']);
  assert.equal([a.backend, a.doorbells], ['vhost-user', false]);
  const d = parseArgs([]);
  assert.equal([d.backend, d.doorbells], [undefined, true]);
  assert.throws(() => parseArgs(['--backend', 'qemu']), /--backend: passthrough or vhost-user/);
});

t('globals before the first --name apply to every job; a job overrides them', () => {
  const a = parseArgs(['--bs', '8k', '--size', '2M', '--name', 'a', '--name', 'b', '--bs', '16k']);
  assert.equal(a.jobs.map((j) => [j.name, j.bs, j.size]), [['a', 8192, 2097152], ['b', 16384, 2097152]]);
});

t('psync keeps one read in flight whatever --iodepth says (as fio)', () => {
  const j = parseArgs(['--ioengine', 'psync', '--iodepth', '16']).jobs[0]!;
  assert.is(j.iodepth, 1);
});

t('bad arguments are usage errors', () => {
  const bad = [
    ['--rw', 'trim'], ['--rw', 'sideways'], ['--bs', '4x'], ['--bs', '0'], ['--size', '-1'],
    ['--bs', '2M', '--size', '1M'], ['--iodepth', '0'], ['--iodepth', '1.5'], ['--numjobs', '65'], ['--dax', 'inode'],
    ['--runtime', 'soon'], ['--runtime', '0'], ['--bogus', '1'], ['stray'], ['--bs'], ['--matrix', 'seed999'],
    ['--connect', 'tcp:127.0.0.1:1'], ['--plot', 'x.svg'], ['--ioengine', 'mmap'], ['--matrix', 'seed002', '--name', 'x'],
    ['--name', 'a b'],
  ];
  for (const argv of bad) assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof UsageError, argv.join(' '));
});

t('engines it does not model are refused with the reason; --direct=1 accepted, 0 refused', () => {
  const why = (argv: string[]): string => { try { parseArgs(argv); return ''; } catch (e) { return (e as Error).message; } };
  assert.match(why(['--ioengine', 'io_uring']), /--ioengine io_uring: .*not modelled.*libaio/);
  assert.match(why(['--ioengine', 'posixaio']), /not modelled/);
  assert.match(why(['--ioengine', 'mmap']), /--ioengine mmap: /);
  assert.match(why(['--ioengine', 'frob']), /unknown engine \(modelled: psync, sync, pvsync, pvsync2, libaio\)/);
  for (const e of ['psync', 'sync', 'pvsync', 'pvsync2']) assert.is(parseArgs(['--ioengine', e]).jobs[0]!.ioengine, 'psync', e);
  assert.is(parseArgs(['--direct=1']).jobs[0]!.rw, 'read');
  assert.match(why(['--direct=0']), /no page cache/);
  assert.match(why(['--filename', 'a:b']), /one file/);
  assert.is(parseArgs(['--directory', '/srv/d', '--filename', '/srv/d/x/f']).jobs[0]!.filename, 'x/f', 'absolute, inside --directory');
  assert.match(why(['--filename', '/elsewhere/f']), /needs --directory/);
  assert.match(why(['--directory', '/srv/d', '--filename', '/srv/other']), /not inside --directory/);
  assert.is(parseArgs(['--output-format=json']).output, 'json');
  assert.is(parseArgs(['--json']).output, 'bench-json');
  assert.is(parseArgs(['-h']).mode, 'help');
  assert.is(parseArgs(['--version']).mode, 'version');
});

t('the window is sized to the files: a power of two, none without DAX', () => {
  const set = { stem: 'j', count: 4, size: 1 << 30 };
  assert.is(windowFor([set], undefined, false), '0', '--dax never: no window');
  assert.is(windowFor([set], undefined, true), String(8 * 2 ** 30), '4 GiB of files and a chunk: 8G');
  assert.is(windowFor([{ stem: 'j', count: 1, size: 1 << 20 }], undefined, true), String(1 << 30), '1G at least');
  assert.is(windowFor([{ stem: 'j', count: 4, size: 1 << 29, filename: 'f' }], undefined, true), String(1 << 30), 'one shared file counts once');
  assert.is(windowFor([set], '64M', true), '64M', '--cache-size wins');
});

t('matrix and micro modes', () => {
  assert.is(parseArgs(['--matrix', 'seed002', '--runtime', '1']).mode, 'matrix');
  assert.is(parseArgs(['dax-manager']).mode, 'micro-dax');
  assert.is(parseArgs(['--micro', 'dax']).mode, 'micro-dax');
  assert.is(parseRuntime('500ms'), 0.5);
});

t('DAX series rows: seq/rand read/write x psync/libaio(16) x 1/4 jobs, 4k, with the series\' figures', () => {
  const base = parseArgs(['--matrix', 'seed002', '--size', '1M']).jobs[0]!;
  const rows = seed002Rows(base);
  assert.is(rows.length, 16);
  assert.equal(rows.find((x) => x.name === 'seqwrite-psync')!.seed, { none: 34, dax: 494 });
  assert.equal(rows.find((x) => x.name === 'randwrite-psync')!.seed, { none: 32, dax: 458 });
  const w = rows.find((x) => x.name === 'randwrite-libaio-multi')!;
  assert.equal([w.spec.rw, w.spec.iodepth, w.spec.numjobs], ['randwrite', 16, 4]);
  assert.equal(rows.map((r) => r.name).slice(0, 4), ['seqread-psync', 'seqread-psync-multi', 'seqread-libaio', 'seqread-libaio-multi']);
  const r = rows.find((x) => x.name === 'randread-libaio-multi')!;
  assert.equal([r.spec.rw, r.spec.iodepth, r.spec.numjobs, r.spec.bs, r.spec.size], ['randread', 16, 4, 4096, 1048576]);
  assert.is(rows.find((x) => x.name === 'seqread-psync')!.spec.iodepth, 1);
});

t('window matrix: randread/randwrite x lifo/lru x adaptive on/off, a 1 GiB file unless --size, the window a quarter of it', () => {
  const args = parseArgs(['--matrix', 'window']);
  assert.is(args.matrix, 'window');
  const rows = seed002Rows(args.jobs[0]!);
  assert.is(rows.length, 8);
  assert.equal(rows.map((r) => r.name).slice(0, 4), ['randread-lifo-adaptive', 'randread-lifo-always-map', 'randread-lru-adaptive', 'randread-lru-always-map']);
  assert.ok(rows.every((r) => r.spec.size === 1 << 30 && r.spec.bs === 4096 && r.spec.numjobs === 1));
  assert.equal(rows[3]!.spec.mount, { 'dax-placement': 'lru', 'dax-adaptive': 'off' });
  assert.ok(rows.every((r) => Number.isNaN(r.seed.dax)), 'no seed figures');
  assert.is(seed002Rows(parseArgs(['--matrix', 'window', '--size', '64M']).jobs[0]!)[0]!.spec.size, 64 << 20);
  assert.is(windowFor([{ stem: 's', count: 1, size: 1 << 30 }], undefined, true, '2M', 'window'), String(256 << 20));
  assert.is(windowFor([{ stem: 's', count: 1, size: 1 << 20 }], undefined, true, '2M', 'window'), String(2 << 20), 'at least a chunk');
});

t('writes: parsed in fio\'s names; offsets and the read/write mix the same on every path', () => {
  const j = parseArgs(['--rw', 'randrw']).jobs[0]!;
  assert.is(j.rw, 'randrw');
  assert.is(parseArgs(['--rw', 'seqwrite']).jobs[0]!.rw, 'write');
  const a = new OffsetGen('randrw', 4096, 1 << 20, 5);
  const b = new OffsetGen('randrw', 4096, 1 << 20, 5);
  const seq: boolean[] = [];
  for (let i = 0; i < 200; i++) { const w = a.nextIsWrite(); assert.is(b.nextIsWrite(), w); assert.is(a.next(), b.next()); seq.push(w); }
  const writes = seq.filter(Boolean).length;
  assert.ok(writes > 70 && writes < 130, `about half writes (${writes})`);
  assert.ok(Array.from({ length: 10 }, () => new OffsetGen('write', 4096, 1 << 20, 1).nextIsWrite()).every(Boolean));
  assert.not.ok(new OffsetGen('randread', 4096, 1 << 20, 1).nextIsWrite());
  const s = new OffsetGen('write', 4096, 3 * 4096, 1);
  assert.equal([s.next(), s.next(), s.next(), s.next()], [0, 4096, 8192, 0], 'seqwrite is sequential');
});

t('histogram: exact below 64 ns, percentiles of 1..100', () => {
  const h = new LatencyHistogram();
  for (let v = 100; v >= 1; v--) h.record(v);
  assert.is(h.count, 100);
  assert.is(h.mean(), 50.5);
  assert.is(h.percentile(50), 50);
  assert.is(h.percentile(99), 99);
  assert.is(h.percentile(99.9), 100);
  assert.is(h.percentile(100), 100);
  assert.is(h.percentile(0), 1);
  assert.is(h.min, 1);
  assert.is(h.max, 100);
});

t('histogram: a percentile is within 1/32 above the true value', () => {
  const h = new LatencyHistogram();
  const samples: number[] = [];
  let x = 7;
  for (let i = 0; i < 10000; i++) { x = (x * 1103515245 + 12345) >>> 0; samples.push(100 + (x % 5_000_000)); }
  for (const s of samples) h.record(s);
  samples.sort((a, b) => a - b);
  for (const p of [50, 90, 99, 99.9]) {
    const exact = samples[Math.ceil((p / 100) * samples.length) - 1]!;
    const got = h.percentile(p);
    assert.ok(got >= exact && got <= exact * (1 + 1 / 32), `p${p}: ${got} vs ${exact}`);
  }
});

t('histogram buckets are monotone and each value is below its bucket upper bound', () => {
  let last = -1;
  for (const v of [0, 1, 63, 64, 65, 127, 128, 1000, 4095, 4096, 1e6, 2 ** 31, 2 ** 32 + 5, 1e11]) {
    const b = bucketOf(v);
    assert.ok(b >= last, `bucket of ${v}`);
    assert.ok(upperOf(b) >= v || v >= 2 ** 36, `upper of ${v}`);
    last = b;
  }
  const h = new LatencyHistogram();
  assert.is(h.percentile(99), 0, 'empty');
  h.record(-5);
  assert.is(h.max, 0, 'negative samples count as 0');
});

t('offsets: sequential wraps at the last whole block; random stays in the file and repeats per seed', () => {
  const s = new OffsetGen('read', 4096, 3 * 4096 + 100, 1);
  assert.equal([s.next(), s.next(), s.next(), s.next()], [0, 4096, 8192, 0]);
  const a = new OffsetGen('randread', 4096, 1 << 20, 42);
  const b = new OffsetGen('randread', 4096, 1 << 20, 42);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const o = a.next();
    assert.is(o, b.next());
    assert.ok(o % 4096 === 0 && o >= 0 && o + 4096 <= 1 << 20);
    seen.add(o);
  }
  assert.ok(seen.size > 200, 'random offsets spread over the file');
});

function wellFormed(svg: string): void {
  // Every tag closes in order; attributes quoted; no raw '&' outside entities.
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(svg))) {
    const between = svg.slice(pos, m.index);
    assert.not.match(between, /<|>/, `stray markup before ${m[0]}`);
    assert.not.match(between, /&(?!(amp|lt|gt|quot|apos);)/, 'raw &');
    pos = re.lastIndex;
    if (m[1]) assert.is(stack.pop(), m[2], `closing ${m[2]}`);
    else if (!m[4]) stack.push(m[2]!);
  }
  assert.is(svg.slice(pos).trim(), '');
  assert.equal(stack, [], 'every element closed');
}

function fake(name: string, path: JobResult['path'], mibps: number): JobResult {
  return {
    name, path, rw: 'read', bs: 4096, size: 1 << 20, iodepth: 1, numjobs: 1, ioengine: 'psync', elapsed: 1, ios: 1, bytes: 1,
    mibps, iops: mibps * 256, lat: { meanUs: 1, minUs: 1, p50Us: 1, p99Us: 1, p999Us: 1, maxUs: 1 },
    clatNs: { min: 1000, max: 1000, mean: 1000, stddev: 0, N: 1, percentile: { '50.000000': 1000 } },
  };
}

t('SVG: well-formed, one bar per row and path, axis, legend, escaped text', () => {
  const base = parseArgs(['--matrix', 'seed002']).jobs[0]!;
  const rows = seed002Rows(base);
  const lines = rows.map((r, i) => matrixLine(r, [fake(r.name, 'dax', 400 + i), fake(r.name, 'fuse', 9 + i), fake(r.name, 'host', 1500)]));
  const svg = matrixSvg(lines, 'a <b> & "c"');
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  wellFormed(svg);
  const bars = [...svg.matchAll(/<rect class="bar" data-series="([^"]+)"[^>]*height="([\d.]+)"/g)];
  assert.is(bars.length, 48);
  for (const s of ['DAX', 'FUSE_READ/FUSE_WRITE', 'host']) assert.is(bars.filter((b) => b[1] === s).length, 16, s);
  const h = (i: number) => Number(bars[i]![2]);
  assert.ok(h(0) > h(1) && h(2) > h(0), 'taller bar for more MiB/s (host > DAX > FUSE_READ)');
  assert.match(svg, /class="y-axis"/);
  assert.match(svg, /MiB\/s \(log scale\)/);
  assert.match(svg, /class="legend"[\s\S]*DAX[\s\S]*FUSE_READ\/FUSE_WRITE[\s\S]*host/);
  assert.match(svg, /a &lt;b&gt; &amp; &quot;c&quot;/);
  assert.match(svg, /DAX\/FUSE 44\.4x/);
  // The Linux series' figures as marks beside the DAX and FUSE bars of every row, reads and writes.
  const refs = [...svg.matchAll(/<line class="ref" data-series="([^"]+)"/g)].map((m) => m[1]);
  assert.is(refs.length, 32);
  assert.is(refs.filter((r) => r === 'DAX').length, 16);
  assert.match(svg, /Linux virtiofs DAX series \(Goyal et al\., 2020\)/);
  assert.match(svg, />643</, "seqread-psync's cache=none+dax figure");
  assert.match(svg, />Linux: 18\.4x</);
  assert.not.match(svg, /seed ?002/i, 'cited by title, not by seed number');
});

t('bar values fit a bar: at most five characters', () => {
  assert.equal([8.234, 95.14, 643.4, 1294, 2132, 12345].map(shortNum), ['8.23', '95.1', '643', '1.29k', '2.13k', '12k']);
});

t('SVG: a missing value draws no bar; no values at all still makes a document', () => {
  const svg = barChartSvg({ title: 't', yLabel: 'y', series: [{ name: 'a', color: '#000' }, { name: 'b', color: '#111' }], groups: [{ label: 'g', values: [5, undefined] }] });
  wellFormed(svg);
  assert.is([...svg.matchAll(/class="bar"/g)].length, 1);
  wellFormed(barChartSvg({ title: 't', yLabel: 'y', series: [], groups: [] }));
});

t.run();
