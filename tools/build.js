#!/usr/bin/env node
// `npm run build` (and prepare, so `npm ci` and `npm pack` build too): the
// project's native addons (tools/addons.js: tools/native, core/native), each program (tools/<name>/main.ts)
// bundled by esbuild into dist/<program>.js, one self-contained file for
// Node 20, and the library (lib/index.ts and what it imports) compiled by
// tsc into dist/ with declarations: dist/lib/index.js and index.d.ts are the
// package's main and types. Everything it says goes to stderr: `npm pack
// --json` reads stdout.
//
//   node tools/build.js [--no-native] [--no-lib]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const flags = new Set(process.argv.slice(2));
const programs = [
  { entry: 'tools/vmm/main.ts', out: 'virtiofs-vmm.js' },
  { entry: 'tools/guest/main.ts', out: 'virtiofs.js' },
];
const say = (m) => process.stderr.write(`${m}\n`);

async function main() {
  if (!flags.has('--no-native')) require('./addons.js').buildAddons(); // not fatal: each addon has a fallback
  const present = programs.filter((p) => fs.existsSync(path.join(root, p.entry)));
  if (present.length === 0) throw new Error('no program entry points found under tools/');
  // A fresh dist/: no file of an older build shipped by npm pack.
  fs.rmSync(dist, { recursive: true, force: true });
  for (const p of present) {
    const outfile = path.join(dist, p.out);
    await esbuild.build({
      entryPoints: [path.join(root, p.entry)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      banner: { js: '#!/usr/bin/env node' },
      logLevel: 'warning',
    });
    fs.chmodSync(outfile, 0o755);
    say(`built ${path.relative(root, outfile)} from ${p.entry}`);
  }
  if (!flags.has('--no-lib')) {
    const tsc = require.resolve('typescript/bin/tsc');
    // tsc reports on stdout: sent to stderr with the rest.
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 2, 2] });
    if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json exited with ${r.status ?? r.signal}`);
    say('built dist/lib/index.js and index.d.ts (the library) from lib/index.ts');
  }
}

main().catch((err) => { say(`build failed: ${err.message}`); process.exit(1); });
