// Guest-physical memory: RAM at 0 and device regions (the DAX window) at
// their own bases above it. Every access is bounds-checked against one
// region; an access outside any region, or straddling two, is an error.
// Addresses are numbers (integers below 2^53); u64 values are bigints.

/** Where a region's bytes live: a plain buffer, a shared file, a DAX window. */
export interface MemoryBacking {
  readonly size: number;
  /** Fill `dst` from [offset, offset + dst.length). Range already checked. */
  read(offset: number, dst: Uint8Array): void;
  /** Store `src` at [offset, offset + src.length). Range already checked. */
  write(offset: number, src: Uint8Array): void;
  /** A live view of all the bytes, when the backing has one (fast path).
   *  Must stay the same array for the backing's life: GuestMemory caches it. */
  readonly bytes?: Uint8Array;
}

export interface MemoryRegion {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly backing: MemoryBacking;
}

export class GuestMemoryError extends Error {
  constructor(readonly gpa: number, readonly len: number, reason: string) {
    super(`guest memory: ${reason} (gpa 0x${gpa.toString(16)}, len ${len})`);
    this.name = 'GuestMemoryError';
  }
}

interface Slot extends MemoryRegion {
  readonly end: number;
  readonly view?: DataView;
}

export class GuestMemory {
  private slots: Slot[] = [];
  private last: Slot | undefined;
  private readonly scratch = new Uint8Array(8);
  private readonly scratchView = new DataView(this.scratch.buffer);
  // Fixed-size windows of scratch, so a typed access on a backing without a
  // live view allocates nothing.
  private readonly scratchOf: readonly Uint8Array[] =
    [0, 1, 2, 3, 4, 5, 6, 7, 8].map((n) => this.scratch.subarray(0, n));

  constructor(regions: Iterable<MemoryRegion> = []) {
    for (const r of regions) {
      if (r.size !== r.backing.size) {
        throw new GuestMemoryError(r.base, r.size, `region ${r.name}: size differs from its backing (${r.backing.size})`);
      }
      this.addRegion(r.name, r.base, r.backing);
    }
  }

  /** Place `backing` at guest-physical `base`. Regions never overlap. */
  addRegion(name: string, base: number, backing: MemoryBacking): MemoryRegion {
    const size = backing.size;
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0
        || !Number.isSafeInteger(base + size)) {
      throw new GuestMemoryError(base, size, `region ${name}: bad base or size`);
    }
    if (this.slots.some((s) => s.name === name)) {
      throw new GuestMemoryError(base, size, `region ${name} already exists`);
    }
    const clash = this.slots.find((s) => base < s.end && s.base < base + size);
    if (clash) throw new GuestMemoryError(base, size, `region ${name} overlaps ${clash.name}`);
    const bytes = backing.bytes;
    const view = bytes ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) : undefined;
    const slot: Slot = { name, base, size, backing, end: base + size, view };
    this.slots.push(slot);
    this.slots.sort((a, b) => a.base - b.base);
    return slot;
  }

  removeRegion(name: string): void {
    this.slots = this.slots.filter((s) => s.name !== name);
    this.last = undefined;
  }

  region(name: string): MemoryRegion | undefined {
    return this.slots.find((s) => s.name === name);
  }

  regions(): readonly MemoryRegion[] {
    return this.slots;
  }

  /** True when [gpa, gpa+len) lies inside one region. */
  contains(gpa: number, len: number): boolean {
    return this.lookup(gpa, len) !== undefined;
  }

  read(gpa: number, len: number): Uint8Array {
    // Check before allocating: `len` may come from the guest, and
    // new Uint8Array() would truncate a fraction or throw a RangeError.
    const s = this.slot(gpa, len);
    const dst = new Uint8Array(len);
    s.backing.read(gpa - s.base, dst);
    return dst;
  }

  readInto(gpa: number, dst: Uint8Array): void {
    const s = this.slot(gpa, dst.length);
    s.backing.read(gpa - s.base, dst);
  }

  write(gpa: number, src: Uint8Array): void {
    const s = this.slot(gpa, src.length);
    s.backing.write(gpa - s.base, src);
  }

  /** A live view of guest bytes when the region has one; undefined otherwise. */
  view(gpa: number, len: number): Uint8Array | undefined {
    const s = this.slot(gpa, len);
    const bytes = s.backing.bytes;
    return bytes ? bytes.subarray(gpa - s.base, gpa - s.base + len) : undefined;
  }

  u8(gpa: number): number { return this.load(gpa, 1).getUint8(this.at); }
  u16(gpa: number): number { return this.load(gpa, 2).getUint16(this.at, true); }
  u32(gpa: number): number { return this.load(gpa, 4).getUint32(this.at, true); }
  u64(gpa: number): bigint { return this.load(gpa, 8).getBigUint64(this.at, true); }

  // Stores go straight to the live view, or through scratch to the backing;
  // no closure per call (these are on the virtqueue hot path).
  setU8(gpa: number, v: number): void {
    const s = this.slot(gpa, 1);
    if (s.view) s.view.setUint8(gpa - s.base, v);
    else { this.scratchView.setUint8(0, v); this.flush(s, gpa, 1); }
  }
  setU16(gpa: number, v: number): void {
    const s = this.slot(gpa, 2);
    if (s.view) s.view.setUint16(gpa - s.base, v, true);
    else { this.scratchView.setUint16(0, v, true); this.flush(s, gpa, 2); }
  }
  setU32(gpa: number, v: number): void {
    const s = this.slot(gpa, 4);
    if (s.view) s.view.setUint32(gpa - s.base, v, true);
    else { this.scratchView.setUint32(0, v, true); this.flush(s, gpa, 4); }
  }
  setU64(gpa: number, v: bigint): void {
    const s = this.slot(gpa, 8);
    if (s.view) s.view.setBigUint64(gpa - s.base, v, true);
    else { this.scratchView.setBigUint64(0, v, true); this.flush(s, gpa, 8); }
  }

  // --- internals -----------------------------------------------------------

  private at = 0;

  /** DataView holding the `len` bytes at gpa, at offset this.at. */
  private load(gpa: number, len: number): DataView {
    const s = this.slot(gpa, len);
    if (s.view) { this.at = gpa - s.base; return s.view; }
    s.backing.read(gpa - s.base, this.scratchOf[len]!);
    this.at = 0;
    return this.scratchView;
  }

  private flush(s: Slot, gpa: number, len: number): void {
    s.backing.write(gpa - s.base, this.scratchOf[len]!);
  }

  private lookup(gpa: number, len: number): Slot | undefined {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || !Number.isSafeInteger(len) || len < 0) return undefined;
    const end = gpa + len;
    const l = this.last;
    if (l && gpa >= l.base && end <= l.end) return l;
    for (const s of this.slots) {
      if (gpa >= s.base && end <= s.end) { this.last = s; return s; }
    }
    return undefined;
  }

  private slot(gpa: number, len: number): Slot {
    const s = this.lookup(gpa, len);
    if (!s) {
      const reason = !Number.isSafeInteger(gpa) || gpa < 0 || !Number.isSafeInteger(len) || len < 0
        ? 'bad address or length'
        : this.slots.some((r) => gpa >= r.base && gpa < r.end)
          ? 'access crosses the end of its region' : 'address outside guest memory';
      throw new GuestMemoryError(gpa, len, reason);
    }
    return s;
  }
}

/** A region's bytes in one plain buffer: everything in one process. */
export class BufferBacking implements MemoryBacking {
  readonly bytes: Uint8Array;
  constructor(sizeOrBytes: number | Uint8Array) {
    this.bytes = typeof sizeOrBytes === 'number' ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
  }
  get size(): number { return this.bytes.length; }
  read(offset: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(offset, offset + dst.length));
  }
  write(offset: number, src: Uint8Array): void {
    this.bytes.set(src, offset);
  }
}
