// The checks of one mount: every guest answer against node:fs on the host
// directory the device shares. Guest path "/a/b" is host path ROOT/a/b.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O_DIRECTORY, O_RDONLY, S_IFMT, type DirEntry, type Vfs } from '../../core/vfs';
import {
  compareBytes, compareNames, compareOutcome, compareStat, guestStatView, hostStatView, outcome, type Mismatch,
} from './compare';
import { type CheckContext, g, guestHash, hostHash, hostPread, KiB, meter, MiB, pool, result } from './check-io';
import { ownTreeChecks } from './own-tree-checks';
import { classifyReadPath } from './read-path';
import type { CheckResult } from './result';
import { BIG, PROBES, SIZED, SPARSE } from './tree';

export type { CheckContext } from './check-io';

const READ_SIZES = [0, 1, 4095, 4096, 4097, 128 * KiB];
/** Directories bigger than this are sampled for per-file reads. */
const SAMPLE_DIR = 1000;

interface Entry { rel: string; host: fs.BigIntStats }

type Call = (typeof PROBES)[number]['call'];

function hostCall(root: string, call: Call, rel: string): string {
  const p = path.join(root, rel);
  try {
    switch (call) {
      case 'lstat': fs.lstatSync(p); break;
      case 'stat': fs.statSync(p); break;
      case 'readlink': fs.readlinkSync(p); break;
      case 'opendir': fs.closeSync(fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)); break;
      case 'open': fs.closeSync(fs.openSync(p, fs.constants.O_RDONLY)); break;
      case 'read': {
        const fd = fs.openSync(p, fs.constants.O_RDONLY);
        try { fs.readSync(fd, Buffer.alloc(16), 0, 16, 0); } finally { fs.closeSync(fd); }
        break;
      }
    }
    return 'ok';
  } catch (err) { return outcome(err); }
}

async function guestCall(vfs: Vfs, call: Call, rel: string): Promise<string> {
  try {
    switch (call) {
      case 'lstat': await vfs.lstat(g(rel)); break;
      case 'stat': await vfs.stat(g(rel)); break;
      case 'readlink': await vfs.readlink(g(rel)); break;
      case 'opendir': await vfs.close(await vfs.open(g(rel), O_RDONLY | O_DIRECTORY)); break;
      case 'open': await vfs.close(await vfs.open(g(rel), O_RDONLY)); break;
      case 'read': {
        const fd = await vfs.open(g(rel), O_RDONLY);
        try { await vfs.pread(fd, 16, 0); } finally { await vfs.close(fd); }
        break;
      }
    }
    return 'ok';
  } catch (err) { return outcome(err); }
}

function offsetsFor(size: number): number[] {
  const set = new Set<number>([0, 1, 4095, 4096, 4097, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 4 * MiB - 4096,
    Math.floor(size / 2), size - 4097, size - 1, size, size + 1, size + 4096]);
  for (let b = 2 * MiB; b < size && set.size < 40; b += 6 * MiB) { set.add(b - 3); set.add(b + 5); }
  return [...set].filter((o) => o >= 0).sort((a, b) => a - b);
}

const isRegMode = (m: number) => (m & S_IFMT) === 0o100000;
const isLnkMode = (m: number) => (m & S_IFMT) === 0o120000;

export async function runChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const { vfs, root } = ctx;
  const out: CheckResult[] = [];

  // ---- tree walk: same names (and d_type, d_ino) per directory ----
  ctx.progress('tree walk');
  const rootHost = fs.lstatSync(root, { bigint: true });
  const rootGuest = await vfs.lstat('/');
  const inoComparable = rootGuest.ino === rootHost.ino;
  const entries: Entry[] = [];
  const bigDirs = new Set<string>();
  {
    const mm: Mismatch[] = [];
    let dirs = 0;
    let names = 0;
    const queue = [''];
    while (queue.length) {
      const dir = queue.shift()!;
      dirs++;
      const hostNames = fs.readdirSync(path.join(root, dir));
      names += hostNames.length;
      if (hostNames.length > SAMPLE_DIR) bigDirs.add(dir);
      let guestEntries: DirEntry[] = [];
      try {
        guestEntries = (await vfs.readdirAll(g(dir))).filter((e) => e.name !== '.' && e.name !== '..');
        mm.push(...compareNames(g(dir), hostNames, guestEntries.map((e) => e.name)));
      } catch (err) {
        // Still walk the host side: every name below is checked by stat.
        mm.push({ path: g(dir), field: 'readdir', host: 'ok', guest: outcome(err) });
      }
      const byName = new Map(guestEntries.map((e) => [e.name, e]));
      const parentDev = fs.lstatSync(path.join(root, dir), { bigint: true }).dev;
      for (const name of hostNames) {
        const rel = dir ? `${dir}/${name}` : name;
        const st = fs.lstatSync(path.join(root, rel), { bigint: true });
        entries.push({ rel, host: st });
        const e = byName.get(name);
        if (e) {
          const dt = (Number(st.mode) & S_IFMT) >>> 12;
          if (e.type !== dt) mm.push({ path: g(rel), field: 'd_type', host: String(dt), guest: String(e.type) });
          // A mount point's d_ino is the covered directory's, which no lstat shows.
          const mountPoint = st.isDirectory() && st.dev !== parentDev;
          if (inoComparable && !mountPoint && e.ino !== st.ino) mm.push({ path: g(rel), field: 'd_ino', host: String(st.ino), guest: String(e.ino) });
        }
        if (st.isDirectory()) queue.push(rel);
      }
    }
    out.push(result('tree walk', mm, `${dirs} directories, ${names} names${inoComparable ? ', d_type and d_ino' : ', d_type'}`));
  }

  // ---- stat of every name ----
  ctx.progress(`stat of ${entries.length + 1} names`);
  {
    const opts = { ino: inoComparable };
    const mm = compareStat('/', hostStatView(rootHost), guestStatView(rootGuest), opts);
    let done = 0;
    await pool(entries, 64, async (e) => {
      try {
        mm.push(...compareStat(g(e.rel), hostStatView(e.host), guestStatView(await vfs.lstat(g(e.rel))), opts));
      } catch (err) {
        mm.push({ path: g(e.rel), field: 'lstat', host: 'ok', guest: outcome(err) });
      }
      if (++done % 2500 === 0) ctx.progress(`stat: ${done}/${entries.length}`);
    });
    const fields = `type, mode, size, nlink, uid, gid, mtime, ctime (ns)${inoComparable ? ', ino' : '; ino not comparable (the device numbers its own nodes)'}`;
    out.push(result('stat fields', mm, `${entries.length + 1} names: ${fields}`));
  }

  // ---- symlinks: readlink, and stat through the link where it stays inside ----
  {
    const mm: Mismatch[] = [];
    const links = entries.filter((e) => isLnkMode(Number(e.host.mode)));
    let followed = 0;
    for (const e of links) {
      const hostTarget = fs.readlinkSync(path.join(root, e.rel));
      let guestTarget: string;
      try { guestTarget = await vfs.readlink(g(e.rel)); } catch (err) { guestTarget = outcome(err); }
      if (hostTarget !== guestTarget) mm.push({ path: g(e.rel), field: 'readlink', host: JSON.stringify(hostTarget), guest: JSON.stringify(guestTarget) });
      // Absolute targets and ones leaving the share name other things on each side.
      const resolved = path.resolve(path.dirname(path.join(root, e.rel)), hostTarget);
      if (path.isAbsolute(hostTarget) || !resolved.startsWith(root + path.sep)) continue;
      followed++;
      let hostSt: fs.BigIntStats | undefined;
      let hostOut = 'ok';
      try { hostSt = fs.statSync(path.join(root, e.rel), { bigint: true }); } catch (err) { hostOut = outcome(err); }
      let guestOut = 'ok';
      try {
        const st = await vfs.stat(g(e.rel));
        if (hostSt) mm.push(...compareStat(`${g(e.rel)} (followed)`, hostStatView(hostSt), guestStatView(st), { ino: inoComparable }));
      } catch (err) { guestOut = outcome(err); }
      mm.push(...compareOutcome(g(e.rel), 'stat', hostOut, guestOut));
    }
    out.push(result('readlink', mm, `${links.length} symlinks, ${followed} followed by stat`));
  }

  // ---- error answers: ENOENT, ENOTDIR, and the rest ----
  {
    const probes: Array<{ call: Call; path: string }> = ctx.ownTree ? [...PROBES] : [];
    const tag = crypto.randomBytes(4).toString('hex');
    const dirs = ['', ...entries.filter((e) => e.host.isDirectory()).slice(0, 20).map((e) => e.rel)];
    for (const d of dirs) probes.push({ call: 'lstat', path: d ? `${d}/no-such-${tag}` : `no-such-${tag}` });
    for (const e of entries.filter((x) => x.host.isFile()).slice(0, 10)) {
      probes.push({ call: 'lstat', path: `${e.rel}/x` }, { call: 'opendir', path: e.rel });
    }
    for (const e of entries.filter((x) => x.host.isDirectory()).slice(0, 3)) probes.push({ call: 'read', path: e.rel });
    const groups: Record<string, { mm: Mismatch[]; n: number }> = { ENOENT: { mm: [], n: 0 }, ENOTDIR: { mm: [], n: 0 }, other: { mm: [], n: 0 } };
    const otherCodes = new Set<string>();
    for (const p of probes) {
      const host = hostCall(root, p.call, p.path);
      const guest = await guestCall(vfs, p.call, p.path);
      const grp = host === 'ENOENT' || host === 'ENOTDIR' ? groups[host]! : groups.other!;
      if (grp === groups.other) otherCodes.add(host);
      grp.n++;
      grp.mm.push(...compareOutcome(g(p.path), p.call, host, guest));
    }
    out.push(result('missing names (ENOENT)', groups.ENOENT!.mm, `${groups.ENOENT!.n} lookups of absent names`));
    out.push(result('non-directories walked into (ENOTDIR)', groups.ENOTDIR!.mm, `${groups.ENOTDIR!.n} walks through files`));
    if (groups.other!.n) {
      out.push(result('other errors', groups.other!.mm, `${groups.other!.n} calls (${[...otherCodes].sort().join(', ')})`));
    }
  }

  // ---- reads at many offsets and sizes ----
  const regular = entries.filter((e) => isRegMode(Number(e.host.mode)));
  {
    const chosen = ctx.ownTree
      ? regular.filter((e) => e.rel in SIZED || e.rel === BIG || e.rel === SPARSE)
      : [...regular].sort((a, b) => Number(b.host.size - a.host.size)).slice(0, 24);
    ctx.progress(`reads at offsets in ${chosen.length} files`);
    const mm: Mismatch[] = [];
    let reads = 0;
    for (const e of chosen) {
      const size = Number(e.host.size);
      const hfd = fs.openSync(path.join(root, e.rel), 'r');
      let gfd: number | undefined;
      try {
        gfd = await vfs.open(g(e.rel), O_RDONLY);
        for (const off of offsetsFor(size)) {
          for (const len of READ_SIZES) {
            reads++;
            const host = hostPread(hfd, len, off);
            let guest: Uint8Array;
            try { guest = await vfs.pread(gfd, len, off); } catch (err) {
              mm.push({ path: g(e.rel), field: `pread(${len}, ${off})`, host: 'ok', guest: outcome(err) });
              continue;
            }
            mm.push(...compareBytes(g(e.rel), `pread(${len}, ${off})`, host, guest));
          }
        }
      } catch (err) {
        mm.push({ path: g(e.rel), field: 'open', host: 'ok', guest: outcome(err) });
      } finally {
        fs.closeSync(hfd);
        if (gfd !== undefined) await vfs.close(gfd).catch(() => {});
      }
    }
    out.push(result('reads at offsets', mm, `${reads} preads in ${chosen.length} files: sizes ${READ_SIZES.join('/')}, across 2 MiB boundaries and past EOF`));
  }

  // ---- whole files, by hash ----
  {
    let bigDirSeen = 0;
    const sample = regular.filter((e) => {
      if (ctx.ownTree && (e.rel === BIG || e.rel === SPARSE)) return false; // their own checks below
      const dir = path.posix.dirname(e.rel);
      if (!bigDirs.has(dir === '.' ? '' : dir)) return true;
      return (bigDirSeen = (bigDirSeen + 1) % 100) === 0; // a sample of a huge directory
    });
    const total = sample.reduce((s, e) => s + Number(e.host.size), 0);
    ctx.progress(`whole-file reads of ${sample.length} files (${(total / MiB).toFixed(1)} MiB)`);
    const chunks = [4096, 65536, 128 * KiB + 3, 1 * MiB];
    const mm: Mismatch[] = [];
    const tick = meter(ctx, 'whole-file reads', Math.max(total, 1));
    let i = 0;
    for (const e of sample) {
      const host = hostHash(path.join(root, e.rel));
      try {
        const guest = await guestHash(vfs, e.rel, chunks[i++ % chunks.length]!, tick);
        if (guest.size !== host.size) mm.push({ path: g(e.rel), field: 'bytes read', host: String(host.size), guest: String(guest.size) });
        else if (guest.hash !== host.hash) mm.push({ path: g(e.rel), field: 'sha256', host: host.hash.slice(0, 16), guest: guest.hash.slice(0, 16) });
      } catch (err) {
        mm.push({ path: g(e.rel), field: 'read', host: 'ok', guest: outcome(err) });
      }
    }
    out.push(result('whole-file reads', mm, `${sample.length} files, ${(total / MiB).toFixed(1)} MiB, sha256 equal`));
  }

  if (ctx.ownTree) out.push(...await ownTreeChecks(ctx));

  // ---- which read path served the reads ----
  const rp = classifyReadPath(ctx.dax, await ctx.daxStats());
  out.push({ check: 'read path', status: rp.status, details: rp.details, mismatches: [], readPath: rp.kind, ...(rp.expected ? { expected: rp.expected } : {}) });
  return out.map((r) => ({ ...r, check: `${r.check} [dax=${ctx.dax}]` }));
}
