// The `virtiofs` command line: global options, then a command and its
// words. Hand-parsed, because the command's own flags (ls -l) must not be
// taken for global ones.

import { parseWireAddress } from '../../drivers/wire';
import { parseSize } from '../common/size';
import { UsageError } from '../common/usage';

export type DaxMode = 'always' | 'never' | 'inode';

export interface GuestArgs {
  connect?: string;
  tokenFile?: string;
  tag?: string;
  dax?: DaxMode;
  chunkSize?: string;
  /** dax-placement: lifo (OSv's stack) or lru (Linux's range pool). */
  placement?: 'lifo' | 'lru';
  /** dax-adaptive (default on). */
  adaptive: boolean;
  /** Seconds (mount option request-timeout); undefined: the default. */
  requestTimeout?: string;
  aggressive: boolean;
  /** --no-doorbells: decline the request queues' doorbells (every kick and interrupt via the device model). */
  noDoorbells?: boolean;
  json: boolean;
  /** The command and its words; empty for --help. */
  command: string;
  args: string[];
}

export { UsageError };

export const USAGE = `usage: virtiofs [options] COMMAND [ARGS]

Mounts a virtio-fs share served by virtiofs-vmm and runs a command on it.
Paths name files in the share; / is its root.

options:
  --connect ADDR        tcp:HOST:PORT or unix:PATH of the device model (required by the file commands)
  --token-file FILE     the device model's token (default: the file it wrote for ADDR)
  --tag NAME            mount source (default: the device's tag)
  --dax MODE            always|never|inode (default: always when the device has a window)
  --chunk-size SIZE     DAX chunk size (default 2M; a multiple of the map alignment)
  --dax-placement P     lifo (OSv's chunk stack, default) or lru (Linux's range pool)
  --no-dax-adaptive     map every DAX miss (default: under heavy eviction misses go to FUSE_READ/WRITE)
  --aggressive          on a DAX miss map the rest of the file (OSv's prefetch)
  --no-doorbells         decline the request queues' kick and call FIFOs (vhost-user): kicks and
                        interrupts then go through the device model
  --request-timeout S   seconds before FUSE_INTERRUPT; as long again aborts the connection (default 30; 0 none)
  --json                print the same data as JSON (one document per command)
  --version             the version
  -h, --help            this text

commands:
  ls [-l] [PATH]        list a directory (or name one file)
  cat PATH...           write file contents to stdout, raw bytes
  stat PATH...          attributes (a symlink itself, not its target)
  tree [PATH]           the directory tree below PATH
  readlink PATH         a symlink's target
  df                    filesystem statistics (FUSE_STATFS)
  dax                   the DAX window: its mappings (RO or RW) and the statistics
  put LOCAL|- PATH      copy a host file (or stdin) into the share
  get PATH LOCAL|-      copy a file of the share to the host (or stdout)
  mkdir [-p] PATH...    rm [-r] PATH...    rmdir PATH...    mv FROM TO
  ln [-s] TARGET PATH   chmod OCTAL PATH...   chown UID[:GID] PATH...
  truncate -s SIZE PATH...   touch PATH...
  shell                 an interactive shell with these commands and cd, pwd, open PATH (read
                        and keep open, so its DAX mappings stay), close [PATH], help, exit
  exec 'CMD; CMD'       run commands in one mount, stop at none (exit 1 if any failed)
  start [DIR]           npm start: serve DIR (default: a generated sample tree), read every
                        file through DAX and FUSE_READ, check each byte, then (on a terminal) a shell
  harness ARGS          the harness against a real virtiofsd (tools/harness)
  bench ARGS            the fio-style bench (tools/bench)

Errors print the errno name (virtiofs: cat /nope: ENOENT) and exit 1; usage errors exit 2.
For everyday use: npx virtiofs ... (or node dist/virtiofs.js), which starts in a tenth of a second.`;

const DAX_MODES = new Set(['always', 'never', 'inode']);
/** Commands that run on a mounted share (need --connect). */
export const FILE_COMMANDS = new Set(['ls', 'cat', 'stat', 'tree', 'readlink', 'df', 'dax', 'shell', 'exec',
  'put', 'get', 'mkdir', 'rm', 'rmdir', 'mv', 'ln', 'chmod', 'chown', 'truncate', 'touch']);
/** Commands that take the rest of the line as their own arguments. */
export const PASSTHROUGH_COMMANDS = new Set(['harness', 'bench']);
const ALL_COMMANDS = new Set([...FILE_COMMANDS, 'start', ...PASSTHROUGH_COMMANDS, 'help', 'version']);

/** The map alignment a Linux host announces (its page size): chunks are multiples of it. */
export const PAGE_SIZE = 4096;

/** A DAX chunk size the window manager takes, checked before connecting. */
export function checkChunkSize(v: string): string {
  let n: number;
  try { n = parseSize(v); } catch { n = NaN; }
  if (!(n > 0)) throw new UsageError(`--chunk-size: a positive size (4096, 64K, 2M), not "${v}"`);
  if (n % PAGE_SIZE !== 0) throw new UsageError(`--chunk-size ${v}: a multiple of 4K (the map alignment the device announces), such as 64K or 2M`);
  return v;
}

/** Parse argv (without node and script). */
export function parseGuestArgs(argv: readonly string[]): GuestArgs {
  const out: GuestArgs = { aggressive: false, adaptive: true, json: false, command: '', args: [] };
  let i = 0;
  const value = (name: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${name} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') break;
    if (a === '--') { i++; break; }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    switch (name) {
      case '--connect': {
        const v = value(name, inline);
        try { parseWireAddress(v); } catch {
          throw new UsageError(`--connect ${v}: write tcp:HOST:PORT or unix:PATH${/^[^:/]+:\d+$/.test(v) ? ` (tcp:${v}?)` : ''}`);
        }
        out.connect = v;
        break;
      }
      case '--token-file': out.tokenFile = value(name, inline); break;
      case '--tag': out.tag = value(name, inline); break;
      case '--dax': {
        const v = value(name, inline);
        if (!DAX_MODES.has(v)) throw new UsageError(`--dax: always, never or inode, not "${v}"`);
        out.dax = v as DaxMode;
        break;
      }
      case '--chunk-size': out.chunkSize = checkChunkSize(value(name, inline)); break;
      case '--dax-placement': {
        const v = value(name, inline);
        if (v !== 'lifo' && v !== 'lru') throw new UsageError(`--dax-placement: lifo or lru, not "${v}"`);
        out.placement = v;
        break;
      }
      case '--no-dax-adaptive': out.adaptive = false; break;
      case '--request-timeout': {
        const v = value(name, inline);
        if (!/^\d+$/.test(v)) throw new UsageError(`--request-timeout: whole seconds (0: none), not "${v}"`);
        out.requestTimeout = v;
        break;
      }
      case '--aggressive': out.aggressive = true; break;
      case '--no-doorbells': out.noDoorbells = true; break;
      case '--json': out.json = true; break;
      case '-h': case '--help': out.command = 'help'; return out;
      case '--version': case '-V': out.command = 'version'; return out;
      default: throw new UsageError(`unknown option ${a}`);
    }
  }
  const command = argv[i];
  if (command === undefined) throw new UsageError('no command');
  if (!ALL_COMMANDS.has(command)) throw new UsageError(`unknown command "${command}"`);
  out.command = command;
  const rest = argv.slice(i + 1);
  if (PASSTHROUGH_COMMANDS.has(command) || command === 'start') {
    // Their own words, -h and --version included: each has its own usage.
    out.args = rest;
  } else {
    // --json is also accepted after the command (virtiofs ls / --json).
    for (const w of rest) {
      if (w === '--json') out.json = true;
      else if (w === '--help' || w === '-h') { out.command = 'help'; out.args = []; return out; }
      else out.args.push(w);
    }
  }
  if (FILE_COMMANDS.has(command) && !out.connect) throw new UsageError(`${command}: --connect ADDR is required`);
  return out;
}

/** Splits a shell line into commands at `;` and each into words; quotes
 *  ('...' and "...") and backslash escapes as sh has them. */
export function splitCommands(line: string): string[][] {
  const cmds: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  const endWord = (): void => { if (inWord) words.push(word); word = ''; inWord = false; };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c; inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i]; inWord = true;
    } else if (c === ';' || c === '\n') {
      endWord();
      if (words.length) cmds.push(words);
      words = [];
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else if ((c === '|' || c === '>' || c === '<') && !inWord) {
      throw new UsageError(`no pipes or redirections here (${c}): run virtiofs cat PATH | ... from your shell`);
    } else {
      word += c; inWord = true;
    }
  }
  if (quote) throw new UsageError(`unterminated ${quote} quote`);
  endWord();
  if (words.length) cmds.push(words);
  return cmds;
}
