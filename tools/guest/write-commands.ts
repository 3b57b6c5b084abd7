// The shell's write commands: put, get, mkdir [-p], rm [-r], rmdir, mv,
// ln [-s], chmod, chown, truncate -s, touch. Same error style as the read
// commands (an ErrnoError's name, exit 1); --json where there is something
// to say.

import * as fs from 'node:fs';
import * as posix from 'node:path/posix';
import { Errno, ErrnoError } from '../../core';
import { O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, S_IFDIR, S_IFMT } from '../../core/vfs';
import { UsageError } from '../common/usage';
import { resolvePath, type ShellContext } from './shell-context';
import { toJson } from './format';

const CHUNK = 1 << 20;

async function emit(ctx: ShellContext, data: unknown, text: string): Promise<void> {
  await ctx.out.write(ctx.json ? `${toJson(data)}\n` : text);
}

/** put LOCAL|- PATH: a host file (or stdin) into the share. */
async function put(ctx: ShellContext, [local, target]: string[]): Promise<void> {
  let data: Uint8Array;
  if (local === '-') {
    if (!ctx.readInput) throw new UsageError('put -: standard input is not available here');
    data = await ctx.readInput();
  } else {
    try {
      data = fs.readFileSync(local!);
    } catch (e) {
      throw new UsageError(`put: cannot read ${local}: ${(e as Error).message}`);
    }
  }
  const p = resolvePath(ctx, target);
  const fd = await ctx.vfs.open(p, O_WRONLY | O_CREAT | O_TRUNC, 0o666);
  let done = 0;
  try {
    while (done < data.length) done += await ctx.vfs.write(fd, data.subarray(done, done + CHUNK));
  } finally {
    await ctx.vfs.close(fd);
  }
  await emit(ctx, { path: p, bytes: done }, '');
}

/** get PATH LOCAL|-: a file of the share to the host (or stdout). */
async function get(ctx: ShellContext, [source, local]: string[]): Promise<void> {
  const p = resolvePath(ctx, source);
  const fd = await ctx.vfs.open(p, O_RDONLY);
  const parts: Uint8Array[] = [];
  try {
    for (let b = await ctx.vfs.read(fd, CHUNK); b.length; b = await ctx.vfs.read(fd, CHUNK)) {
      if (local === '-' && !ctx.json) await ctx.out.write(b);
      else parts.push(b);
    }
  } finally {
    await ctx.vfs.close(fd);
  }
  if (local === '-') {
    if (ctx.json) await ctx.out.write(`${toJson({ path: p, base64: Buffer.concat(parts).toString('base64') })}\n`);
    return;
  }
  const data = Buffer.concat(parts);
  try {
    fs.writeFileSync(local!, data);
  } catch (e) {
    throw new UsageError(`get: cannot write ${local}: ${(e as Error).message}`);
  }
  await emit(ctx, { path: p, local, bytes: data.length }, '');
}

function flagged(args: string[], flag: string): [boolean, string[]] {
  return args[0] === flag ? [true, args.slice(1)] : [false, args];
}

function noOptions(usage: string, args: string[]): void {
  if (args.length === 0 || args.some((a) => a.startsWith('-') && a !== '-')) throw new UsageError(`usage: ${usage}`);
}

async function mkdir(ctx: ShellContext, all: string[]): Promise<void> {
  const [parents, args] = flagged(all, '-p');
  noOptions(COMMANDS.mkdir!.usage, args);
  for (const a of args) {
    const p = resolvePath(ctx, a);
    if (!parents) { await ctx.vfs.mkdir(p); continue; }
    let at = '/';
    for (const c of p.split('/').filter(Boolean)) {
      at = posix.join(at, c);
      try {
        await ctx.vfs.mkdir(at);
      } catch (e) {
        if (!(e instanceof ErrnoError) || e.errno !== Errno.EEXIST) throw e;
        if (((await ctx.vfs.stat(at)).mode & S_IFMT) !== S_IFDIR) throw new ErrnoError(Errno.ENOTDIR, at);
      }
    }
  }
}

async function removeTree(ctx: ShellContext, p: string): Promise<void> {
  const st = await ctx.vfs.lstat(p);
  if ((st.mode & S_IFMT) !== S_IFDIR) { await ctx.vfs.unlink(p); return; }
  for (const e of await ctx.vfs.readdirAll(p)) {
    if (e.name === '.' || e.name === '..') continue;
    await removeTree(ctx, posix.join(p, e.name));
  }
  await ctx.vfs.rmdir(p);
}

async function rm(ctx: ShellContext, all: string[]): Promise<void> {
  const [recursive, args] = flagged(all, '-r');
  noOptions(COMMANDS.rm!.usage, args);
  for (const a of args) {
    const p = resolvePath(ctx, a);
    if (recursive) await removeTree(ctx, p);
    else await ctx.vfs.unlink(p);
  }
}

async function rmdir(ctx: ShellContext, args: string[]): Promise<void> {
  noOptions(COMMANDS.rmdir!.usage, args);
  for (const a of args) await ctx.vfs.rmdir(resolvePath(ctx, a));
}

/** mv FROM TO; a TO that is a directory receives FROM by its name. */
async function mv(ctx: ShellContext, [from, to]: string[]): Promise<void> {
  const src = resolvePath(ctx, from);
  let dst = resolvePath(ctx, to);
  try {
    if (((await ctx.vfs.stat(dst)).mode & S_IFMT) === S_IFDIR) dst = posix.join(dst, posix.basename(src));
  } catch (e) {
    if (!(e instanceof ErrnoError) || e.errno !== Errno.ENOENT) throw e;
  }
  await ctx.vfs.rename(src, dst);
}

async function ln(ctx: ShellContext, all: string[]): Promise<void> {
  const [symbolic, args] = flagged(all, '-s');
  if (args.length !== 2) throw new UsageError(`usage: ${COMMANDS.ln!.usage}`);
  const target = resolvePath(ctx, args[1]);
  // A symlink keeps its text as given; a hard link names an existing file.
  if (symbolic) await ctx.vfs.symlink(args[0]!, target);
  else await ctx.vfs.link(resolvePath(ctx, args[0]), target);
}

async function chmod(ctx: ShellContext, [mode, ...paths]: string[]): Promise<void> {
  if (!/^[0-7]{1,4}$/.test(mode ?? '') || paths.length === 0) throw new UsageError(`usage: ${COMMANDS.chmod!.usage}`);
  for (const p of paths) await ctx.vfs.chmod(resolvePath(ctx, p), parseInt(mode!, 8));
}

async function chown(ctx: ShellContext, [owner, ...paths]: string[]): Promise<void> {
  const m = /^(\d*)(?::(\d*))?$/.exec(owner ?? '');
  if (!m || (!m[1] && !m[2]) || paths.length === 0) throw new UsageError(`usage: ${COMMANDS.chown!.usage}`);
  const uid = m[1] ? Number(m[1]) : -1;
  const gid = m[2] ? Number(m[2]) : -1;
  for (const p of paths) await ctx.vfs.chown(resolvePath(ctx, p), uid, gid);
}

async function truncate(ctx: ShellContext, args: string[]): Promise<void> {
  if (args[0] !== '-s' || !/^\d+$/.test(args[1] ?? '') || args.length < 3) throw new UsageError(`usage: ${COMMANDS.truncate!.usage}`);
  const size = Number(args[1]);
  for (const a of args.slice(2)) {
    const p = resolvePath(ctx, a);
    try {
      await ctx.vfs.truncate(p, size);
    } catch (e) {
      if (!(e instanceof ErrnoError) || e.errno !== Errno.ENOENT) throw e;
      // As coreutils: a missing file is created at that size.
      const fd = await ctx.vfs.open(p, O_WRONLY | O_CREAT, 0o666);
      try { await ctx.vfs.ftruncate(fd, size); } finally { await ctx.vfs.close(fd); }
    }
  }
}

async function touch(ctx: ShellContext, args: string[]): Promise<void> {
  noOptions(COMMANDS.touch!.usage, args);
  for (const a of args) {
    const p = resolvePath(ctx, a);
    try {
      await ctx.vfs.utimens(p, 'now', 'now');
    } catch (e) {
      if (!(e instanceof ErrnoError) || e.errno !== Errno.ENOENT) throw e;
      await ctx.vfs.close(await ctx.vfs.open(p, O_WRONLY | O_CREAT, 0o666));
    }
  }
}

export interface WriteCommandSpec {
  min: number;
  max: number;
  usage: string;
  run(ctx: ShellContext, args: string[]): Promise<void>;
}

export const COMMANDS: Record<string, WriteCommandSpec> = {
  put: { min: 2, max: 2, usage: 'put LOCAL|- PATH (a host file, or stdin, into the share)', run: put },
  get: { min: 2, max: 2, usage: 'get PATH LOCAL|- (a file of the share to the host, or stdout)', run: get },
  mkdir: { min: 1, max: Infinity, usage: 'mkdir [-p] PATH...', run: mkdir },
  rm: { min: 1, max: Infinity, usage: 'rm [-r] PATH...', run: rm },
  rmdir: { min: 1, max: Infinity, usage: 'rmdir PATH...', run: rmdir },
  mv: { min: 2, max: 2, usage: 'mv FROM TO', run: mv },
  ln: { min: 2, max: 3, usage: 'ln [-s] TARGET PATH', run: ln },
  chmod: { min: 2, max: Infinity, usage: 'chmod OCTAL PATH...', run: chmod },
  chown: { min: 2, max: Infinity, usage: 'chown UID[:GID]|:GID PATH...', run: chown },
  truncate: { min: 3, max: Infinity, usage: 'truncate -s SIZE PATH...', run: truncate },
  touch: { min: 1, max: Infinity, usage: 'touch PATH...', run: touch },
};
