// The write checks: short scripted sequences, each in a fresh sandbox of
// the share against a fresh reference directory on the host, compared after
// every step (results, both trees, which times changed, the guest's own
// view). A line's comment is the result the host reference must give: the
// check is about that case (a reference answering otherwise fails the row).

import type { Mismatch } from './compare';
import { runSequence, type WriteEnv } from './engine';
import { expectedOf, parseOp } from './ops';
import { replayScript } from './replay';
import type { CheckResult } from './result';

const N255 = 'n'.repeat(255);
const N256 = 'm'.repeat(256);
/** A chain of 41 symlinks c1 -> c2 -> ... -> c41 -> f: open(c1) follows 41 (ELOOP), open(c2) 40. */
const CHAIN = Array.from({ length: 41 }, (_, i) => `symlink ${i === 40 ? 'f' : `c${i + 2}`} c${i + 1}`).join('\n');
const U = '-u 1000:1000';
const V = '-u 1001:1000';

export interface Scenario { name: string; text: string; needs?: 'xdev' | 'rename-flags' }

export const SCENARIOS: readonly Scenario[] = [
  { name: 'create, write, truncate, read', text: `
    create f 0644 excl         # ok
    write f 0 5000 1           # ok 5000
    write f 4096 10 2          # ok 10
    read f 0 8192              # ok 5000
    write f 2097150 10 3       # ok 10
    read f 2097140 100         # ok 20
    write f 100 0 4            # ok 0
    truncate f 100             # ok
    truncate f 100             # ok
    read f 0 200               # ok 100
    truncate f 3000000         # ok
    read f 2999990 100         # ok 10
    read f 4000000 10          # ok 0
    create f 0600 trunc        # ok
    write f 0 300000 5         # ok 300000
    write g 0 1 1              # ENOENT
    create d/x 0644 excl       # ENOENT
  ` },
  { name: 'EEXIST', text: `
    mkdir d 0755               # ok
    create f 0644 excl         # ok
    symlink nowhere l          # ok
    mkdir d 0755               # EEXIST
    mkdir f 0755               # EEXIST
    mkdir l 0755               # EEXIST
    create f 0644 excl         # EEXIST
    create d 0644 excl         # EEXIST
    create l 0644 excl         # EEXIST
    link f d                   # EEXIST
    link f l                   # EEXIST
    symlink x f                # EEXIST
    symlink x d                # EEXIST
  ` },
  { name: 'ENOENT', text: `
    rmdir nope                 # ENOENT
    unlink nope                # ENOENT
    rename nope x              # ENOENT
    link nope x                # ENOENT
    mkdir nope/d 0755          # ENOENT
    create nope/f 0644 excl    # ENOENT
    truncate nope 0            # ENOENT
    read nope 0 1              # ENOENT
    chmod nope 0644            # ENOENT
    chown nope 0 0             # ENOENT
    stat nope                  # ENOENT
    symlink '' empty           # ENOENT
    symlink target dangling    # ok
    read dangling 0 1          # ENOENT
    create dangling 0640 trunc # ok
    stat target                # ok
  ` },
  { name: 'ENOTDIR', text: `
    create f 0644 excl         # ok
    mkdir d 0755               # ok
    stat f/x                   # ENOTDIR
    mkdir f/d 0755             # ENOTDIR
    create f/x 0644 excl       # ENOTDIR
    rmdir f                    # ENOTDIR
    rename d f                 # ENOTDIR
    unlink f/                  # ENOTDIR
    stat f/                    # ENOTDIR
    rename f/ g                # ENOTDIR
    link f g/                  # ENOENT
  ` },
  { name: 'EISDIR', text: `
    mkdir d 0755               # ok
    create f 0644 excl         # ok
    write d 0 1 1              # EISDIR
    create d 0644 trunc        # EISDIR
    truncate d 0               # EISDIR
    unlink d                   # EISDIR
    rename f d                 # EISDIR
    link d x                   # EPERM
  ` },
  { name: 'ENOTEMPTY', text: `
    mkdir d 0755               # ok
    create d/f 0644 excl       # ok
    rmdir d                    # ENOTEMPTY
    mkdir e 0755               # ok
    create e/g 0644 excl       # ok
    rename d e                 # ENOTEMPTY
    mkdir h 0755               # ok
    rename d h                 # ok
    rmdir h/f                  # ENOTDIR
    unlink h/f                 # ok
    rmdir h                    # ok
  ` },
  { name: 'ELOOP', text: `
    create f 0644 excl         # ok
    symlink l2 l1              # ok
    symlink l1 l2              # ok
    symlink s s                # ok
    stat l1                    # ok
    stat l1/x                  # ELOOP
    create l1 0644 trunc       # ELOOP
    write l1 0 1 1             # ELOOP
    read s 0 1                 # ELOOP
    mkdir s/d 0755             # ELOOP
    chmod l1 0600              # ELOOP
    truncate s 0               # ELOOP
    ${CHAIN}
    read c1 0 1                # ELOOP
    write c2 0 1 7             # ok 1
  ` },
  { name: 'EINVAL: a directory renamed into itself', text: `
    mkdir d 0755               # ok
    mkdir d/e 0755             # ok
    rename d d/x               # EINVAL
    rename d d/e/x             # EINVAL
    rename d/e d/e/f           # EINVAL
    rmdir d/.                  # EINVAL
    rename d d                 # ok
  ` },
  { name: 'EXDEV: rename and link across host filesystems', needs: 'xdev', text: `
    create f 0644 excl         # ok
    mkdir d 0755               # ok
    rename f @x/f              # EXDEV
    link f @x/f                # EXDEV
    rename d @x/d              # EXDEV
    create @x/g 0644 excl      # ok
    rename @x/g g              # EXDEV
    rename @x/g @x/h           # ok
    link @x/h @x/i             # ok
  ` },
  { name: 'EACCES and EPERM as a non-root caller', text: `
    create secret 0600 excl    # ok
    write secret 0 10 1        # ok 10
    mkdir pub 0755             # ok
    chmod pub 0777             # ok
    mkdir priv 0700            # ok
    create priv/f 0644 excl    # ok
    create ro 0444 excl        # ok
    ${U} read secret 0 10      # EACCES
    ${U} create x 0644 excl    # EACCES
    ${U} mkdir x 0755          # EACCES
    ${U} unlink secret         # EACCES
    ${U} rename secret pub/s   # EACCES
    ${U} truncate secret 0     # EACCES
    ${U} write ro 0 1 1        # EACCES
    ${U} stat priv/f           # EACCES
    ${U} read priv/f 0 1       # EACCES
    ${U} chmod secret 0777     # EPERM
    ${U} chown secret 1000 1000 # EPERM
    ${U} create pub/mine 0640 excl # ok
    ${U} write pub/mine 0 10 1 # ok 10
    ${V} read pub/mine 0 10    # ok 10
    ${V} write pub/mine 0 1 1  # EACCES
    ${U} chown pub/mine 1000 0 # EPERM
    ${U} chown pub/mine -1 1000 # ok
    ${U} mkdir pub/d 0755      # ok
    ${U} chmod pub/d 0555      # ok
    ${U} create pub/d/x 0644 excl # EACCES
    ${U} link secret pub/l     # EPERM
    chmod pub 01777            # ok
    ${V} unlink pub/mine       # EPERM
    ${V} rename pub/mine pub/x # EPERM
    ${U} rename pub/mine pub/x # ok
    write ro 0 1 1             # ok 1
  ` },
  { name: 'errno order: search permission first (a non-root caller)', text: `
    mkdir d 0700                       # ok
    create d/f 0644 excl               # ok
    mkdir d/sub 0755                   # ok
    mkdir e 0711                       # ok
    create e/f 0644 excl               # ok
    mkdir e/sub 0755                   # ok
    ${U} rename d/x y                  # EACCES
    ${U} rename d/f y                  # EACCES
    ${U} rename d d/g                  # EACCES
    ${U} rename e e/g                  # EINVAL
    ${U} rename e/sub e/sub/x          # EINVAL
    ${U} unlink d/x                    # EACCES
    ${U} unlink d/f                    # EACCES
    ${U} rmdir d/x                     # EACCES
    ${U} rmdir d/sub                   # EACCES
    ${U} mkdir d/f 0755                # EACCES
    ${U} create d/f 0644 excl          # EACCES
    ${U} link d/f z                    # EACCES
    ${U} symlink t d/f                 # EACCES
    ${U} stat d/f                      # EACCES
    ${U} chmod d/f 0600                # EACCES
    ${U} truncate d/nope 0             # EACCES
    ${U} mkdir e/f 0755                # EEXIST
    ${U} create e/f 0644 excl          # EEXIST
    ${U} create e/g 0644 excl          # EACCES
    ${U} rename e/f e/g                # EACCES
    ${U} unlink e/nope                 # ENOENT
    ${U} rmdir e/f                     # EACCES
    ${U} rmdir e/nope                  # ENOENT
    ${U} link e/f e/g                  # EPERM
    ${U} link e/nope e/g               # ENOENT
    ${U} symlink t e/f                 # EEXIST
    ${U} rename e/nope e/g             # ENOENT
    ${U} rename e/f e/f/x              # ENOTDIR
  ` },
  { name: 'ENAMETOOLONG', text: `
    create ${N255} 0644 excl   # ok
    create ${N256} 0644 excl   # ENAMETOOLONG
    mkdir ${N256} 0755         # ENAMETOOLONG
    symlink x ${N256}          # ENAMETOOLONG
    link ${N255} ${N256}       # ENAMETOOLONG
    rename ${N255} ${N256}     # ENAMETOOLONG
    stat ${N256}/x             # ENAMETOOLONG
    unlink ${N256}             # ENAMETOOLONG
    symlink ${'t'.repeat(4096)} long # ENAMETOOLONG
    rename ${N255} short       # ok
  ` },
  { name: 'link counts after link, unlink, rename, mkdir, rmdir', text: `
    create a 0644 excl         # ok
    link a b                   # ok
    link b c                   # ok
    unlink a                   # ok
    rename b c                 # ok
    create d 0644 excl         # ok
    rename d c                 # ok
    mkdir x 0755               # ok
    mkdir x/y 0755             # ok
    rename x/y y               # ok
    rename y x/y               # ok
    rmdir x/y                  # ok
    link b x/b2                # ok
    rename x/b2 x/b3           # ok
    unlink b                   # ok
    symlink b sl               # ok
    link sl sl2                # ok
    rename x/b3 c              # ok
  ` },
  { name: 'modes and ownership', text: `
    -m 077 create u 0666 excl  # ok
    -m 000 create v 0777 excl  # ok
    mkdir d 0777               # ok
    chmod d 02775              # ok
    chown d 0 1000             # ok
    create d/f 0644 excl       # ok
    mkdir d/sub 0755           # ok
    ${U} create d/g 0644 excl  # ok
    ${V} mkdir d/h 0700        # ok
    create s 0755 excl         # ok
    chmod s 04755              # ok
    chown s 1000 1000          # ok
    chmod s 06755              # ok
    chown s 0 0                # ok
    chmod s 02745              # ok
    chown s -1 1000            # ok
    create w 0666 excl         # ok
    chmod w 06777              # ok
    ${U} write w 0 1 1         # ok 1
    create o 0644 excl         # ok
    chown o 1000 0             # ok
    ${U} chmod o 02755         # ok
    symlink o lo               # ok
    chmod lo 0600              # ok
    chown lo 1001 1000         # ok
    chmod d 0                  # ok
    create d/z 0 excl          # ok
  ` },
  { name: 'times: ctime and mtime change as POSIX says', text: `
    create f 0644 excl         # ok
    write f 0 10 1             # ok 10
    read f 0 10                # ok 10
    write f 0 0 1              # ok 0
    chmod f 0600               # ok
    chmod f 0600               # ok
    chown f 0 0                # ok
    truncate f 10              # ok
    truncate f 5               # ok
    link f g                   # ok
    rename g h                 # ok
    mkdir d 0755               # ok
    rename h d/h               # ok
    unlink d/h                 # ok
    symlink f l                # ok
    rename l d/l               # ok
    stat f                     # ok
    mkdir d 0755               # EEXIST
    unlink nope                # ENOENT
    create f 0644 trunc        # ok
    create f 0644 trunc        # ok
    rename f f                 # ok
    rmdir d                    # ENOTEMPTY
    unlink d/l                 # ok
    rmdir d                    # ok
  ` },
  { name: 'renameat2: RENAME_NOREPLACE and RENAME_EXCHANGE', needs: 'rename-flags', text: `
    create a 0644 excl         # ok
    create b 0600 excl         # ok
    rename a b noreplace       # EEXIST
    rename a c noreplace       # ok
    rename b c exchange        # ok
    rename b nope exchange     # ENOENT
    mkdir d 0755               # ok
    create d/x 0644 excl       # ok
    rename c d exchange        # ok
    rename c/x c/y noreplace   # ok
  ` },
];

/** The lines of a scenario: ops, and the result each is written for. */
export function scenarioOps(text: string) {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return { ops: lines.map(parseOp), expected: lines.map(expectedOf) };
}

let attempt = 0;

/** Every scenario once on env: a row each. */
export async function runWriteChecks(
  env: WriteEnv, tag: string, progress: (m: string) => void, renameFlags: boolean, scenarios: readonly Scenario[] = SCENARIOS,
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const s of scenarios) {
    const check = `write: ${s.name}`;
    if (s.needs === 'xdev' && !env.xdev) {
      out.push({ check, status: 'pass', details: 'not checked: no directory on another host filesystem in the share (the harness mounts one in its own tree only)', mismatches: [] });
      continue;
    }
    if (s.needs === 'rename-flags' && !renameFlags) {
      out.push({ check, status: 'fail', details: 'the host reference needs renameat2 from tools/native (not built)', mismatches: [] });
      continue;
    }
    progress(check);
    const { ops, expected } = scenarioOps(s.text);
    let mismatches: Mismatch[];
    let repro: string | undefined;
    try {
      const r = await runSequence(env, `.virtiofs-harness-${tag}-w${++attempt}`, ops, { walkEvery: 1, expected });
      mismatches = r.mismatches;
      const last = r.failures.at(-1)?.step;
      if (last) repro = replayScript([{ title: `${check}: steps 1-${last} (differences at ${r.failures.map((f) => f.step).join(', ')})`, lines: r.lines.slice(0, last) }], [`virtiofs harness: ${check}`]);
    } catch (err) {
      mismatches = [{ path: check, field: 'run', host: 'ok', guest: `error: ${(err as Error).message}` }];
    }
    const codes = [...new Set(expected.filter((e): e is string => !!e && e !== 'ok' && !e.startsWith('ok ')))];
    out.push({
      check, status: mismatches.length ? 'fail' : 'pass', mismatches, ...(repro ? { repro } : {}),
      details: `${ops.length} ops${codes.length ? ` (${codes.join(', ')})` : ''}: results, trees, times, the guest's view after each`,
    });
  }
  return out;
}
