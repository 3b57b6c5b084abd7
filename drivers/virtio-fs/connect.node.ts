// A guest in its own process reaching a device model over the wire: connect
// and authenticate, map the guest RAM the device owns (a sealed memfd is
// mapped into this process; any other file is reached by positioned I/O), keep
// a window region that mirrors the device's DAX mappings (MAP/UNMAP frames:
// each names a host path this process opens itself), then probe the
// virtio-fs device. Everything after this is the same code as in one process.
// The device is not trusted: a path it names is opened only when it is one of
// its own fds of the expected kind (peer-file.node.ts); anything else closes
// the connection with EPROTO before a byte is read or written.

import * as fs from 'node:fs';
import { Allocator } from '../../core/allocator';
import { openFileRange } from '../../core/mapped-range.node';
import { GuestMemory } from '../../core/memory';
import { openRam, type RamFile } from '../../core/ram.node';
import { WindowBacking } from '../../core/window';
import { Errno, ErrnoError } from '../../core/errno';
import { MAP_WRITE } from '../wire/frames';
import { openPeerFile } from '../wire/peer-file.node';
import { connectWire, type WireTransport } from '../wire/tcp-transport.node';
import { VirtioFsDriver, type VirtioFsDriverOptions } from './driver';

export interface RemoteVirtioFs {
  readonly driver: VirtioFsDriver;
  readonly memory: GuestMemory;
  readonly transport: WireTransport;
  /** The guest's copy of the window's mapping table (undefined without a window). */
  readonly window: WindowBacking | undefined;
  close(): Promise<void>;
}

export interface ConnectVirtioFsOptions extends VirtioFsDriverOptions {
  token?: string | Uint8Array;
  timeoutMs?: number;
  /** The uid the device model must run as (default: ours). */
  peerUid?: number;
  /** Take the request queues' doorbells when the device offers them (default true). */
  doorbells?: boolean;
}

/** Connect to `address` (tcp:HOST:PORT or unix:PATH) and bring the device up. */
export async function connectVirtioFs(address: string, options: ConnectVirtioFsOptions = {}): Promise<RemoteVirtioFs> {
  const transport = await connectWire(address, options.token, {
    timeoutMs: options.timeoutMs, peerUid: options.peerUid, doorbells: options.doorbells,
  });
  let ram: RamFile | undefined;
  let window: WindowBacking | undefined;
  try {
    const { ram: r, window: w } = transport.welcome;
    const ramFd = openPeerFile(transport.peer, r.path, { what: 'guest RAM', kind: 'file', writable: true, size: r.size });
    try {
      // Mapped when the device sealed it against shrinking, else positioned I/O.
      ram = openRam(ramFd, r.size);
    } catch (e) {
      fs.closeSync(ramFd);
      throw e;
    }
    const memory = new GuestMemory();
    memory.addRegion('ram', r.base, ram);
    if (w) {
      const win = new WindowBacking(w.len);
      window = win;
      memory.addRegion('dax-window', w.base, win);
      transport.onMap((m) => {
        const writable = (m.flags & MAP_WRITE) !== 0;
        let fd: number;
        try {
          fd = openPeerFile(transport.peer, m.path, { what: `MAP seq ${m.seq}`, kind: 'file', writable });
        } catch (e) {
          transport.abort(Errno.EPROTO, (e as Error).message);
          throw e;
        }
        // Mapped into this process when the addon is built (loads and stores,
        // as a guest's through the BAR), else positioned I/O; owns fd.
        const file = openFileRange(fd, m.foffset, m.len, writable, true);
        try {
          win.map(m.moffset, m.len, file, m.foffset, writable);
        } catch (e) {
          file.release();
          throw e;
        }
      });
      transport.onUnmap((u) => win.unmap(u.moffset, u.len));
    }
    const allocator = new Allocator(r.base, r.size);
    const driver = await VirtioFsDriver.probe(transport, memory, allocator, options);
    const shared = ram;
    const mirror = window;
    return {
      driver, memory, transport, window,
      async close() {
        await driver.close();
        transport.close();
        mirror?.clear();
        shared.close();
      },
    };
  } catch (err) {
    if (err instanceof ErrnoError && err.errno === Errno.EPROTO) transport.abort(Errno.EPROTO, err.message);
    transport.close();
    window?.clear();
    ram?.close();
    throw err;
  }
}
