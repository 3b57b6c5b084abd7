// An in-memory DaxPort: files are byte arrays by nodeid, and the window
// shows them through a table of mapped ranges, as the host's mmap into the
// cache window would; writes through a write mapping change the file.
// Strict where a real window would fault: touching an unmapped range or
// bytes past the end of the file, writing through a read mapping, or a
// range whose SETUPMAPPING is still in flight throws — except reads during
// an upgrade (a WRITE mapping over a read mapping of the same file range,
// whose bytes do not change). For tests and embedders.

import { Errno, ErrnoError } from '../../../core/errno';
import { DaxPort, DaxWindow, RemoveMappingRange, REMOVEMAPPING_MAX_RANGES, SetupMappingArgs } from './port';

interface Extent {
  moffset: number;
  len: number;
  nodeid: bigint;
  foffset: number;
  write: boolean;
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
  private readonly inFlight = new Set<{ moffset: number; len: number; upgrade: boolean }>();

  constructor(private readonly options: MemoryDaxPortOptions) {
    const size = options.windowSize;
    this.window = {
      size,
      read: (moffset, dst) => this.access(moffset, dst, false),
      write: (moffset, src) => this.access(moffset, src, true),
    };
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
    const pending = { moffset, len, upgrade: this.shows(moffset, len, args.nodeid, foffset) };
    this.inFlight.add(pending);
    try {
      if (this.options.delay) await this.options.delay(args);
      const errno = this.options.fail?.(args) ?? 0;
      if (errno) throw new ErrnoError(errno, 'setupmapping');
      this.punch(moffset, len);
      this.insert({ moffset, len, nodeid: args.nodeid, foffset, write: args.write });
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

  /** Whether [moffset, moffset + len) shows nodeid's file from foffset now. */
  private shows(moffset: number, len: number, nodeid: bigint, foffset: number): boolean {
    let pos = moffset;
    for (const e of this.extents) {
      if (e.moffset + e.len <= pos) continue;
      if (e.moffset > pos || e.nodeid !== nodeid || e.foffset + (pos - e.moffset) !== foffset + (pos - moffset)) return false;
      pos = e.moffset + e.len;
      if (pos >= moffset + len) return true;
    }
    return false;
  }

  private access(moffset: number, buf: Uint8Array, write: boolean): void {
    const end = moffset + buf.length;
    const what = write ? 'write' : 'read';
    for (const p of this.inFlight) {
      if (p.moffset < end && moffset < p.moffset + p.len && (write || !p.upgrade)) {
        throw new Error(`window ${what} [${moffset}, ${end}) over a SETUPMAPPING in flight`);
      }
    }
    let pos = moffset;
    let i = this.extents.findIndex((e) => e.moffset + e.len > pos);
    while (pos < end) {
      const e = i >= 0 ? this.extents[i] : undefined;
      if (!e || e.moffset > pos) throw new Error(`window ${what} at ${pos}: not mapped`);
      if (write && !e.write) throw new Error(`window write at ${pos}: a read mapping`);
      const n = Math.min(end, e.moffset + e.len) - pos;
      const file = this.files.get(e.nodeid)!;
      const f = e.foffset + (pos - e.moffset);
      if (f + n > file.length) throw new Error(`window ${what} past the end of file ${e.nodeid}`);
      if (write) file.set(buf.subarray(pos - moffset, pos - moffset + n), f);
      else buf.set(file.subarray(f, f + n), pos - moffset);
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
