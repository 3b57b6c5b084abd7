// A host file reached by positioned reads and writes on an fd: what a DAX
// window mapping shows. Reads past the end of the file return zeros, as the
// page cache shows them for the tail of a mapped page.

import * as fs from 'node:fs';
import type { FileRange } from './window';

export class HostFileRange implements FileRange {
  private closed = false;

  /** `owned`: close the fd when no mapping uses the file any more. */
  constructor(readonly fd: number, private readonly owned: boolean) {}

  /** Open a host path (e.g. /proc/<pid>/fd/<n>, handed over by the device model). */
  static open(path: string, writable: boolean): HostFileRange {
    return new HostFileRange(fs.openSync(path, writable ? 'r+' : 'r'), true);
  }

  read(pos: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const n = fs.readSync(this.fd, dst, done, dst.length - done, pos + done);
      if (n === 0) { dst.fill(0, done); return; }
      done += n;
    }
  }

  write(pos: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) done += fs.writeSync(this.fd, src, done, src.length - done, pos + done);
  }

  release(): void {
    if (this.owned && !this.closed) { this.closed = true; fs.closeSync(this.fd); }
  }
}
