// A fuse.h struct described once: each field's name, type and offset, from
// which its reader, writer and size follow. A field whose C name differs
// from ours (a later protocol's name for a padding word) says so in `c`, so
// the layout test can hold every table against the real header.

import { LeReader, LeWriter } from './wire';

/** How a field is stored. `u64split` is one 64-bit value whose low word
 *  and high word live apart (fuse_init_{in,out}.flags and .flags2). */
export type Scalar = 'u16' | 'u32' | 'i32' | 'u64' | 'u64split';

export interface FieldLayout {
  readonly name: string;
  readonly offset: number;
  readonly type: Scalar | StructLayout<unknown>;
  /** The field's name in fuse.h when it is not `name`. */
  readonly c?: string;
  /** u64split: where the high word is, and its C name. */
  readonly hi?: { readonly offset: number; readonly c: string };
}

/** One field's declaration in a table, typed by the value it holds. */
export interface FieldDecl<V> {
  readonly offset: number;
  readonly type: Scalar | StructLayout<unknown>;
  readonly c?: string;
  readonly hi?: { readonly offset: number; readonly c: string };
  /** Phantom: the TypeScript type of the value. */
  readonly __value?: V;
}

export const u16 = (offset: number, c?: string): FieldDecl<number> => ({ offset, type: 'u16', c });
export const u32 = (offset: number, c?: string): FieldDecl<number> => ({ offset, type: 'u32', c });
export const i32 = (offset: number, c?: string): FieldDecl<number> => ({ offset, type: 'i32', c });
export const u64 = (offset: number, c?: string): FieldDecl<bigint> => ({ offset, type: 'u64', c });
/** A 64-bit value kept as a low word at `offset` and a high word elsewhere. */
export const u64split = (offset: number, hiOffset: number, hiC: string): FieldDecl<bigint> =>
  ({ offset, type: 'u64split', hi: { offset: hiOffset, c: hiC } });
/** A struct inside a struct. */
export const nested = <T>(layout: StructLayout<T>, offset: number): FieldDecl<T> =>
  ({ offset, type: layout as StructLayout<unknown> });

const LOW32 = 0xffffffffn;

function width(type: Scalar | StructLayout<unknown>): number {
  if (typeof type !== 'string') return type.size;
  return type === 'u16' ? 2 : type === 'u64' ? 8 : 4; // u64split's low word is 4
}

export class StructLayout<T> {
  readonly fields: readonly FieldLayout[];

  constructor(readonly cName: string, readonly size: number, decls: { readonly [K in keyof T]-?: FieldDecl<T[K]> }) {
    const fields: FieldLayout[] = [];
    for (const [name, d] of Object.entries(decls) as [string, FieldDecl<unknown>][]) {
      fields.push({ name, offset: d.offset, type: d.type, c: d.c, hi: d.hi });
      const ends = [d.offset + width(d.type), ...(d.hi ? [d.hi.offset + 4] : [])];
      if (ends.some((e) => e > size) || d.offset < 0) throw new RangeError(`${cName}.${name} lies outside its ${size} bytes`);
    }
    this.fields = fields;
  }

  /**
   * The struct at off. Only the first `avail` bytes are the struct's (a
   * peer of an older protocol sends a shorter one): a field past them reads
   * as 0. The caller has checked that [off, off + avail) is in the buffer.
   */
  read(r: LeReader, off: number, avail: number = this.size): T {
    const o: Record<string, unknown> = {};
    for (const f of this.fields) o[f.name] = readField(r, off, f, avail);
    return o as T;
  }

  /** Writes the struct at off; padding and fields we do not carry become 0. */
  write(w: LeWriter, off: number, v: T): void {
    w.bytes.fill(0, off, off + this.size);
    const rec = v as unknown as Record<string, unknown>;
    for (const f of this.fields) writeField(w, off, f, rec[f.name]);
  }
}

function readField(r: LeReader, off: number, f: FieldLayout, avail: number): unknown {
  const at = off + f.offset;
  const t = f.type;
  if (typeof t !== 'string') return f.offset + t.size <= avail ? t.read(r, at) : t.read(r, at, Math.max(0, avail - f.offset));
  if (f.offset + width(t) > avail) return t === 'u64' || t === 'u64split' ? 0n : 0;
  switch (t) {
    case 'u16': return r.u16(at);
    case 'u32': return r.u32(at);
    case 'i32': return r.i32(at);
    case 'u64': return r.u64(at);
    case 'u64split': {
      const hi = f.hi!.offset + 4 <= avail ? BigInt(r.u32(off + f.hi!.offset)) : 0n;
      return BigInt(r.u32(at)) | (hi << 32n);
    }
  }
}

function writeField(w: LeWriter, off: number, f: FieldLayout, v: unknown): void {
  const at = off + f.offset;
  const t = f.type;
  if (typeof t !== 'string') { t.write(w, at, v); return; }
  switch (t) {
    case 'u16': w.u16(at, v as number); return;
    case 'u32': w.u32(at, v as number); return;
    case 'i32': w.i32(at, v as number); return;
    case 'u64': w.u64(at, v as bigint); return;
    case 'u64split':
      w.u32(at, Number((v as bigint) & LOW32));
      w.u32(off + f.hi!.offset, Number(((v as bigint) >> 32n) & LOW32));
  }
}

/** The value a table describes: each field's declared type. */
export type StructValue<L> = L extends StructLayout<infer T> ? T : never;
type ValueOf<D> = { -readonly [K in keyof D]: D[K] extends FieldDecl<infer V> ? V : never };

/** A struct's table; its TypeScript type follows from the declarations. */
export function struct<D extends Record<string, FieldDecl<unknown>>>(cName: string, size: number, decls: D): StructLayout<ValueOf<D>> {
  return new StructLayout<ValueOf<D>>(cName, size, decls as unknown as { [K in keyof ValueOf<D>]-?: FieldDecl<ValueOf<D>[K]> });
}

/** A struct with no field we carry (fuse_syncfs_in: padding only). */
export function opaque(cName: string, size: number): StructLayout<Record<string, never>> {
  return new StructLayout<Record<string, never>>(cName, size, {});
}
