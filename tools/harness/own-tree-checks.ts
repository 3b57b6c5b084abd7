// The named checks of the harness's own tree (tree.ts): names with spaces
// and UTF-8, the empty file and directory, the sparse file, the directory
// of 10 000 entries, the 100 MiB file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { O_RDONLY } from '../../core/vfs';
import { compareBytes, compareNames, outcome, type Mismatch } from './compare';
import { type CheckContext, g, guestHash, hostHash, hostPread, meter, MiB, result } from './check-io';
import type { CheckResult } from './result';
import { BIG, EMPTY_DIR, MANY, MANY_COUNT, NAMES, SPARSE, SPARSE_BLOCKS, SPARSE_SIZE } from './tree';

/** Named checks of the harness's own tree. */
export async function ownTreeChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const { vfs, root } = ctx;
  const out: CheckResult[] = [];

  {
    const mm: Mismatch[] = [];
    for (const rel of NAMES) {
      try {
        const fd = await vfs.open(g(rel), O_RDONLY);
        try { mm.push(...compareBytes(g(rel), 'content', fs.readFileSync(path.join(root, rel)), await vfs.read(fd, 4096))); }
        finally { await vfs.close(fd); }
      } catch (err) { mm.push({ path: g(rel), field: 'open+read', host: 'ok', guest: outcome(err) }); }
    }
    out.push(result('names with spaces and UTF-8', mm, `${NAMES.length} names opened and read (one of 255 bytes)`));
  }

  {
    const mm: Mismatch[] = [];
    try {
      const fd = await vfs.open('/sizes/empty', O_RDONLY);
      try {
        for (const [len, off] of [[4096, 0], [1, 0], [4096, 1], [0, 0]] as const) {
          const b = await vfs.pread(fd, len, off);
          if (b.length) mm.push({ path: '/sizes/empty', field: `pread(${len}, ${off})`, host: '0 bytes', guest: `${b.length} bytes` });
        }
      } finally { await vfs.close(fd); }
      const names = (await vfs.readdirAll(`/${EMPTY_DIR}`)).map((e) => e.name).filter((n) => n !== '.' && n !== '..');
      mm.push(...compareNames(`/${EMPTY_DIR}`, [], names));
    } catch (err) { mm.push({ path: '/sizes/empty', field: 'read', host: 'ok', guest: outcome(err) }); }
    out.push(result('empty file and directory', mm, 'reads of an empty file are empty; an empty directory lists nothing'));
  }

  {
    ctx.progress(`sparse file ${SPARSE} (${SPARSE_SIZE / MiB} MiB)`);
    const mm: Mismatch[] = [];
    const host = hostHash(path.join(root, SPARSE));
    try {
      const guest = await guestHash(vfs, SPARSE, 1 * MiB, meter(ctx, SPARSE, SPARSE_SIZE));
      if (guest.hash !== host.hash || guest.size !== host.size) {
        mm.push({ path: g(SPARSE), field: 'sha256', host: `${host.hash.slice(0, 16)} (${host.size})`, guest: `${guest.hash.slice(0, 16)} (${guest.size})` });
      }
      const hfd = fs.openSync(path.join(root, SPARSE), 'r');
      const gfd = await vfs.open(g(SPARSE), O_RDONLY);
      try {
        for (const [off, len] of SPARSE_BLOCKS) {
          // The block itself, and a range from the hole before it into it.
          for (const [o, l] of [[off, len], [Math.max(0, off - 6000), len + 6000], [off + len, 8192]]) {
            mm.push(...compareBytes(g(SPARSE), `pread(${l}, ${o})`, hostPread(hfd, l, o), await vfs.pread(gfd, l, o)));
          }
        }
      } finally { fs.closeSync(hfd); await vfs.close(gfd); }
    } catch (err) { mm.push({ path: g(SPARSE), field: 'read', host: 'ok', guest: outcome(err) }); }
    out.push(result('sparse 64 MiB file', mm, `${SPARSE_BLOCKS.length} written blocks in holes: whole file by sha256, blocks and hole edges by bytes`));
  }

  {
    const t0 = Date.now();
    const mm: Mismatch[] = [];
    try {
      const names = (await vfs.readdirAll(`/${MANY}`)).map((e) => e.name).filter((n) => n !== '.' && n !== '..');
      mm.push(...compareNames(`/${MANY}`, fs.readdirSync(path.join(root, MANY)), names));
      if (names.length !== MANY_COUNT) mm.push({ path: `/${MANY}`, field: 'entries', host: String(MANY_COUNT), guest: String(names.length) });
    } catch (err) { mm.push({ path: `/${MANY}`, field: 'readdir', host: 'ok', guest: outcome(err) }); }
    out.push(result('directory of 10 000 entries', mm, `listed in ${Date.now() - t0} ms`));
  }

  {
    ctx.progress(`${BIG}: reading 100 MiB`);
    const mm: Mismatch[] = [];
    const host = hostHash(path.join(root, BIG));
    const t0 = process.hrtime.bigint();
    let rate = '';
    try {
      const guest = await guestHash(vfs, BIG, 1 * MiB, meter(ctx, BIG, host.size));
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      rate = `, ${(guest.size / MiB / s).toFixed(0)} MiB/s`;
      if (guest.hash !== host.hash || guest.size !== host.size) {
        mm.push({ path: g(BIG), field: 'sha256', host: `${host.hash.slice(0, 16)} (${host.size})`, guest: `${guest.hash.slice(0, 16)} (${guest.size})` });
      }
    } catch (err) { mm.push({ path: g(BIG), field: 'read', host: 'ok', guest: outcome(err) }); }
    out.push(result('100 MiB file (sha256)', mm, `read whole in 1 MiB reads${rate}`));
  }
  return out;
}
