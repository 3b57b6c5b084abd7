import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { importsOf, layerOf, scanTree, violation } from './layers-scan';

const ROOT = path.resolve(__dirname, '..', '..');
const t = suite('layer floors');

t('no file imports from a layer above it, and tools use the indexes', () => {
  const r = scanTree(ROOT);
  assert.ok(r.files > 100, `scanned ${r.files} files`);
  assert.ok(r.edges > 300, `read ${r.edges} imports`);
  assert.equal(r.problems, []);
});

t('files fall in the layers by their folder', () => {
  assert.is(layerOf('core/memory.ts'), 'core');
  assert.is(layerOf('drivers/virtqueue/device.ts'), 'drivers');
  assert.is(layerOf('fs/fuse/requests.ts'), 'fs/fuse');
  assert.is(layerOf('fs/virtiofs/dax/manager.ts'), 'fs/virtiofs');
  assert.is(layerOf('tools/vmm/main.ts'), 'tools');
  assert.is(layerOf('tests/core/vfs.test.ts'), undefined);
});

t('each kind of broken floor is named (bad samples)', () => {
  const edge = (from: string, src: string) => importsOf(ROOT, from, src)[0]!;
  const cases: Array<[string, string, RegExp]> = [
    ['core/memory.ts', "import { X } from '../drivers/virtqueue';", /core imports drivers\/virtqueue\/index\.ts from drivers, a layer above/],
    ['drivers/virtqueue/device.ts', "import { X } from '../../fs/fuse';", /drivers imports fs\/fuse\/index\.ts from fs\/fuse/],
    ['fs/fuse/requests.ts', "export { X } from '../virtiofs';", /fs\/fuse imports fs\/virtiofs\/index\.ts from fs\/virtiofs/],
    ['fs/virtiofs/vnops.ts', "import type { X } from '../../tools/vmm/instance';", /from tools, a layer above/],
    ['tools/vmm/instance.ts', "import { X } from '../../fs/virtiofs';", /device model imports the guest filesystem/],
    ['tools/guest/mount.ts', "import { X } from '../../fs/fuse/requests';", /past fs\/fuse\/index\.ts/],
    ['tools/guest/mount.ts', "const m = import('../../fs/virtiofs/vnops');", /past fs\/virtiofs\/index\.ts/],
    ['tools/guest/mount.ts', "let x: import('../../fs/fuse/kernel').Y;", /past fs\/fuse\/index\.ts/],
    ['tools/guest/mount.ts', "import { X } from './no-such-file';", /unresolved/],
  ];
  for (const [from, src, want] of cases) {
    const v = violation(ROOT, edge(from, src));
    assert.ok(v !== undefined && want.test(v), `${from}: ${src} -> ${v}`);
  }
});

t('allowed edges pass', () => {
  const ok: Array<[string, string]> = [
    ['fs/virtiofs/vnops.ts', "import { X } from '../fuse';"],
    ['tools/vmm/instance.ts', "import { X } from '../../fs/fuse';"],
    ['tools/guest/mount.ts', "import { X } from '../../fs/virtiofs/dax';"],
    ['tools/guest/mount.ts', "import { X } from '../../drivers/virtio-fs/connect.node';"],
    ['tools/guest/mount.ts', "import * as fs from 'node:fs';"],
  ];
  for (const [from, src] of ok) {
    for (const e of importsOf(ROOT, from, src)) assert.is(violation(ROOT, e), undefined, `${from}: ${src}`);
  }
});

t.run();
