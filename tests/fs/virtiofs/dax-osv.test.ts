// OSv's own unit tests of dax_manager (tests/tst-dax.cc): a 10-chunk window
// of 2 MiB chunks, map alignment 12, in three states: empty, populated, full.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError } from '../../../core/errno';
import { DaxManager, MemoryDaxPort } from '../../../fs/virtiofs/dax';

const nodeid = 1n;
const fh = 1n;
const windowChunks = 10;
const CS = DaxManager.DEFAULT_CHUNK_SIZE;

function fresh(): DaxManager {
  const device = new MemoryDaxPort({ windowSize: windowChunks * CS });
  device.files.set(nodeid, new Uint8Array(0));
  device.files.set(nodeid + 1n, new Uint8Array(0));
  return new DaxManager(device, { mapAlignment: 12 });
}

async function populated(): Promise<DaxManager> {
  const m = fresh();
  await m.map(nodeid, fh, 3, 0);
  await m.map(nodeid, fh, 2, 5);
  // | f[0] | f[1] | f[2] | f[5] | f[6] | empty | ...
  return m;
}

async function full(): Promise<DaxManager> {
  const m = await populated();
  await m.map(nodeid, fh, 5, 10);
  // | f[0] f[1] f[2] | f[5] f[6] | f[10] .. f[14] |
  return m;
}

async function rejects(p: Promise<unknown>, errno: number): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, ErrnoError);
    assert.is((e as ErrnoError).errno, errno);
    return;
  }
  assert.unreachable('expected a rejection');
}

const mappings = (m: DaxManager) => m.snapshot().mappings.length;

const empty = suite('dax osv: empty window');
empty('first_empty', () => {
  assert.is(fresh().firstEmpty(), 0);
});
empty('map', async () => {
  const m = fresh();
  assert.equal(await m.map(nodeid, fh, 3, 0), { mstart: 0, nchunks: 3 });
  assert.is(mappings(m), 1);
});
empty('unmap fails', async () => {
  const m = fresh();
  await rejects(m.unmap(1), Errno.ENODATA);
  assert.is(m.firstEmpty(), 0);
  assert.is(mappings(m), 0);
});
empty('map multiple, no coalescing', async () => {
  const m = fresh();
  await m.map(nodeid, fh, 3, 0);
  assert.equal(await m.map(nodeid, fh, 2, 5), { mstart: 3, nchunks: 2 });
  assert.is(mappings(m), 2);
});
empty('find absent', () => {
  const m = fresh();
  assert.is(m.find(nodeid + 1n, 0), null);
  assert.is(m.find(nodeid, 10), null);
});
empty.run();

const pop = suite('dax osv: populated window');
pop('first_empty', async () => {
  assert.is((await populated()).firstEmpty(), 5);
});
pop('map coalesces', async () => {
  const m = await populated();
  assert.equal(await m.map(nodeid, fh, 3, 7), { mstart: 5, nchunks: 3 });
  assert.is(mappings(m), 2);
});
pop('map of nothing is stable', async () => {
  const m = await populated();
  assert.equal(await m.map(nodeid, fh, 0, 0), { mstart: 5, nchunks: 0 });
  assert.is(mappings(m), 2);
});
pop('unmap of nothing is stable', async () => {
  const m = await populated();
  assert.equal(await m.unmap(0), { mstart: 5, nchunks: 0 });
  assert.is(mappings(m), 2);
});
pop('unmap one whole', async () => {
  const m = await populated();
  assert.equal(await m.unmap(2), { mstart: 3, nchunks: 2 });
  assert.is(mappings(m), 1);
});
pop('unmap one part', async () => {
  const m = await populated();
  assert.equal(await m.unmap(1), { mstart: 4, nchunks: 1 });
  assert.is(mappings(m), 2);
});
pop('unmap multiple, part', async () => {
  const m = await populated();
  assert.equal(await m.unmap(3), { mstart: 2, nchunks: 3 });
  assert.is(mappings(m), 1);
});
pop('unmap all', async () => {
  const m = await populated();
  assert.equal(await m.unmap(5), { mstart: 0, nchunks: 5 });
  assert.is(mappings(m), 0);
});
pop('unmap excess', async () => {
  const m = await populated();
  assert.equal(await m.unmap(6), { mstart: 0, nchunks: 5 });
  assert.is(mappings(m), 0);
});
pop('map evicting part', async () => {
  const m = await populated();
  assert.equal(await m.map(nodeid, fh, 6, 0, true), { mstart: 4, nchunks: 6 });
  assert.is(mappings(m), 3);
});
pop('map evicting multiple, part', async () => {
  const m = await populated();
  assert.equal(await m.map(nodeid, fh, 9, 0, true), { mstart: 1, nchunks: 9 });
  assert.is(mappings(m), 2);
});
pop('map evicting all', async () => {
  const m = await populated();
  assert.equal(await m.map(nodeid, fh, 10, 0, true), { mstart: 0, nchunks: 10 });
  assert.is(mappings(m), 1);
});
pop('find absent', async () => {
  const m = await populated();
  assert.is(m.find(nodeid + 1n, 0), null);
  assert.is(m.find(nodeid, 10), null);
});
pop('find present', async () => {
  const m = await populated();
  assert.equal(m.find(nodeid, 0), { mstart: 0, nchunks: 3 });
  assert.equal(m.find(nodeid, 1), { mstart: 1, nchunks: 2 });
  assert.equal(m.find(nodeid, 5), { mstart: 3, nchunks: 2 });
  assert.equal(m.find(nodeid, 6), { mstart: 4, nchunks: 1 });
});
pop.run();

const fu = suite('dax osv: full window');
fu('first_empty', async () => {
  assert.is((await full()).firstEmpty(), windowChunks);
});
fu('map without evicting fails', async () => {
  const m = await full();
  await rejects(m.map(nodeid, fh, 1, 10), Errno.ENOBUFS);
  assert.is(m.firstEmpty(), 10);
  assert.is(mappings(m), 3);
});
fu('map evicting', async () => {
  const m = await full();
  assert.equal(await m.map(nodeid, fh, 1, 0, true), { mstart: 9, nchunks: 1 });
  assert.is(mappings(m), 4);
});
fu('find absent', async () => {
  const m = await full();
  assert.is(m.find(nodeid + 1n, 0), null);
  assert.is(m.find(nodeid, 20), null);
});
fu('find present', async () => {
  const m = await full();
  assert.equal(m.find(nodeid, 0), { mstart: 0, nchunks: 3 });
  assert.equal(m.find(nodeid, 1), { mstart: 1, nchunks: 2 });
  assert.equal(m.find(nodeid, 5), { mstart: 3, nchunks: 2 });
  assert.equal(m.find(nodeid, 6), { mstart: 4, nchunks: 1 });
  assert.equal(m.find(nodeid, 11), { mstart: 6, nchunks: 4 });
});
fu.run();
