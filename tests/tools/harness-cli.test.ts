// `virtiofs harness` and `virtiofs bench` as programs, from the bundle a user
// runs: -h and --version exit 0 on stdout; a usage error exits 2 with one
// line on stderr naming the fix, no stack trace, nothing on stdout.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { program } from './programs';

const t = suite('harness and bench programs');
const GUEST = program('virtiofs');

interface Run { code: number | null; out: string; err: string }

function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GUEST, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { err += String(d); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

for (const name of ['harness', 'bench'] as const) {
  t(`virtiofs ${name}: -h, --version, a usage error`, async () => {
    const bad = name === 'harness' ? ['--dax', 'sometimes'] : ['--rw', 'sideways'];
    const [h, v, u] = await Promise.all([run([name, '-h']), run([name, '--version']), run([name, ...bad])]);
    assert.is(h.code, 0, h.err);
    assert.match(h.out, new RegExp(`^usage: virtiofs ${name} `));
    assert.is(h.err, '');
    assert.is(v.code, 0, v.err);
    assert.match(v.out, new RegExp(`^virtiofs ${name} \\d+\\.\\d+\\.\\d+ \\(virtiofs-dax, node v\\S+\\)\\n$`));
    assert.is(v.err, '');
    assert.is(u.code, 2, `exit status\n${u.err}`);
    assert.is(u.out, '');
    assert.is(u.err.trim().split('\n').length, 1, `one line\n${u.err}`);
    assert.match(u.err, new RegExp(`^virtiofs ${name}: .*${bad[1]}.*\\(virtiofs ${name} --help lists the options\\)\\n$`));
    assert.not.match(u.err, /\n\s+at |Error:/, 'no stack trace');
  });
}

t.run();
