// The generic FUSE server and the in-memory filesystem are Node-free, so an
// embedder can serve a FuseFilesystem on any JavaScript runtime.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { portableFiles, scanFile } from '../core/portability-scan';

const ROOT = path.resolve(__dirname, '..', '..');
const t = suite('portability of tools/vmm/fuse and tools/vmm/memfs');

t('no Node built-in module or Node global', () => {
  const files = portableFiles(ROOT, ['tools/vmm/fuse', 'tools/vmm/memfs']);
  const rel = files.map((f) => path.relative(ROOT, f));
  assert.ok(rel.includes(path.join('tools', 'vmm', 'fuse', 'server.ts')), 'scanned the server');
  assert.ok(rel.includes(path.join('tools', 'vmm', 'memfs', 'memfs.ts')), 'scanned the in-memory filesystem');
  const bad = files.flatMap((f) => scanFile(f, ROOT));
  assert.equal(bad.map((v) => `${v.file}:${v.line}: ${v.what}`), []);
});

t.run();
