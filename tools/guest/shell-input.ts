// What the interactive shell does with the keyboard, as bash does it: tab
// completes the word under the cursor (a command name first, then a name in
// the share), lists the candidates by their names, not whole paths, and
// escapes what the line splitter would split; history survives the session
// in ~/.virtiofs_history (VIRTIOFS_HISTFILE names another, empty: none).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMANDS, resolvePath, type ShellContext } from './commands';

/** Lines kept, as bash's HISTSIZE. */
export const HISTORY_SIZE = 1000;

/** The word that ends at the cursor: where it starts in the line, as typed
 *  (raw) and as the shell will read it (text), and the quote still open. */
export interface Word { start: number; raw: string; text: string; quote: '"' | "'" | null; first: boolean }

/** Splits `line` (up to the cursor) as splitCommands does and returns its last word. */
export function wordAtCursor(line: string): Word {
  let start = 0;
  let text = '';
  let quote: '"' | "'" | null = null;
  let first = true; // no word before it in this command
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) text += line[++i];
      else text += c;
    } else if (c === ' ' || c === '\t' || c === ';') {
      if (inWord) first = false;
      if (c === ';') first = true;
      inWord = false; text = ''; start = i + 1;
    } else if (c === "'" || c === '"') {
      quote = c; inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      text += line[++i]; inWord = true;
    } else {
      text += c; inWord = true;
    }
  }
  return { start, raw: line.slice(start), text, quote, first };
}

/** A name as it must be typed where `quote` is open (none: backslashes). */
export function escapeName(name: string, quote: Word['quote']): string {
  if (quote === "'") return name;
  if (quote === '"') return name.replace(/["\\]/g, '\\$&');
  return name.replace(/[\s'"\\;|<>]/g, '\\$&');
}

/** The part of a raw word that a candidate replaces: after its last '/'
 *  and after the quote that opened, so the quote stays typed. */
function rawTail(raw: string): string {
  let cut = 0;
  let quote: string | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && quote !== "'") i++;
    else if (quote && c === quote) quote = null;
    else if (!quote && (c === '"' || c === "'")) { quote = c; cut = i + 1; }
    else if (c === '/') cut = i + 1;
  }
  return raw.slice(cut);
}

/** node:readline's completer: [candidates, the text they replace]. */
export async function complete(ctx: ShellContext, line: string): Promise<[string[], string]> {
  const w = wordAtCursor(line);
  if (w.first && !w.quote && !w.text.includes('/')) {
    const names = [...Object.keys(COMMANDS), 'help', 'exit'].filter((c) => c.startsWith(w.text)).sort();
    return [names.length === 1 ? [`${names[0]} `] : names, w.raw];
  }
  const slash = w.text.lastIndexOf('/');
  const dirPart = slash >= 0 ? w.text.slice(0, slash + 1) : '';
  const prefix = w.text.slice(slash + 1);
  const tail = rawTail(w.raw);
  try {
    const entries = (await ctx.vfs.readdirAll(resolvePath(ctx, dirPart || '.')))
      .filter((e) => e.name !== '.' && e.name !== '..' && e.name.startsWith(prefix) && (prefix.startsWith('.') || !e.name.startsWith('.')));
    const hits = entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((e) => ({ name: escapeName(e.name, w.quote), dir: e.type === 4 /* DT_DIR */ }));
    if (hits.length === 1) {
      const h = hits[0]!;
      // As bash: a directory gets its '/', anything else the closing quote and a space.
      return [[h.dir ? `${h.name}/` : `${h.name}${w.quote ?? ''} `], tail];
    }
    return [hits.map((h) => (h.dir ? `${h.name}/` : h.name)), tail];
  } catch {
    return [[], tail];
  }
}

/** Where the history is kept, or undefined for none. */
export function historyFile(): string | undefined {
  const env = process.env.VIRTIOFS_HISTFILE;
  if (env !== undefined) return env || undefined;
  return path.join(process.env.HOME || os.homedir(), '.virtiofs_history');
}

/** The saved lines, newest first (node:readline's order); trimmed to HISTORY_SIZE on disk. */
export function loadHistory(file: string | undefined): string[] {
  if (!file) return [];
  let lines: string[];
  try { lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()); } catch { return []; }
  if (lines.length > 2 * HISTORY_SIZE) {
    lines = lines.slice(-HISTORY_SIZE);
    try { fs.writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 }); } catch { /* read-only home: keep it in memory */ }
  }
  return lines.slice(-HISTORY_SIZE).reverse();
}

/** Appends one line as it is entered, so a session that is killed keeps its history. */
export function saveHistoryLine(file: string | undefined, line: string, previous: string | undefined): void {
  if (!file || !line.trim() || line === previous) return;
  try { fs.appendFileSync(file, `${line.replace(/\n/g, ' ')}\n`, { mode: 0o600 }); } catch { /* history is a nicety */ }
}
