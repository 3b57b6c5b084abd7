// virtiofs: the guest program. Mounts a share served by virtiofs-vmm and
// runs a command on it (ls, cat, stat, tree, readlink, df, dax, shell,
// exec); `start` is npm start's job; `harness` and `bench` hand their
// arguments to tools/harness and tools/bench, loaded only when asked for.
// Exit status: 0, 1 for a failed command (errno printed), 2 for usage.
// Every error is one line, never a stack trace (VIRTIOFS_DEBUG=1 adds it).

import { ErrnoError } from '../../core';
import { describeError as oneLine } from '../common/errors';
import { versionLine } from '../common/version';
import { FILE_COMMANDS, USAGE, UsageError, parseGuestArgs, type GuestArgs } from './args';
import { describeError, runCommand, type Output, type ShellContext } from './commands';
import { mountShare } from './mount';
import { interactive, runLine } from './shell';
import { parseStartArgs, runStart } from './start';

type SubMain = { run(argv: string[]): Promise<number> };

/** A sibling program's module, loaded only when its command runs. */
function loadSub(name: 'harness' | 'bench'): SubMain {
  let mod: unknown;
  try {
    // Literal paths so the bundler includes them; inside try so a missing
    // module is a message, not a failure at startup or build.
    mod = name === 'harness' ? require('../harness/main') : require('../bench/main');
  } catch (err) {
    throw new UsageError(`${name} is not available in this build (tools/${name}/main: ${(err as Error).message.split('\n')[0]})`);
  }
  const run = (mod as Partial<SubMain>).run;
  if (typeof run !== 'function') throw new UsageError(`${name}: tools/${name}/main exports no run(argv)`);
  return mod as SubMain;
}

/** stdout that waits for drain and ends quietly when the reader went away. */
function stdoutOutput(): Output & { closed: boolean } {
  const o = {
    closed: false,
    write(chunk: string | Uint8Array): Promise<void> | void {
      if (o.closed) return;
      if (process.stdout.write(chunk)) return;
      return new Promise<void>((resolve) => {
        const done = (): void => { process.stdout.off('drain', done); process.stdout.off('close', done); resolve(); };
        process.stdout.once('drain', done);
        process.stdout.once('close', done);
      });
    },
  };
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') { o.closed = true; return; }
    process.stderr.write(`virtiofs: stdout: ${err.message}\n`);
    o.closed = true;
  });
  return o;
}

/** All of standard input (for put -). */
async function readStdin(): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function withShare(args: GuestArgs, fn: (ctx: ShellContext) => Promise<number>): Promise<number> {
  const m = await mountShare({
    connect: args.connect!, tokenFile: args.tokenFile, tag: args.tag, dax: args.dax, chunkSize: args.chunkSize, requestTimeout: args.requestTimeout,
    aggressive: args.aggressive, doorbells: !args.noDoorbells,
    options: { ...(args.placement ? { 'dax-placement': args.placement } : {}), ...(args.adaptive ? {} : { 'dax-adaptive': 'off' }) },
  });
  try {
    const ctx: ShellContext = {
      vfs: m.vfs, tag: args.tag ?? m.remote.driver.tag, windowSize: m.remote.driver.getDax()?.len ?? 0,
      dax: () => m.dax(), json: args.json, cwd: '/', out: stdoutOutput(), names: new Map(),
      readInput: args.command === 'shell' ? undefined : readStdin, lost: () => m.lost(),
    };
    return await fn(ctx);
  } finally {
    await m.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  let args: GuestArgs;
  try {
    args = parseGuestArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) { process.stderr.write(`virtiofs: ${err.message} (virtiofs --help lists the commands)\n`); return 2; }
    throw err;
  }
  const err = (m: string): void => { process.stderr.write(`${m}\n`); };
  // Once the device model is gone (said once by the mount), the EIOs that follow say nothing new.
  const cmdErr = (ctx: ShellContext, words: readonly string[], e: unknown): void => {
    if (!(ctx.lost?.() && e instanceof ErrnoError && e.code === 'EIO')) err(describeError(words, e));
  };
  try {
    switch (args.command) {
      case 'help': process.stdout.write(`${USAGE}\n`); return 0;
      case 'version': process.stdout.write(`${versionLine('virtiofs')}\n`); return 0;
      case 'harness': case 'bench': return await loadSub(args.command).run(args.args);
      case 'start': return await runStart(parseStartArgs(args.args, args));
      case 'shell': return await withShare(args, async (ctx) => { await interactive(ctx); return 0; });
      case 'exec':
        if (args.args.length === 0) throw new UsageError("usage: exec 'CMD; CMD'");
        return await withShare(args, async (ctx) => ((await runLine(ctx, args.args.join(' '), err, (w, e) => cmdErr(ctx, w, e))) > 0 ? 1 : 0));
      default:
        if (!FILE_COMMANDS.has(args.command)) throw new UsageError(`unknown command ${args.command}`);
        return await withShare(args, async (ctx) => {
          const words = [args.command, ...args.args];
          try {
            await runCommand(ctx, words);
            return 0;
          } catch (e) {
            if (e instanceof UsageError) throw e;
            cmdErr(ctx, words, e);
            return 1;
          }
        });
    }
  } catch (e) {
    if (e instanceof UsageError) { err(`virtiofs: ${e.message}`); return 2; }
    err(`virtiofs: ${args.command}: ${e instanceof ErrnoError || e instanceof Error ? oneLine(e) : String(e)}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => { process.stderr.write(`virtiofs: ${oneLine(e)}\n`); process.exitCode = 1; },
  );
}
