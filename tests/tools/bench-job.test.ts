import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { run, type BenchReport } from '../../tools/bench/main';
import { microDax } from '../../tools/bench/micro-dax';

const t = suite('bench against a spawned device model');

async function bench(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => { out += d; });
  stderr.on('data', (d) => { err += d; });
  const code = await run(argv, { stdout, stderr });
  return { code, out, err };
}

t('a tiny randread job: DAX, FUSE_READ and host, sane numbers, window statistics', async () => {
  const { code, out, err } = await bench(['--rw', 'randread', '--bs', '4k', '--size', '1M', '--runtime', '0.3', '--json']);
  assert.is(code, 0, err);
  const r = JSON.parse(out) as BenchReport;
  assert.ok(r.machine.nproc > 0 && r.machine.node.startsWith('v'));
  assert.equal(r.jobs.map((j) => j.path), ['dax', 'fuse', 'host']);
  for (const j of r.jobs) {
    assert.ok(j.ios > 0 && j.iops > 0 && j.mibps > 0, `${j.path} made progress`);
    assert.is(j.bytes, j.ios * 4096, `${j.path}: whole blocks`);
    assert.ok(j.elapsed > 0.2 && j.elapsed < 5, `${j.path} ran about 0.3 s (${j.elapsed})`);
    assert.ok(j.lat.minUs <= j.lat.p50Us && j.lat.p50Us <= j.lat.p99Us && j.lat.p99Us <= j.lat.p999Us && j.lat.p999Us <= j.lat.maxUs, `${j.path} percentiles ordered`);
  }
  const dax = r.jobs[0]!;
  assert.ok(dax.dax, 'DAX statistics');
  assert.ok(dax.dax!.setupMappings >= 1 && dax.dax!.misses >= 1 && dax.dax!.hits > 0);
  assert.is(dax.dax!.fallbacks, 0);
  assert.is(dax.dax!.bytesDax, dax.bytes, 'every byte through the window');
  assert.is(r.jobs[1]!.dax, undefined, 'no window statistics for FUSE_READ');
  assert.ok(dax.vsHost! > 0 && r.jobs[1]!.vsHost! > 0, 'ratios to the host');
});

t('a tiny randwrite job and a randrw job: DAX writes through the window, FUSE_WRITE, host pwrite', async () => {
  const { code, out, err } = await bench(['--rw', 'randwrite', '--size', '1M', '--runtime', '0.3', '--json']);
  assert.is(code, 0, err);
  const r = JSON.parse(out) as BenchReport;
  assert.equal(r.jobs.map((j) => j.path), ['dax', 'fuse', 'host']);
  for (const j of r.jobs) assert.ok(j.ios > 0 && j.writes === j.ios, `${j.path}: every I/O a write`);
  const d = r.jobs[0]!.dax!;
  assert.is(d.bytesDaxWritten, r.jobs[0]!.bytes, 'every byte through the window');
  assert.ok(d.writeMappings! >= 1 && d.fallbacks === 0);
  const mixed = await bench(['--rw', 'randrw', '--size', '1M', '--runtime', '0.3', '--dax', 'always', '--no-host', '--json']);
  assert.is(mixed.code, 0, mixed.err);
  const m = (JSON.parse(mixed.out) as BenchReport).jobs[0]!;
  assert.ok(m.writes! > 0 && m.writes! < m.ios, 'reads and writes');
  assert.is(m.dax!.bytesDax + m.dax!.bytesDaxWritten!, m.bytes);
});

t('the matrix: 16 rows x 3 paths, table with ratios, and the plot', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-plot-'));
  const plot = path.join(dir, 'm.svg');
  try {
    const { code, out, err } = await bench(['--matrix', 'seed002', '--size', '1M', '--runtime', '0.05', '--plot', plot]);
    assert.is(code, 0, err);
    assert.match(out, /DAX\/FUSE/);
    assert.match(out, /^seqwrite-psync +FUSE_WRITE /m, 'a write job sends FUSE_WRITE');
    for (const row of ['seqread-psync', 'seqread-libaio-multi', 'randread-psync-multi', 'randread-libaio', 'seqwrite-psync',
      'randwrite-libaio-multi']) assert.match(out, new RegExp(`^${row} `, 'm'));
    const svg = fs.readFileSync(plot, 'utf8');
    assert.is([...svg.matchAll(/class="bar"/g)].length, 48);
    assert.match(err, /\[48\/48\]/, 'progress on stderr');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('the window matrix: 8 rows, lifo/lru x adaptive on/off, a window a quarter of the file; the rule counted', async () => {
  const { code, out, err } = await bench(['--matrix', 'window', '--size', '8M', '--chunk-size', '256k', '--io_size', '1M', '--json']);
  assert.is(code, 0, err);
  const r = JSON.parse(out) as BenchReport;
  const names = ['randread', 'randwrite'].flatMap((rw) => ['lifo', 'lru'].flatMap((p) => ['adaptive', 'always-map'].map((a) => `${rw}-${p}-${a}`)));
  assert.equal(r.matrix!.map((l) => l.name), names);
  for (const l of r.matrix!) {
    assert.ok(l.dax && l.fuse && l.host && l.dax.ios > 0 && l.fuse.ios > 0 && l.host.ios > 0, `${l.name}: three paths ran`);
    assert.ok(l.dax.dax!.evictions > 0, `${l.name}: the file is larger than the window`);
    if (l.name.endsWith('always-map')) assert.is(l.dax.dax!.adaptiveMisses, 0, `${l.name}: every miss mapped`);
  }
});

t("--output-format=json: fio's layout, which fio tooling reads", async () => {
  const { code, out, err } = await bench(['--rw', 'read', '--bs', '4k', '--size', '1M', '--runtime', '0.2', '--name', 'seq', '--output-format=json']);
  assert.is(code, 0, err);
  assert.is(err, '', 'no progress around JSON');
  const r = JSON.parse(out) as { 'fio version': string; jobs: Record<string, any>[]; 'global options': object };
  assert.match(r['fio version'], /^virtiofs-bench-/);
  assert.equal(r.jobs.map((j) => j.jobname), ['seq.dax', 'seq.fuse', 'seq.host']);
  for (const j of r.jobs) {
    const rd = j.read;
    for (const k of ['io_bytes', 'io_kbytes', 'bw_bytes', 'bw', 'iops', 'runtime', 'total_ios']) assert.type(rd[k], 'number', `${j.jobname} read.${k}`);
    assert.ok(rd.io_bytes > 0 && rd.io_bytes === rd.total_ios * 4096, `${j.jobname}: whole blocks`);
    assert.is(rd.bw, Math.floor(rd.bw_bytes / 1024), 'bw in KiB/s, as fio');
    assert.ok(rd.clat_ns.mean > 0 && rd.clat_ns.N === rd.total_ios);
    assert.equal(Object.keys(rd.clat_ns.percentile).slice(0, 3), ['1.000000', '5.000000', '10.000000']);
    assert.ok(rd.clat_ns.percentile['99.000000'] >= rd.clat_ns.percentile['50.000000']);
    assert.is(j.write.io_bytes, 0, 'a read job writes nothing');
    assert.is(j['job options'].rw, 'read');
  }
});

t("--output-format=json: a write job reports in write{}, a mixed one splits its ios between read{} and write{}", async () => {
  for (const rw of ['randwrite', 'randrw']) {
    const { code, out, err } = await bench(['--rw', rw, '--bs', '4k', '--size', '1M', '--runtime', '0.2', '--name', 'w', '--dax', 'never', '--no-host', '--output-format=json']);
    assert.is(code, 0, err);
    const [j] = (JSON.parse(out) as { jobs: Record<string, any>[] }).jobs;
    const total = j!.read.total_ios + j!.write.total_ios;
    assert.ok(j!.write.total_ios > 0 && j!.write.io_bytes === j!.write.total_ios * 4096, `${rw}: writes in write{}`);
    if (rw === 'randwrite') assert.is(j!.read.total_ios, 0, 'a write job reads nothing');
    else assert.ok(j!.read.total_ios > total / 5 && j!.write.total_ios > total / 5, `randrw: both halves (${j!.read.total_ios} + ${j!.write.total_ios})`);
  }
});

t('--filename: every reader of the job reads that one file; an existing one is used as it is', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-file-'));
  try {
    const f = path.join(dir, 'data.bin');
    fs.writeFileSync(f, Buffer.alloc(2 << 20, 7));
    const { code, out, err } = await bench(['--directory', dir, '--filename', 'data.bin', '--size', '1M', '--numjobs', '2',
      '--runtime', '0.1', '--direct=1', '--dax', 'never', '--no-host', '--json']);
    assert.is(code, 0, err);
    assert.equal((JSON.parse(out) as BenchReport).jobs.map((j) => [j.path, j.numjobs]), [['fuse', 2]]);
    assert.ok(fs.readFileSync(f).equals(Buffer.alloc(2 << 20, 7)), 'the file is not rewritten');
    assert.equal(fs.readdirSync(dir), ['data.bin'], 'no NAME.J.0 files made');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('usage errors exit 2 with the reason', async () => {
  const { code, err } = await bench(['--rw', 'trim']);
  assert.is(code, 2);
  assert.match(err, /unknown/);
  assert.is(err.trim().split('\n').length, 1, 'one line');
  const h = await bench(['-h']);
  assert.is(h.code, 0);
  assert.match(h.out, /^usage: virtiofs bench/);
  const v = await bench(['--version']);
  assert.is(v.code, 0);
  assert.match(v.out, /^virtiofs bench \d+\.\d+\.\d+ \(virtiofs-dax/);
});

t('dax-manager micro-benchmark: ns per op for each op and size', async () => {
  const res = await microDax(2000, [1024, 4096]);
  const ops = new Set(res.map((r) => r.op));
  assert.equal([...ops], ['find (hit)', 'find (miss)', 'read 4 KiB (hit)', 'map 1 chunk (evicts 1)', 'evict 1 chunk (unmap)']);
  assert.is(res.length, 10);
  for (const r of res) assert.ok(r.nsPerOp > 0 && Number.isFinite(r.nsPerOp) && r.ops > 0, `${r.op} at ${r.chunks}`);
});

t.run();
