// Access tokens between a device model and its guests. The device model
// creates one (mode 0600) where a guest on the same host finds it by the
// address alone, so nobody copies secrets around; --token-file overrides.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatWireAddress, parseWireAddress } from '../../drivers/wire/address';

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

/** Write a token file readable by its owner only; refuses to follow a symlink. */
export function writeTokenFile(file: string, token: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, `${token}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

export function readTokenFile(file: string): string {
  const token = fs.readFileSync(file, 'utf8').trim();
  if (token.length === 0) throw new Error(`token file ${file} is empty`);
  return token;
}
