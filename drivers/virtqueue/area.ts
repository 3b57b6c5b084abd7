// Little-endian access to one fixed guest area (a ring or a table). When the
// region has a live view the accesses go straight to a DataView; otherwise
// they go through GuestMemory. Offsets are the queue's own, always in range.

import { GuestMemory } from '../../core/memory';

export class Area {
  private readonly dv: DataView | undefined;

  constructor(private readonly mem: GuestMemory, readonly gpa: number, len: number) {
    const v = mem.view(gpa, len);
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
}
