// The device model's side of the DAX window: FUSE_SETUPMAPPING and
// FUSE_REMOVEMAPPING land here. A mapping makes the window show a host file
// range (core/window.ts) through a descriptor of its own, and — when the
// guest is another process — tells the guest with MAP/UNMAP and waits for
// its MAP_ACK before the request may complete (docs/PROTOCOL.md, "The DAX
// window across two processes").
//
// Changes are applied one at a time: the guest opens /proc/<pid>/fd/<n> when
// it applies a MAP, so descriptor n must stay open — and must not be reused
// for another file — until the guest has acknowledged it. Serializing means a
// later change that releases n (a replacing MAP, an UNMAP) starts only after
// the earlier MAP's ack.

import * as fs from 'node:fs';
import { WindowBacking, openFileRange } from '../../core/index.node';
import { MAP_READ, MAP_WRITE } from '../../drivers/wire';
import type { DeviceLink } from './wire-server';

export interface MapArgs { moffset: number; len: number; fd: number; foffset: number; writable: boolean }
export interface UnmapRange { moffset: number; len: number }

export class WindowMapper {
  private chain: Promise<unknown> = Promise.resolve();

  /** `link`: the remote guest, when there is one (absent in one process). */
  constructor(readonly window: WindowBacking, private link?: DeviceLink) {}

  get windowSize(): number { return this.window.size; }

  attach(link: DeviceLink | undefined): void { this.link = link; }

  map(m: MapArgs): Promise<void> {
    return this.serial(async () => {
      // A descriptor of the window's own: the FUSE fh may be released while
      // the mapping lives on, as QEMU's mmap outlives the fd it came from.
      const fd = fs.openSync(`/proc/self/fd/${m.fd}`, m.writable ? 'r+' : 'r');
      // Mapped when the addon is built (an in-process guest's DAX hits are
      // then copies from the page cache), else positioned I/O; owns fd.
      let file: ReturnType<typeof openFileRange>;
      try {
        file = openFileRange(fd, m.foffset, m.len, m.writable, true);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      try {
        this.window.map(m.moffset, m.len, file, m.foffset, m.writable);
      } catch (err) {
        file.release();
        throw err;
      }
      const link = this.link;
      if (link && !link.closed) {
        await link.map({
          moffset: m.moffset, len: m.len, foffset: m.foffset,
          flags: m.writable ? MAP_READ | MAP_WRITE : MAP_READ,
          path: `/proc/${process.pid}/fd/${fd}`,
        });
      }
    });
  }

  unmap(ranges: readonly UnmapRange[]): Promise<void> {
    return this.serial(async () => {
      for (const r of ranges) this.window.unmap(r.moffset, r.len);
      const link = this.link;
      if (link && !link.closed) for (const r of ranges) await link.unmap(r.moffset, r.len);
    });
  }

  /** Drop every mapping (device reset, session end): descriptors closed. */
  clear(): void {
    this.window.clear();
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
