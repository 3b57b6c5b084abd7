// Errors as a person reads them: one line, the errno name, the fix; never a
// stack trace (VIRTIOFS_DEBUG=1 adds it for a bug report).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseWireAddress } from '../../drivers/wire';
import { UsageError } from './usage';

/** An error's first line, with the stack only under VIRTIOFS_DEBUG=1. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const first = err.message.split('\n').find((l) => l.trim()) ?? err.name;
  if (process.env.VIRTIOFS_DEBUG === '1' && err.stack) return `${first}\n${err.stack}`;
  return first;
}

const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** node:util parseArgs's errors, in this project's words (one line). */
export function usageFromParseArgs(err: unknown): unknown {
  const code = codeOf(err);
  const msg = (err as Error | undefined)?.message ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const m = /'([^']+)'/.exec(msg);
    return new UsageError(`unknown option ${m?.[1] ?? msg}`);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const m = /'([^']+)'/.exec(msg);
    return new UsageError(`unexpected argument "${m?.[1] ?? msg}"`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const m = /^Option '(-\S+)(?: <value>)?' argument missing/.exec(msg);
    if (m) return new UsageError(`${m[1]} needs a value (a value that starts with a dash: ${m[1]}=-VALUE)`);
    return new UsageError(msg.split('\n')[0]!);
  }
  return err;
}

/** Why listening on `address` failed, with what to do about it. */
export function listenError(address: string, err: unknown): string {
  const code = codeOf(err);
  let unix = false;
  try { unix = parseWireAddress(address).kind === 'unix'; } catch { /* checked before */ }
  const at = `--listen ${address}`;
  const dir = unix ? path.dirname(address.replace(/^unix:(\/\/)?/, '')) : '';
  // Node says EACCES for a socket whose directory is missing.
  if (unix && !fs.existsSync(dir)) return `${at}: the directory ${dir} does not exist; create it or choose another path`;
  switch (code) {
    case 'EADDRINUSE':
      return unix
        ? `${at}: a socket file is already there (EADDRINUSE); remove it if no device model uses it, or choose another path`
        : `${at}: the port is in use (EADDRINUSE); stop what listens there or choose another port (port 0 picks a free one)`;
    case 'EACCES':
      return /without an access token/.test(String((err as Error).message))
        ? `${at}: not a loopback address, so a guest must present a token; give --token-file FILE`
        : `${at}: not allowed to listen there (EACCES); ports below 1024 need root, a socket needs a directory you can write`;
    case 'EADDRNOTAVAIL':
      return `${at}: that host is not an address of this machine (EADDRNOTAVAIL); use 127.0.0.1 or one of its addresses`;
    default:
      return `${at}: cannot listen: ${describeError(err)}`;
  }
}

/** A guest's failed connect, with the hint a refused one needs. */
export function connectError(address: string, err: unknown): string {
  const text = describeError(err);
  const code = codeOf(err) ?? (/\b(ECONNREFUSED|ENOENT|ETIMEDOUT|EACCES)\b/.exec(text)?.[1]);
  if (code === 'ECONNREFUSED' || (code === 'ENOENT' && address.startsWith('unix:'))) {
    // The ErrnoError this goes into names the errno; the socket's own text would repeat it and the address.
    return `cannot connect to ${address}; is virtiofs-vmm running at ${address}?`;
  }
  return `cannot connect to ${address}: ${text}`;
}
