// The programs as their users run them: bundled by esbuild, as `npm run
// build` bundles them into dist/, but from the sources of this checkout and
// into a directory of this test process (under node_modules/.cache, so the
// bundles find the package root as dist/ does). A bundle starts in a tenth
// of a second where ts-node takes seconds: the program tests spawn many.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = path.resolve(__dirname, '../..');
const ENTRIES = { 'virtiofs-vmm': 'tools/vmm/main.ts', virtiofs: 'tools/guest/main.ts' } as const;
let dir: string | undefined;

/** The bundle of a program, built once per test process. */
export function program(name: keyof typeof ENTRIES): string {
  if (!dir) {
    const base = path.join(ROOT, 'node_modules', '.cache');
    fs.mkdirSync(base, { recursive: true });
    const d = fs.mkdtempSync(path.join(base, 'virtiofs-programs-'));
    process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
    for (const [out, entry] of Object.entries(ENTRIES)) {
      buildSync({
        entryPoints: [path.join(ROOT, entry)], outfile: path.join(d, `${out}.js`), bundle: true, platform: 'node',
        target: 'node20', format: 'cjs', logLevel: 'error',
      });
    }
    dir = d;
  }
  return path.join(dir, `${name}.js`);
}
