// The result of decoding bytes from outside: a value, or an errno with a
// reason. Decoders return this and never throw.

import { Errno } from '../../core/errno';

export type Decoded<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      errno: number;
      reason: string;
      /** The message's unique when its header was readable, so a server can
       *  still answer a request it could not decode. */
      unique?: bigint;
    };

/** Thrown inside decoders only; `guard` turns it into a failed Decoded. */
export class Reject extends Error {
  constructor(readonly errno: number, readonly reason: string) {
    super(reason);
    this.name = 'Reject';
  }
}

/** Run a decoder; any exception (a Reject, or a bug) becomes {ok:false}. */
export function guard<T>(decode: () => T, unique?: () => bigint | undefined): Decoded<T> {
  try {
    return { ok: true, value: decode() };
  } catch (e) {
    let u: bigint | undefined;
    try { u = unique?.(); } catch { u = undefined; }
    const base = e instanceof Reject
      ? { ok: false as const, errno: e.errno, reason: e.reason }
      : { ok: false as const, errno: Errno.EIO, reason: `internal decoder error: ${String(e)}` };
    return u === undefined ? base : { ...base, unique: u };
  }
}
