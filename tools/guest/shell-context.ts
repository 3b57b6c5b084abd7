// What a shell command runs with: the mounted VFS, where its output goes,
// the working directory, and the names the dax picture shows.

import * as posix from 'node:path/posix';
import type { Vfs } from '../../core/vfs';
import type { DaxManager } from '../../fs/virtiofs/dax';

/** Where command output goes; bytes for cat, text for the rest. */
export interface Output {
  write(chunk: string | Uint8Array): Promise<void> | void;
}

export interface ShellContext {
  readonly vfs: Vfs;
  readonly tag: string;
  /** Bytes of the device's window (0 without one). */
  readonly windowSize: number;
  dax(): Promise<DaxManager | undefined>;
  json: boolean;
  cwd: string;
  out: Output;
  /** nodeid -> the file's own path (set when the shell opens it), for the dax picture. */
  readonly names: Map<bigint, string>;
  /** A name for a nodeid the shell did not open (npm start names what its passes read). */
  nameOf?(nodeid: bigint): string | undefined;
  /** Files the shell holds open (`open`): their mappings stay on the stack,
   *  as a closed file's are dropped when its inode is forgotten. */
  held?: Map<string, number>;
  /** Why the device model ended the connection, if it did. */
  lost?(): Error | undefined;
  /** All of standard input, for `put -` (absent in the interactive shell). */
  readInput?(): Promise<Uint8Array>;
}

/** The share's path for a word typed at the shell. */
export function resolvePath(ctx: Pick<ShellContext, 'cwd'>, p: string | undefined): string {
  return posix.resolve(ctx.cwd, p ?? '.');
}
