// Access tokens between a device model and its guests. The device model
// creates one (mode 0600, in a 0700 directory of its own) where a guest on
// the same host finds it by the address alone, so nobody copies secrets
// around; --token-file overrides. As ssh refuses a private key file others
// can read, a token file (or its directory) that group or others can read
// or write, or that another user owns, is refused with the fix (UsageError:
// the programs exit 2).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatWireAddress, parseWireAddress } from '../../drivers/wire';
import { UsageError } from './usage';

const uid = (): number => process.geteuid?.() ?? 0;

/** Why a token file (or directory) with this stat must not be used, or undefined. */
export function tokenModeProblem(file: string, st: fs.Stats, dir = false): string | undefined {
  if (st.uid !== uid()) return `${file} is owned by uid ${st.uid}, not by you (uid ${uid()}): use a file of your own`;
  if ((st.mode & 0o077) !== 0) {
    const who = [(st.mode & 0o070) !== 0 && 'group', (st.mode & 0o007) !== 0 && 'others'].filter(Boolean).join(' and ');
    return `${file} is accessible by ${who} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): `
      + `chmod ${dir ? '700' : '600'} ${file}`;
  }
  return undefined;
}

/** A per-user directory (0700) for tokens of device models on this host. */
export function tokenDir(): string {
  const base = process.env.XDG_RUNTIME_DIR && fs.existsSync(process.env.XDG_RUNTIME_DIR)
    ? process.env.XDG_RUNTIME_DIR : os.tmpdir();
  return path.join(base, `virtiofs-vmm-${process.getuid?.() ?? 'user'}`);
}

/** Where the token of the device model listening on `address` lives by default. */
export function defaultTokenFile(address: string): string {
  // tcp:H:P and tcp://H:P name the same device model.
  const name = formatWireAddress(parseWireAddress(address)).replace('://', '_').replace(/[^A-Za-z0-9._-]/g, '_');
  return path.join(tokenDir(), `${name}.token`);
}

export function newToken(): string {
  return crypto.randomBytes(32).toString('hex');
}

/** Write a token file readable by its owner only; refuses to follow a
 *  symlink, and a directory others can reach into or that is not ours. */
export function writeTokenFile(file: string, token: string): void {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dst = fs.lstatSync(dir);
  if (!dst.isDirectory()) throw new UsageError(`token directory ${dir} is not a directory`);
  // The directory made for tokens must be private; a file given elsewhere
  // may be in any directory of ours (or root's) that others cannot write.
  let why: string | undefined;
  if (dst.uid !== uid() && dst.uid !== 0) why = `${dir} is owned by uid ${dst.uid}, not by you (uid ${uid()})`;
  else if (dir === tokenDir()) why = tokenModeProblem(dir, dst, true);
  else if ((dst.mode & 0o022) !== 0 && (dst.mode & 0o1000) === 0) why = `${dir} is writable by group or others: chmod go-w ${dir}`;
  if (why) throw new UsageError(`refusing to write the token: ${why}`);
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, `${token}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Read a token file: refused (UsageError naming the fix) when it is not a
 *  regular file of ours that only we can read and write. */
export function readTokenFile(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw new UsageError(`token file ${file}: ${(e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`token file ${file} is not a regular file`);
    const why = tokenModeProblem(file, st);
    if (why) throw new UsageError(`refusing the token file: ${why}`);
    const token = fs.readFileSync(fd, 'utf8').trim();
    if (token.length === 0) throw new UsageError(`token file ${file} is empty`);
    return token;
  } finally {
    fs.closeSync(fd);
  }
}
