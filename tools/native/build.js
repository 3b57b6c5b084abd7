#!/usr/bin/env node
// Builds the project's own native addon (tools/native: host calls Node lacks)
// with node-gyp, against Node's own headers where the machine has them. A
// failed build is not fatal: the passthrough falls back (docs/PASSTHROUGH.md
// says what it then cannot do). Prints to stderr only (npm pack --json
// reads stdout).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dir = __dirname;

function nodeGyp() {
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const npmDir = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  const bundled = path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return fs.existsSync(bundled) ? bundled : undefined;
}

function build() {
  const gyp = nodeGyp();
  if (!gyp) return 'node-gyp not found (it comes with npm)';
  const args = [gyp, 'rebuild'];
  const headers = path.join(path.dirname(process.execPath), '..', 'include', 'node', 'node_api.h');
  const nodedir = process.env.npm_config_nodedir || (fs.existsSync(headers) ? path.resolve(headers, '..', '..', '..') : undefined);
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error|ERR!/i.test(l)).slice(0, 4);
  return lines.join('\n') || `node-gyp exited with ${r.status}`;
}

const why = build();
if (why) {
  process.stderr.write(`tools/native: the host-calls addon was not built; the passthrough runs without mknod of\n`
    + `devices, RENAME_NOREPLACE/EXCHANGE, xattrs, SEEK_DATA/SEEK_HOLE and copy_file_range.\n${why}\n`);
} else {
  process.stderr.write('tools/native: built build/Release/hostcalls.node\n');
}
