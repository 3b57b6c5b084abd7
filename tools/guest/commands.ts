// The file commands of the guest shell (ls, cat, stat, tree, readlink, df,
// dax, cd, pwd), run on a mounted Vfs. Each builds plain data, then prints it
// as text or JSON; errors are ErrnoErrors (printed by the caller with their
// errno name) or UsageErrors.

import * as posix from 'node:path/posix';
import { ErrnoError } from '../../core';
import { O_RDONLY, S_IFDIR, S_IFLNK, S_IFMT, type Vfs } from '../../core/vfs';
import { UsageError } from './args';
import { nodeidsOf, realpathIn } from './names';
import { resolvePath, type ShellContext } from './shell-context';
import { COMMANDS as WRITE_COMMANDS } from './write-commands';
import {
  daxJson, dfJson, formatDax, formatDf, formatLs, formatLsLong, formatStat, formatTree, statJson, toJson, typeName,
  type LsEntry, type TreeNode,
} from './format';

export { resolvePath } from './shell-context';
export type { Output, ShellContext } from './shell-context';

interface CommandSpec {
  min: number;
  max: number;
  usage: string;
  run(ctx: ShellContext, args: string[]): Promise<void>;
}

const READ_CHUNK = 1 << 20;

async function emit(ctx: ShellContext, data: unknown, text: () => string): Promise<void> {
  await ctx.out.write(ctx.json ? `${toJson(data)}\n` : text());
}

async function lsEntry(vfs: Vfs, dir: string, name: string, long: boolean, ino: bigint, type: string): Promise<LsEntry> {
  if (!long) return { name, type, ino: ino.toString() };
  const p = posix.join(dir, name);
  const st = statJson(p, await vfs.lstat(p));
  const e: LsEntry = { name, type: st.type, ino: st.ino, mode: st.mode, nlink: st.nlink, uid: st.uid, gid: st.gid, size: st.size, mtime: st.mtime };
  if (st.type === 'symlink') e.target = await vfs.readlink(p);
  return e;
}

const DT_NAMES: Record<number, string> = { 1: 'fifo', 2: 'char-device', 4: 'directory', 6: 'block-device', 8: 'file', 10: 'symlink', 12: 'socket' };

async function ls(ctx: ShellContext, args: string[]): Promise<void> {
  const long = args[0] === '-l';
  if (args.length > (long ? 2 : 1) || (!long && args[0]?.startsWith('-'))) throw new UsageError(COMMANDS.ls!.usage);
  const p = resolvePath(ctx, long ? args[1] : args[0]);
  const st = await ctx.vfs.lstat(p);
  let entries: LsEntry[];
  if ((st.mode & S_IFMT) !== S_IFDIR) {
    entries = [await lsEntry(ctx.vfs, posix.dirname(p), posix.basename(p), long, st.ino, typeName(st.mode))];
  } else {
    const list = (await ctx.vfs.readdirAll(p)).filter((e) => e.name !== '.' && e.name !== '..');
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    entries = [];
    for (const e of list) entries.push(await lsEntry(ctx.vfs, p, e.name, long, e.ino, DT_NAMES[e.type] ?? 'unknown'));
  }
  await emit(ctx, { path: p, entries }, () => (long ? formatLsLong(entries) : formatLs(entries)));
}

/** Opens path for reading and remembers which nodeid it is, for `dax`:
 *  named by the file's own path, not the symlink it was opened through. */
export async function openNamed(ctx: Pick<ShellContext, 'vfs' | 'names'>, p: string): Promise<number> {
  const fd = await ctx.vfs.open(p, O_RDONLY);
  try {
    const st = await ctx.vfs.fstat(fd);
    const own = await realpathIn(ctx.vfs, p);
    for (const nodeid of nodeidsOf(ctx.vfs, st.ino)) ctx.names.set(nodeid, own);
  } catch { /* a name is a nicety */ }
  return fd;
}

async function cat(ctx: ShellContext, args: string[]): Promise<void> {
  for (const a of args) {
    const p = resolvePath(ctx, a);
    const fd = await openNamed(ctx, p);
    try {
      if (ctx.json) {
        const parts: Uint8Array[] = [];
        for (let b = await ctx.vfs.read(fd, READ_CHUNK); b.length; b = await ctx.vfs.read(fd, READ_CHUNK)) parts.push(b);
        const data = Buffer.concat(parts);
        await ctx.out.write(`${toJson({ path: p, size: data.length, base64: data.toString('base64') })}\n`);
      } else {
        for (let b = await ctx.vfs.read(fd, READ_CHUNK); b.length; b = await ctx.vfs.read(fd, READ_CHUNK)) await ctx.out.write(b);
      }
    } finally {
      await ctx.vfs.close(fd).catch(() => undefined);
    }
  }
}

async function stat(ctx: ShellContext, args: string[]): Promise<void> {
  for (const a of args) {
    const p = resolvePath(ctx, a);
    const st = await ctx.vfs.lstat(p);
    const target = (st.mode & S_IFMT) === S_IFLNK ? await ctx.vfs.readlink(p) : undefined;
    const s = statJson(p, st, target);
    await emit(ctx, s, () => formatStat(s));
  }
}

/** The tree below p; unreadable directories are marked, not fatal. */
export async function buildTree(vfs: Vfs, p: string, name = p): Promise<TreeNode> {
  const st = await vfs.lstat(p);
  const node: TreeNode = { name, type: typeName(st.mode) };
  if (node.type === 'file') node.size = st.size;
  if (node.type === 'symlink') node.target = await vfs.readlink(p);
  if (node.type === 'directory') {
    node.children = [];
    let list;
    try {
      list = (await vfs.readdirAll(p)).filter((e) => e.name !== '.' && e.name !== '..');
    } catch (e) {
      node.error = e instanceof ErrnoError ? e.code : String(e);
      return node;
    }
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of list) node.children.push(await buildTree(vfs, posix.join(p, e.name), e.name));
  }
  return node;
}

async function tree(ctx: ShellContext, args: string[]): Promise<void> {
  const p = resolvePath(ctx, args[0]);
  const root = await buildTree(ctx.vfs, p, args[0] ?? (ctx.cwd === '/' ? '/' : '.'));
  await emit(ctx, root, () => formatTree(root));
}

async function readlink(ctx: ShellContext, args: string[]): Promise<void> {
  const p = resolvePath(ctx, args[0]);
  const target = await ctx.vfs.readlink(p);
  await emit(ctx, { path: p, target }, () => `${target}\n`);
}

async function df(ctx: ShellContext): Promise<void> {
  const d = dfJson(ctx.tag, await ctx.vfs.statfs('/'));
  await emit(ctx, d, () => formatDf(d));
}

async function dax(ctx: ShellContext): Promise<void> {
  const m = await ctx.dax();
  const d = daxJson(ctx.windowSize, m?.mapAlignment ?? 12, m?.snapshot(), m?.stats.snapshot(), (n) => ctx.names.get(n) ?? ctx.nameOf?.(n));
  await emit(ctx, d, () => formatDax(d));
}

async function cd(ctx: ShellContext, args: string[]): Promise<void> {
  const p = resolvePath(ctx, args[0] ?? '/');
  const st = await ctx.vfs.stat(p);
  if ((st.mode & S_IFMT) !== S_IFDIR) throw new ErrnoError(20 /* ENOTDIR */);
  ctx.cwd = p;
}

async function pwd(ctx: ShellContext): Promise<void> {
  await emit(ctx, { cwd: ctx.cwd }, () => `${ctx.cwd}\n`);
}

async function hold(ctx: ShellContext, args: string[]): Promise<void> {
  ctx.held ??= new Map();
  for (const a of args) {
    const p = resolvePath(ctx, a);
    if (ctx.held.has(p)) continue;
    const fd = await openNamed(ctx, p);
    try {
      let n = 0;
      for (let b = await ctx.vfs.read(fd, READ_CHUNK); b.length; b = await ctx.vfs.read(fd, READ_CHUNK)) n += b.length;
      ctx.held.set(p, fd);
      await emit(ctx, { path: p, fd, bytes: n }, () => `${p}: fd ${fd}, ${n} bytes read, held open\n`);
    } catch (e) {
      await ctx.vfs.close(fd).catch(() => undefined);
      throw e;
    }
  }
}

async function release(ctx: ShellContext, args: string[]): Promise<void> {
  const held = ctx.held ?? new Map<string, number>();
  const paths = args.length ? args.map((a) => resolvePath(ctx, a)) : [...held.keys()];
  for (const p of paths) {
    const fd = held.get(p);
    if (fd === undefined) throw new ErrnoError(9 /* EBADF */, `${p} is not held open`);
    held.delete(p);
    await ctx.vfs.close(fd);
  }
}

export const COMMANDS: Record<string, CommandSpec> = {
  ls: { min: 0, max: 2, usage: 'ls [-l] [PATH]', run: ls },
  cat: { min: 1, max: Infinity, usage: 'cat PATH...', run: cat },
  stat: { min: 1, max: Infinity, usage: 'stat PATH...', run: stat },
  tree: { min: 0, max: 1, usage: 'tree [PATH]', run: tree },
  readlink: { min: 1, max: 1, usage: 'readlink PATH', run: readlink },
  df: { min: 0, max: 0, usage: 'df', run: df },
  dax: { min: 0, max: 0, usage: 'dax', run: dax },
  cd: { min: 0, max: 1, usage: 'cd [PATH]', run: cd },
  pwd: { min: 0, max: 0, usage: 'pwd', run: pwd },
  open: { min: 1, max: Infinity, usage: 'open PATH... (read it and keep it open)', run: hold },
  close: { min: 0, max: Infinity, usage: 'close [PATH...] (default: every file held open)', run: release },
  ...WRITE_COMMANDS,
};

/** Runs one command (its words); throws UsageError or ErrnoError. */
export async function runCommand(ctx: ShellContext, words: readonly string[]): Promise<void> {
  const [name, ...args] = words;
  const spec = name === undefined ? undefined : COMMANDS[name];
  if (!spec) throw new UsageError(`unknown command "${name ?? ''}" (${Object.keys(COMMANDS).join(', ')})`);
  if (args.length < spec.min || args.length > spec.max) throw new UsageError(`usage: ${spec.usage}`);
  await spec.run(ctx, args);
}

/** "virtiofs: cat /nope: ENOENT" for a failed command. */
export function describeError(words: readonly string[], err: unknown): string {
  const what = words.join(' ');
  if (err instanceof UsageError) return `virtiofs: ${err.message}`;
  if (err instanceof ErrnoError) return `virtiofs: ${what}: ${err.code}`;
  return `virtiofs: ${what}: ${err instanceof Error ? err.message : String(err)}`;
}
