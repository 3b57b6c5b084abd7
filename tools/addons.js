#!/usr/bin/env node
// Builds the project's own native addons with node-gyp, against Node's own
// headers where the machine has them: tools/native (host calls the
// passthrough needs, and the vhost-user socket's) and core/native (guest RAM and DAX window ranges mapped
// into memory). A failed build is not fatal: each has a fallback, said here.
// Prints to stderr only (npm pack --json reads stdout). Run by tools/build.js
// at `prepare`; `node tools/addons.js` builds them alone.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

const ADDONS = [
  {
    dir: 'tools/native', target: 'hostcalls',
    without: 'the passthrough runs without mknod of devices, RENAME_NOREPLACE/EXCHANGE, xattrs,\n'
      + 'SEEK_DATA/SEEK_HOLE and copy_file_range; the vhost-user backend (SCM_RIGHTS) is refused',
  },
  {
    dir: 'core/native', target: 'mmap',
    without: 'guest RAM and DAX window ranges are reached by positioned reads and writes,\n'
      + 'not mapped (docs/MEMORY.md)',
  },
];

function nodeGyp() {
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const npmDir = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  const bundled = path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return fs.existsSync(bundled) ? bundled : undefined;
}

/** Builds the addon in `dir` (relative to the root); undefined, or why it failed. */
function buildAddon(dir) {
  const gyp = nodeGyp();
  if (!gyp) return 'node-gyp not found (it comes with npm)';
  const args = [gyp, 'rebuild'];
  const headers = path.join(path.dirname(process.execPath), '..', 'include', 'node', 'node_api.h');
  const nodedir = process.env.npm_config_nodedir || (fs.existsSync(headers) ? path.resolve(headers, '..', '..', '..') : undefined);
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(process.execPath, args, { cwd: path.join(root, dir), encoding: 'utf8' });
  if (r.error) return `node-gyp: ${r.error.message}`;
  if (r.status === 0) return undefined;
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error|ERR!/i.test(l)).slice(0, 4);
  return lines.join('\n') || `node-gyp exited with ${r.status}`;
}

/** Builds every addon; returns how many failed. */
function buildAddons() {
  let failed = 0;
  for (const a of ADDONS) {
    const why = buildAddon(a.dir);
    if (why) {
      failed++;
      process.stderr.write(`${a.dir}: the ${a.target} addon was not built; ${a.without}.\n${why}\n`);
    } else {
      process.stderr.write(`${a.dir}: built build/Release/${a.target}.node\n`);
    }
  }
  return failed;
}

module.exports = { ADDONS, buildAddon, buildAddons };

if (require.main === module) buildAddons();
