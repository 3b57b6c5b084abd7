import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { importsOf, layerOf, scanTree, violation } from './layers-scan';

const ROOT = path.resolve(__dirname, '..', '..');
const t = suite('layer floors');

t('no file imports from a layer above it, and tools and lib use the entries', () => {
  const r = scanTree(ROOT);
  assert.ok(r.files.length > 100, `scanned ${r.files.length} files`);
  assert.ok(r.files.includes(path.join('lib', 'index.ts')), 'the library entry is scanned');
  assert.ok(r.edges > 300, `read ${r.edges} imports`);
  assert.equal(r.problems, []);
});

t('files fall in the layers by their folder', () => {
  assert.is(layerOf('core/memory.ts'), 'core');
  assert.is(layerOf('drivers/virtqueue/device.ts'), 'drivers');
  assert.is(layerOf('fs/fuse/requests.ts'), 'fs/fuse');
  assert.is(layerOf('fs/virtiofs/dax/manager.ts'), 'fs/virtiofs');
  assert.is(layerOf('tools/vmm/main.ts'), 'tools');
  assert.is(layerOf('lib/index.ts'), 'lib');
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
    ['tools/guest/mount.ts', "import { X } from '../../fs/fuse/requests';", /fs\/fuse\/requests\.ts past its folder's entry/],
    ['tools/guest/mount.ts', "const m = import('../../fs/virtiofs/vnops');", /fs\/virtiofs\/vnops\.ts past its folder's entry/],
    ['tools/guest/mount.ts', "let x: import('../../fs/fuse/kernel').Y;", /fs\/fuse\/kernel\.ts past its folder's entry/],
    ['tools/guest/mount.ts', "import { X } from '../../core/errno';", /core\/errno\.ts past its folder's entry/],
    ['tools/vmm/instance.ts', "import { X } from '../../core/ram.node';", /core\/ram\.node\.ts past its folder's entry/],
    ['tools/vmm/wire-server.ts', "import { X } from '../../drivers/wire/frames';", /drivers\/wire\/frames\.ts past its folder's entry/],
    ['tools/vmm/wire-server.ts', "import { X } from '../../drivers/transport';", /drivers\/transport\.ts past its folder's entry/],
    ['lib/index.ts', "export { X } from '../drivers/virtio-mmio/in-process-transport';", /past its folder's entry/],
    ['lib/index.ts', "export { X } from '../tools/vmm/memfs/memfs';", /past tools\/vmm\/memfs\/index\.ts/],
    ['tools/guest/mount.ts', "import { X } from '../../lib';", /tools imports lib\/index\.ts from lib, a layer above/],
    ['core/memory.ts', "import { X } from './ram.node';", /a portable file imports the Node-only core\/ram\.node\.ts/],
    ['drivers/virtio-fs/index.ts', "export * from './index.node';", /a portable file imports the Node-only/],
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
    ['tools/guest/mount.ts', "import { X } from '../../drivers/virtio-fs/index.node';"],
    ['tools/vmm/instance.ts', "import { X } from '../../core/index.node';"],
    ['tools/vmm/instance.ts', "import { X } from '../../core';"],
    ['lib/index.ts', "export { X } from '../tools/vmm/instance';"],
    ['lib/index.ts', "export { X } from '../tools/vmm/memfs';"],
    ['core/ram.node.ts', "import { X } from './mapped-file.node';"],
    ['drivers/virtio-fs/index.node.ts', "export * from './connect.node';"],
    ['tools/guest/mount.ts', "import * as fs from 'node:fs';"],
  ];
  for (const [from, src] of ok) {
    for (const e of importsOf(ROOT, from, src)) assert.is(violation(ROOT, e), undefined, `${from}: ${src}`);
  }
});

t.run();
