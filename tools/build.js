#!/usr/bin/env node
// `npm run build`: esbuild bundles each program (tools/<name>/main.ts) into
// dist/<program>.js, one self-contained file for Node 20, after building the
// native addons (tools/addons.js).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const programs = [
  { entry: 'tools/vmm/main.ts', out: 'virtiofs-vmm.js' },
  { entry: 'tools/guest/main.ts', out: 'virtiofs.js' },
];

async function main() {
  require('./addons.js').buildAddons(); // not fatal: each addon has a fallback
  const present = programs.filter((p) => fs.existsSync(path.join(root, p.entry)));
  if (present.length === 0) throw new Error('no program entry points found under tools/');
  for (const p of present) {
    const outfile = path.join(root, 'dist', p.out);
    await esbuild.build({
      entryPoints: [path.join(root, p.entry)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      banner: { js: '#!/usr/bin/env node' },
      external: ['usocket'], // native addons: loaded at run time
      logLevel: 'warning',
    });
    fs.chmodSync(outfile, 0o755);
    process.stderr.write(`built ${path.relative(root, outfile)} from ${p.entry}\n`);
  }
}

main().catch((err) => { process.stderr.write(`build failed: ${err.message}\n`); process.exit(1); });
