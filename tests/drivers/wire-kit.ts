// What the wire tests share: the session's RAM and window, the token, and
// promise helpers that fail a test with a reason instead of hanging it.
import * as assert from 'uvu/assert';
import { ErrnoError } from '../../core/errno';

export const TOKEN = 'sesame';
export const RAM = { path: '/dev/shm/test-ram', base: 0, size: 1 << 20 };
export const WINDOW = { base: 1 << 30, len: 8 << 21 };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** p, or a rejection naming `what` after ms. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms); }),
  ]);
}

/** The ErrnoError p rejects with; fails when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<ErrnoError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, ErrnoError);
    return e as ErrnoError;
  }
  throw new Error('expected a rejection');
}
