// An in-memory DaxPort: files are byte arrays by nodeid, and the window
// shows them through a table of mapped ranges, as the host's mmap into the
// cache window would. Strict where a real window would fault: reading an
// unmapped range, bytes past the end of the file, or a range whose
// SETUPMAPPING is still in flight throws. For tests and embedders.

import { Errno, ErrnoError } from '../../../core/errno';
import { DaxPort, DaxWindow, RemoveMappingRange, REMOVEMAPPING_MAX_RANGES, SetupMappingArgs } from './port';

interface Extent {
  moffset: number;
  len: number;
  nodeid: bigint;
  foffset: number;
}

export interface MemoryDaxPortOptions {
  windowSize: number;
  /** log2 of the alignment SETUPMAPPING arguments must have (default 12). */
  alignment?: number;
  /** Awaited before a SETUPMAPPING takes effect (random delays in tests). */
  delay?: (args: SetupMappingArgs) => Promise<void>;
  /** An errno to fail a SETUPMAPPING with, or 0 to let it through. */
  fail?: (args: SetupMappingArgs) => number;
}

export class MemoryDaxPort implements DaxPort {
  readonly files = new Map<bigint, Uint8Array>();
  readonly window: DaxWindow;
  readonly setupCalls: SetupMappingArgs[] = [];
  readonly removeCalls: RemoveMappingRange[][] = [];
  private extents: Extent[] = [];
  private readonly inFlight = new Set<{ moffset: number; len: number }>();

  constructor(private readonly options: MemoryDaxPortOptions) {
    const size = options.windowSize;
    this.window = { size, read: (moffset, dst) => this.readWindow(moffset, dst) };
  }

  /** The mapped ranges, by moffset. */
  get mapped(): readonly Readonly<Extent>[] {
    return this.extents;
  }

  async setupMapping(args: SetupMappingArgs): Promise<void> {
    this.setupCalls.push(args);
    const align = 2 ** (this.options.alignment ?? 12);
    const { moffset, len, foffset } = args;
    if (moffset % align || foffset % align || len % align || len <= 0 || moffset < 0 || moffset + len > this.window.size) {
      throw new ErrnoError(Errno.EINVAL, `setupmapping moffset ${moffset} len ${len} foffset ${foffset}`);
    }
    if (!this.files.has(args.nodeid)) throw new ErrnoError(Errno.EBADF, `no file ${args.nodeid}`);
    const pending = { moffset, len };
    this.inFlight.add(pending);
    try {
      if (this.options.delay) await this.options.delay(args);
      const errno = this.options.fail?.(args) ?? 0;
      if (errno) throw new ErrnoError(errno, 'setupmapping');
      this.punch(moffset, len);
      this.insert({ moffset, len, nodeid: args.nodeid, foffset });
    } finally {
      this.inFlight.delete(pending);
    }
  }

  async removeMapping(ranges: readonly RemoveMappingRange[]): Promise<void> {
    this.removeCalls.push([...ranges]);
    if (ranges.length === 0 || ranges.length > REMOVEMAPPING_MAX_RANGES) {
      throw new ErrnoError(Errno.EINVAL, `removemapping of ${ranges.length} ranges`);
    }
    for (const r of ranges) {
      if (r.moffset < 0 || r.len <= 0 || r.moffset + r.len > this.window.size) {
        throw new ErrnoError(Errno.EINVAL, `removemapping moffset ${r.moffset} len ${r.len}`);
      }
    }
    for (const r of ranges) this.punch(r.moffset, r.len);
  }

  private readWindow(moffset: number, dst: Uint8Array): void {
    const end = moffset + dst.length;
    for (const p of this.inFlight) {
      if (p.moffset < end && moffset < p.moffset + p.len) {
        throw new Error(`window read [${moffset}, ${end}) over a SETUPMAPPING in flight`);
      }
    }
    let pos = moffset;
    let i = this.extents.findIndex((e) => e.moffset + e.len > pos);
    while (pos < end) {
      const e = i >= 0 ? this.extents[i] : undefined;
      if (!e || e.moffset > pos) throw new Error(`window read at ${pos}: not mapped`);
      const n = Math.min(end, e.moffset + e.len) - pos;
      const file = this.files.get(e.nodeid)!;
      const f = e.foffset + (pos - e.moffset);
      if (f + n > file.length) throw new Error(`window read past the end of file ${e.nodeid}`);
      dst.set(file.subarray(f, f + n), pos - moffset);
      pos += n;
      i++;
    }
  }

  /** Removes [moffset, moffset+len) from the extents, splitting at the edges. */
  private punch(moffset: number, len: number): void {
    const end = moffset + len;
    const out: Extent[] = [];
    for (const e of this.extents) {
      const eEnd = e.moffset + e.len;
      if (eEnd <= moffset || e.moffset >= end) {
        out.push(e);
        continue;
      }
      if (e.moffset < moffset) out.push({ ...e, len: moffset - e.moffset });
      if (eEnd > end) out.push({ ...e, moffset: end, len: eEnd - end, foffset: e.foffset + (end - e.moffset) });
    }
    this.extents = out;
  }

  private insert(x: Extent): void {
    let i = 0;
    while (i < this.extents.length && this.extents[i]!.moffset < x.moffset) i++;
    this.extents.splice(i, 0, x);
  }
}
