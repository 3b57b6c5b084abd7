// Hands out guest-physical ranges inside [base, base+size) for rings and
// request buffers: first fit on an address-ordered free list whose
// neighbours coalesce on free, so freeing everything leaves one block.

import { isPowerOfTwo } from './bits';

export type AllocatorErrorKind = 'invalid' | 'exhausted' | 'unknown';

export class AllocatorError extends Error {
  constructor(readonly kind: AllocatorErrorKind, message: string) {
    super(`allocator: ${message}`);
    this.name = 'AllocatorError';
  }
}

interface Block { start: number; len: number }


function hex(n: number): string { return `0x${n.toString(16)}`; }

export class Allocator {
  readonly end: number;
  /** Free blocks, sorted by start, never touching (always coalesced). */
  private readonly free_: Block[];
  /** gpa -> length of each live allocation. */
  private readonly live = new Map<number, number>();
  private freeTotal: number;

  constructor(readonly base: number, readonly size: number) {
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0
        || !Number.isSafeInteger(base + size)) {
      throw new AllocatorError('invalid', `bad range base ${hex(base)} size ${size}`);
    }
    this.end = base + size;
    this.free_ = [{ start: base, len: size }];
    this.freeTotal = size;
  }

  get freeBytes(): number { return this.freeTotal; }

  /** Largest free block (an aligned request may fit only in less). */
  get largestFree(): number {
    let max = 0;
    for (const b of this.free_) if (b.len > max) max = b.len;
    return max;
  }

  /** Number of live allocations. */
  get allocations(): number { return this.live.size; }

  /** Length of the live allocation at `gpa`, or undefined. */
  sizeOf(gpa: number): number | undefined { return this.live.get(gpa); }

  /** `len` bytes at a gpa that is a multiple of `align` (a power of two). */
  alloc(len: number, align = 8): number {
    if (!Number.isSafeInteger(len) || len <= 0) {
      throw new AllocatorError('invalid', `bad length ${len}`);
    }
    if (!isPowerOfTwo(align)) throw new AllocatorError('invalid', `alignment ${align} is not a power of two`);
    const list = this.free_;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      const rem = b.start % align;
      const start = rem === 0 ? b.start : b.start + (align - rem);
      const pad = start - b.start;
      if (pad >= b.len || b.len - pad < len) continue;
      const tail = b.len - pad - len;
      // Keep the padding before and the rest after as free blocks.
      if (pad > 0 && tail > 0) {
        b.len = pad;
        list.splice(i + 1, 0, { start: start + len, len: tail });
      } else if (pad > 0) {
        b.len = pad;
      } else if (tail > 0) {
        b.start = start + len;
        b.len = tail;
      } else {
        list.splice(i, 1);
      }
      this.live.set(start, len);
      this.freeTotal -= len;
      return start;
    }
    throw new AllocatorError('exhausted',
      `cannot allocate ${len} bytes aligned to ${align}: ${this.freeTotal} bytes free, `
      + `largest free block ${this.largestFree} in ${list.length} blocks`);
  }

  /** Return the allocation starting at `gpa`. */
  free(gpa: number): void {
    const len = this.live.get(gpa);
    if (len === undefined) {
      throw new AllocatorError('unknown', `free of ${typeof gpa === 'number' ? hex(gpa) : String(gpa)}: not an allocated address`);
    }
    this.live.delete(gpa);
    this.freeTotal += len;
    const list = this.free_;
    // First free block after gpa (binary search: the list is address-ordered).
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.start < gpa) lo = mid + 1; else hi = mid;
    }
    const prev = lo > 0 ? list[lo - 1]! : undefined;
    const next = lo < list.length ? list[lo]! : undefined;
    const end = gpa + len;
    if (prev && prev.start + prev.len === gpa) {
      prev.len += len;
      if (next && next.start === end) {
        prev.len += next.len;
        list.splice(lo, 1);
      }
    } else if (next && next.start === end) {
      next.start = gpa;
      next.len += len;
    } else {
      list.splice(lo, 0, { start: gpa, len });
    }
  }

  /** The free blocks, address-ordered (a copy: for tests and diagnostics). */
  freeBlocks(): Array<{ start: number; len: number }> {
    return this.free_.map((b) => ({ start: b.start, len: b.len }));
  }
}
