// The memory suite over positioned I/O, without the addon (as on a machine
// that could not build it): guest RAM a /dev/shm file (ShmFileBacking),
// window ranges HostFileRange. Child processes run without it too.
import './no-addon';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { HostFileRange } from '../../core/host-file.node';
import { MappedFileBacking } from '../../core/mapped-file.node';
import { openFileRange } from '../../core/mapped-range.node';
import { mmapAddon, mmapMissing } from '../../core/native/mmap.node';
import { createRam } from '../../core/ram.node';
import { ShmFileBacking } from '../../core/shm-file.node';
import { filesSuite } from './memory-suite-files';

const t = suite('memory without the addon');

t('the addon is off, and every choice falls back to positioned I/O', () => {
  assert.is(mmapAddon, undefined);
  assert.is(mmapMissing, 'VIRTIOFS_NO_ADDON is set');
  const ram = createRam(8192);
  try {
    assert.instance(ram, ShmFileBacking);
    assert.match(ram.path, /^\/dev\/shm\/virtiofs-/);
    assert.throws(() => MappedFileBacking.map(ram.fd, ram.path), /VIRTIOFS_NO_ADDON/);
    const r = openFileRange(fs.openSync(ram.path, 'r'), 0, 4096, false, true);
    assert.instance(r, HostFileRange);
    r.release!();
    const byPath = openFileRange(ram.path, 0, 4096, true);
    assert.instance(byPath, HostFileRange);
    byPath.write(3, Uint8Array.of(5));
    const d = new Uint8Array(1);
    ram.read(3, d);
    assert.is(d[0], 5);
    byPath.release!();
  } finally { ram.close(); ram.unlink(); }
});

t.run();

filesSuite({
  name: 'positioned',
  mapped: false,
  childEnv: { VIRTIOFS_NO_ADDON: '1' },
  fileRange: (fd) => new HostFileRange(fd, true),
  writePastEnd: 'extends',
});
