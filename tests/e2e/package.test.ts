// The package as a user gets it: `npm pack` (which builds it: prepare says
// nothing on stdout, so --json parses), its contents (the programs, the
// library with its declarations, the licence; no tests, no CI, no sources),
// an install into a temporary directory with no network (which builds the
// native addons where a compiler is), `npx virtiofs start` there, vhost-user
// refused in one line while tools/native is not built, a TypeScript file
// importing the library, and the README's embedding example run exactly as
// written.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const t = suite('the packed package');
const ROOT = path.resolve(__dirname, '../..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
let tmp = '';
let tarball = '';
let app = '';

interface Run { code: number | null; out: string; err: string }

/** A command to its end (a run past limitMs is killed and fails). */
function sh(cmd: string, args: string[], cwd: string, limitMs = 300_000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { c.kill('SIGKILL'); reject(new Error(`${cmd} ${args.join(' ')}: still running after ${limitMs} ms\n${err}`)); }, limitMs);
    c.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

t.before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'package-test-'));
  app = path.join(tmp, 'app');
  fs.mkdirSync(app);
});

t.after(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

t('npm pack: prepare builds on stderr only; the tarball holds the programs, the library with types, the licence; no tests, CI or sources', async () => {
  const r = await sh('npm', ['pack', '--json', '--pack-destination', tmp], ROOT, 600_000);
  assert.is(r.code, 0, r.err);
  let info: { filename: string; files: { path: string }[] }[];
  try { info = JSON.parse(r.out); } catch { throw new Error(`npm pack --json printed more than JSON on stdout:\n${r.out.slice(0, 2000)}`); }
  tarball = path.join(tmp, info[0]!.filename);
  const files = info[0]!.files.map((f) => f.path);
  for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'dist/virtiofs.js', 'dist/virtiofs-vmm.js',
    'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/core/vfs/vfs.d.ts', 'tools/native/src/hostcalls.c',
    'tools/native/src/unixsock.c', 'tools/native/binding.gyp', 'core/native/src/mmap.c',
    'core/native/binding.gyp', 'tools/addons.js', 'tools/install.js']) {
    assert.ok(files.includes(f), `ships ${f}`);
  }
  for (const f of files) {
    // Of the sources only the addons' C and their gyp files: built at install.
    assert.not.match(f.replace(/^core\/native\/(binding\.gyp|src\/)/, 'addon/'), /^(tests|\.ci|lib|core|drivers|fs|node_modules)\//, `does not ship ${f}`);
    assert.ok(!f.endsWith('.ts') || f.endsWith('.d.ts'), `no TypeScript source: ${f}`);
    assert.not.match(f, /\.map$|tools\/native\/build\//, `no maps, no built addon: ${f}`);
  }
  const pj = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.is(pj.private, undefined, 'publishable');
  assert.is(pj.types, 'dist/lib/index.d.ts');
  assert.is(pj.exports['.'].types, './dist/lib/index.d.ts');
  assert.equal({ ...pj.dependencies, ...pj.optionalDependencies }, {}, 'no run-time dependency: the addons are built from the sources shipped');
});

/** A C compiler, make and python3 on PATH: what node-gyp needs to build the addons. */
const canBuild = ['cc', 'make', 'python3'].every((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);

t('installed into an empty project, without network: npx virtiofs start checks every byte', async () => {
  assert.ok(tarball, 'packed');
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  const i = await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], app, 600_000);
  assert.is(i.code, 0, i.err);
  const v = await sh('npx', ['--offline', 'virtiofs-vmm', '--version'], app);
  assert.match(v.out, /^virtiofs-vmm \d+\.\d+\.\d+/);
  const s = await sh('npx', ['--offline', 'virtiofs', 'start'], app, 600_000);
  assert.is(s.code, 0, `${s.out}\n${s.err}`);
  assert.match(s.out, /^result: OK, every byte matches the host$/m);
  assert.match(s.out, /^ {2}pass 2 {7}DAX\/FUSE_READ [\d.]+x on the 4 files through the window/m);
});

t('vhost-user in the installed package: past the addon check where tools/native was built; refused in one line where not', async () => {
  const built = path.join(app, 'node_modules', 'virtiofs-dax', 'tools', 'native', 'build');
  const vhostUser = (): Promise<Run> => sh('npx', ['--offline', 'virtiofs-vmm', '--shared-dir', app, '--backend', 'vhost-user',
    '--virtiofsd', path.join(tmp, 'no-virtiofsd')], app);
  if (canBuild) {
    assert.ok(fs.existsSync(path.join(built, 'Release', 'hostcalls.node')), 'the install built tools/native (a compiler is here)');
    const ok = await vhostUser();
    assert.is(ok.code, 2, ok.err);
    assert.match(ok.err, /--virtiofsd \S+no-virtiofsd: not found/, 'the addon loaded: the next check speaks');
    fs.renameSync(built, `${built}.aside`); // as an install without a compiler leaves it
  }
  try {
    const vu = await vhostUser();
    assert.is(vu.code, 2, vu.err);
    assert.match(vu.err, /--backend vhost-user: the vhost-user backend needs the project's native addon \(tools\/native\), not built here: install g\+\+, make and python3, then run npm rebuild virtiofs-dax/);
    assert.is(vu.err.trim().split('\n').length, 1, vu.err);
    if (canBuild) {
      const r = await sh('npm', ['rebuild', '--offline', 'virtiofs-dax'], app, 600_000);
      assert.is(r.code, 0, r.err);
      assert.ok(fs.existsSync(path.join(built, 'Release', 'hostcalls.node')), 'the fix the message names built it');
    }
  } finally {
    if (canBuild && !fs.existsSync(built)) fs.renameSync(`${built}.aside`, built);
    fs.rmSync(`${built}.aside`, { recursive: true, force: true });
  }
});

/** Compiles a TypeScript file of the app against the installed package's declarations and runs it. */
async function compileAndRun(name: string, source: string, moduleResolution: string): Promise<Run> {
  fs.writeFileSync(path.join(app, `${name}.ts`), source);
  fs.writeFileSync(path.join(app, `tsconfig.${name}.json`), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: moduleResolution === 'node16' ? 'node16' : 'commonjs', moduleResolution, strict: true,
      types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')], outDir: 'out', skipLibCheck: false,
    },
    files: [`${name}.ts`],
  }));
  const c = await sh(process.execPath, [TSC, '-p', `tsconfig.${name}.json`], app);
  assert.is(c.code, 0, `tsc ${name}.ts:\n${c.out}${c.err}`);
  return sh(process.execPath, [path.join('out', `${name}.js`)], app);
}

t("a TypeScript file imports the library: the VFS over the device model's in-memory filesystem, typed", async () => {
  assert.ok(fs.existsSync(path.join(app, 'node_modules', 'virtiofs-dax')), 'installed');
  const src = `import { Allocator, DeviceInstance, ErrnoError, InProcessTransport, MemFs, O_RDONLY, symlink, Vfs,
  VirtioFsDriver, VirtiofsFileSystemType, fuseDeviceOf, type Stat } from 'virtiofs-dax';

async function main(): Promise<void> {
  const host = DeviceInstance.create({ sharedDir: '', tag: 'mem', cacheSize: 0, queueSize: 256, numRequestQueues: 1,
    memory: 16 << 20, daxPolicy: 'none', readonly: true, logger: () => undefined,
    filesystem: new MemFs({ 'a.txt': 'from memfs\\n', link: symlink('a.txt') }) }, { ram: 'buffer' });
  const driver = await VirtioFsDriver.probe(new InProcessTransport(host.device.registers), host.memory, new Allocator(0, 16 << 20));
  const type = new VirtiofsFileSystemType();
  type.addDevice(fuseDeviceOf(driver, host.memory));
  const vfs = new Vfs({ firstFd: 3 });
  await vfs.mount(type, 'mem', '/', {});
  const st: Stat = await vfs.stat('/link');
  const fd = await vfs.open('/link', O_RDONLY);
  const text = Buffer.from(await vfs.read(fd, 100)).toString();
  await vfs.close(fd);
  const missing = await vfs.stat('/nope').then(() => 'found', (e: unknown) => (e instanceof ErrnoError ? e.code : 'other'));
  console.log(JSON.stringify({ size: st.size, text, missing }));
  await vfs.umount('/');
  await driver.close();
  await host.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
`;
  for (const resolution of ['node', 'node16']) {
    const r = await compileAndRun(`use-${resolution}`, src, resolution);
    assert.is(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out), { size: 11, text: 'from memfs\n', missing: 'ENOENT' }, resolution);
  }
});

t("the README's embedding examples, as written, against the installed package", async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const marked = [...readme.matchAll(/<!-- tests\/e2e\/package\.test\.ts runs this example as written[^>]*-->\n```ts\n([\s\S]*?)\n```/g)];
  // What each prints, in the README's order.
  const expected: [string, string][] = [
    ['hello, virtio-fs\nwritten by the guest\n', 'over a host directory: read through the window, then a file written to the host'],
    ['hi\n', 'over MemFs: a symlink followed to its file'],
  ];
  assert.is(marked.length, expected.length, 'the README marks its examples');
  for (const [i, m] of marked.entries()) {
    const r = await compileAndRun(`readme-example-${i}`, `${m[1]}\n`, 'node');
    assert.is(r.code, 0, r.err);
    assert.is(r.out, expected[i]![0], expected[i]![1]);
  }
});

t.run();
