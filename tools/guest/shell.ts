// The interactive shell (node:readline: history, tab-completion of paths in
// the share) and `exec 'CMD; CMD'`, both over runCommand.

import * as posix from 'node:path/posix';
import * as readline from 'node:readline';
import { splitCommands } from './args';
import { COMMANDS, describeError, resolvePath, runCommand, type ShellContext } from './commands';

export const SHELL_HELP = `commands: ls [-l] [PATH], cat PATH..., stat PATH..., tree [PATH], readlink PATH, df, dax,
          open PATH... (read and keep open: its DAX mappings stay), close [PATH...],
          cd [PATH], pwd, help, exit (several on one line with ';')\n`;

/** Runs each command of a line; returns how many failed. Errors go to err
 *  (or to onError, which gets the words and the error itself). */
export async function runLine(ctx: ShellContext, line: string, err: (msg: string) => void,
  onError?: (words: readonly string[], e: unknown) => void): Promise<number> {
  let cmds: string[][];
  try {
    cmds = splitCommands(line);
  } catch (e) {
    err(describeError([], e));
    return 1;
  }
  let failed = 0;
  for (const words of cmds) {
    try {
      await runCommand(ctx, words);
    } catch (e) {
      if (onError) onError(words, e); else err(describeError(words, e));
      failed++;
    }
  }
  return failed;
}

/** Completes the last word of a line as a path in the share. */
export async function completePath(ctx: ShellContext, line: string): Promise<[string[], string]> {
  const m = /(\S*)$/.exec(line);
  const word = m ? m[1]! : '';
  const before = line.slice(0, line.length - word.length);
  if (!before.trim()) {
    const names = [...Object.keys(COMMANDS), 'help', 'exit'].filter((c) => c.startsWith(word));
    return [names.map((n) => `${n} `), word];
  }
  const slash = word.lastIndexOf('/');
  const dirPart = slash >= 0 ? word.slice(0, slash + 1) : '';
  const prefix = word.slice(slash + 1);
  try {
    const dir = resolvePath(ctx, dirPart || '.');
    const entries = await ctx.vfs.readdirAll(dir);
    const hits = entries
      .filter((e) => e.name !== '.' && e.name !== '..' && e.name.startsWith(prefix))
      .map((e) => `${dirPart}${e.name}${e.type === 4 ? '/' : ''}`)
      .sort();
    return [hits, word];
  } catch {
    return [[], word];
  }
}

async function closeHeld(ctx: ShellContext): Promise<void> {
  for (const fd of ctx.held?.values() ?? []) await ctx.vfs.close(fd).catch(() => undefined);
  ctx.held?.clear();
}

/** The interactive loop; resolves when the user types exit or EOF. */
export function interactive(ctx: ShellContext, input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stdout): Promise<void> {
  const rl = readline.createInterface({
    input, output, terminal: (input as { isTTY?: boolean }).isTTY === true, historySize: 1000,
    completer: (line: string, cb: (err: null, r: [string[], string]) => void) => {
      completePath(ctx, line).then((r) => cb(null, r), () => cb(null, [[], line]));
    },
  });
  const prompt = (): void => { rl.setPrompt(`virtiofs:${ctx.tag}${ctx.cwd === '/' ? '/' : posix.normalize(ctx.cwd)}$ `); rl.prompt(); };
  return new Promise((resolve) => {
    let busy = Promise.resolve();
    rl.on('line', (line) => {
      rl.pause();
      busy = busy.then(async () => {
        const t = line.trim();
        if (t === 'exit' || t === 'quit') { await closeHeld(ctx); rl.close(); return; }
        if (t === 'help' || t === '?') output.write(SHELL_HELP);
        else if (t) await runLine(ctx, line, (m) => process.stderr.write(`${m}\n`));
        rl.resume();
        prompt();
      });
    });
    rl.on('SIGINT', () => { output.write('^C\n'); rl.write(null, { ctrl: true, name: 'u' }); prompt(); });
    rl.on('close', () => { void busy.then(() => closeHeld(ctx)).then(() => { output.write('\n'); resolve(); }); });
    output.write(`virtiofs shell on "${ctx.tag}" (help for commands, exit or Ctrl-D to leave)\n`);
    prompt();
  });
}
