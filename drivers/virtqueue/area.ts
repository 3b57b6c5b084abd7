// Little-endian access to one fixed guest area (a ring or a table). When the
// region has a live view the accesses go straight to a DataView; otherwise
// they go through GuestMemory, where each call is one copy (one positioned
// syscall on a shared file): readInto/write move a run of fields at once.
// Offsets are the queue's own, always in range.

import { GuestMemory } from '../../core/memory';

export class Area {
  private readonly dv: DataView | undefined;
  private readonly bytes: Uint8Array | undefined;

  constructor(private readonly mem: GuestMemory, readonly gpa: number, len: number) {
    const v = mem.view(gpa, len);
    this.bytes = v;
    this.dv = v ? new DataView(v.buffer, v.byteOffset, v.byteLength) : undefined;
  }

  u16(off: number): number {
    return this.dv ? this.dv.getUint16(off, true) : this.mem.u16(this.gpa + off);
  }

  u32(off: number): number {
    return this.dv ? this.dv.getUint32(off, true) : this.mem.u32(this.gpa + off);
  }

  setU16(off: number, v: number): void {
    if (this.dv) this.dv.setUint16(off, v, true);
    else this.mem.setU16(this.gpa + off, v);
  }

  setU32(off: number, v: number): void {
    if (this.dv) this.dv.setUint32(off, v, true);
    else this.mem.setU32(this.gpa + off, v);
  }

  /** Copy dst.length bytes at `off` into dst: one access. */
  readInto(off: number, dst: Uint8Array): void {
    if (this.bytes) dst.set(this.bytes.subarray(off, off + dst.length));
    else this.mem.readInto(this.gpa + off, dst);
  }

  /** Store src at `off`: one access. */
  write(off: number, src: Uint8Array): void {
    if (this.bytes) this.bytes.set(src, off);
    else this.mem.write(this.gpa + off, src);
  }
}
