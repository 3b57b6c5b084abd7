import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { portableFiles, scanFile, scanSource } from './portability-scan';

const ROOT = path.resolve(__dirname, '..', '..');
const t = suite('portability of core/, drivers/, fs/');

t('no portable file uses a Node built-in module or Node global', () => {
  const files = portableFiles(ROOT, ['core', 'drivers', 'fs']);
  const rel = files.map((f) => path.relative(ROOT, f));
  assert.ok(rel.includes(path.join('core', 'memory.ts')), 'scanned core/memory.ts');
  assert.not.ok(rel.some((f) => f.endsWith('.node.ts')), 'skips *.node.ts');
  const bad = files.flatMap((f) => scanFile(f, ROOT));
  assert.equal(bad.map((v) => `${v.file}:${v.line}: ${v.what}`), []);
});

t('the scanner catches every way in (bad samples)', () => {
  const samples: Array<[string, RegExp]> = [
    ["import * as fs from 'fs';", /import of Node built-in 'fs'/],
    ["import { readFileSync } from 'node:fs';", /'node:fs'/],
    ["import 'net';", /'net'/],
    ["import type { Stats } from 'fs/promises';", /'fs\/promises'/],
    ["export { join } from 'path';", /export-from of Node built-in 'path'/],
    ["export * from 'node:crypto';", /'node:crypto'/],
    ["const m = await import('os');", /dynamic import of Node built-in 'os'/],
    ["import zlib = require('zlib');", /'zlib'/],
    ["let s: import('node:fs').Stats;", /import type of Node built-in 'node:fs'/],
    ["const cp = require('child_process');", /require of Node built-in 'child_process'/],
    ["const b = Buffer.from([1]);", /Node global 'Buffer'/],
    ['function f(x: Buffer) { return x; }', /Node global 'Buffer'/],
    ['if (process.env.X) {}', /Node global 'process'/],
    ['const o = { process };', /Node global 'process'/],
    ['const here = __dirname;', /Node global '__dirname'/],
    ['const me = __filename;', /Node global '__filename'/],
    ["const x = require('./local');", /Node global 'require'/],
    ['declare const process: any; process.exit(1);', /Node global 'process'/],
    ['const p = globalThis.process;', /via globalThis/],
    ["const p = globalThis['Buffer'];", /via globalThis/],
    ['let a = 1;\n// fine\nconst e = process.argv;', /process/],
  ];
  for (const [src, want] of samples) {
    const v = scanSource(src, 'bad.ts');
    assert.ok(v.some((x) => want.test(x.what)), `not caught: ${src} -> ${JSON.stringify(v)}`);
  }
  const v = scanSource('let a = 1;\n// fine\nconst e = process.argv;', 'x/bad.ts');
  assert.equal(v, [{ file: 'x/bad.ts', line: 3, what: "Node global 'process'" }]);
});

t('comments, strings, property names and local bindings do not trip it', () => {
  const good = `
    // import * as fs from 'fs'; process.exit(); Buffer.from('x')
    /* require('net'); __dirname */
    /** @example import { join } from 'node:path' */
    import { GuestMemory } from '../core/memory';
    import { Buffer as Ring } from './ring';
    export * from './fs/vnops';
    const msg = "process 'fs' Buffer require('os')";
    const tpl = \`import fs from 'fs' \${msg} process\`;
    const re = /require\\('fs'\\)|process/g;
    const o = { process: 1, Buffer: 2, require: true };
    o.process = 3;
    class Q { process(x: number) { return x; } get Buffer() { return 1; } }
    interface R { require: boolean; process(): void }
    const { process: p2 } = { process: 4 };
    enum E { process, Buffer }
    const m = import('./lazy');
    loop: for (;;) { break loop; }
  `;
  assert.equal(scanSource(good, 'good.ts'), []);
  // a file's own binding of the name shadows the global
  assert.equal(scanSource('function run(process: number) { return process + 1; }'), []);
  assert.equal(scanSource("import { require } from './loader'; require('x');"), []);
});

t('a real .node.ts file would be caught if it were scanned', () => {
  const v = scanFile(path.join(ROOT, 'core', 'shm-file.node.ts'), ROOT);
  assert.ok(v.some((x) => /'node:fs'/.test(x.what)), JSON.stringify(v));
  assert.ok(v.some((x) => /global 'process'/.test(x.what)), JSON.stringify(v));
});

t.run();
