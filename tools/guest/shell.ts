// The interactive shell (node:readline; completion and history as bash has
// them, shell-input.ts) and `exec 'CMD; CMD'`, both over runCommand.

import * as posix from 'node:path/posix';
import * as readline from 'node:readline';
import { splitCommands } from './args';
import { describeError, runCommand, type ShellContext } from './commands';
import { complete, historyFile, HISTORY_SIZE, loadHistory, saveHistoryLine } from './shell-input';

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

async function closeHeld(ctx: ShellContext): Promise<void> {
  for (const fd of ctx.held?.values() ?? []) await ctx.vfs.close(fd).catch(() => undefined);
  ctx.held?.clear();
}

export interface ShellOptions {
  /** Where the history is kept; default ~/.virtiofs_history on a terminal, none otherwise. */
  historyFile?: string | null;
}

/** The interactive loop; resolves when the user types exit or EOF. */
export function interactive(ctx: ShellContext, input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stdout, opts: ShellOptions = {}): Promise<void> {
  const terminal = (input as { isTTY?: boolean }).isTTY === true;
  const histFile = opts.historyFile === null ? undefined : opts.historyFile ?? (terminal ? historyFile() : undefined);
  const history = loadHistory(histFile);
  const rl = readline.createInterface({
    input, output, terminal, historySize: HISTORY_SIZE, history, removeHistoryDuplicates: false,
    completer: (line: string, cb: (err: null, r: [string[], string]) => void) => {
      complete(ctx, line).then((r) => cb(null, r), () => cb(null, [[], '']));
    },
  });
  let previous = history[0];
  const prompt = (): void => { rl.setPrompt(`virtiofs:${ctx.tag}${ctx.cwd === '/' ? '/' : posix.normalize(ctx.cwd)}$ `); rl.prompt(); };
  return new Promise((resolve) => {
    let busy = Promise.resolve();
    rl.on('line', (line) => {
      saveHistoryLine(histFile, line, previous);
      if (line.trim()) previous = line;
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
