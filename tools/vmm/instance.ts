// One guest's virtio-fs device, built from the operator's options: guest RAM
// (a /dev/shm file, or a plain buffer in one process), the DAX window as
// shared-memory region 0 above RAM, the device registers and queues, and a
// backend that answers FUSE. The CLI makes one per connection; tests and an
// embedding kernel make one and reach it in-process.

import { BufferBacking, GuestMemory, WindowBacking, createRam, isRamFile, type MemoryBacking } from '../../core/index.node';
import { DEFAULT_MAX_IN_FLIGHT, FuseQueueBackend } from './fuse-queues';
import { DEFAULT_LIMITS, FuseServer, readonlyFilesystem, type FuseFilesystem, type SessionLimits } from './fuse';
import { PassthroughServer } from './passthrough';
import type { DaxMapper, DaxPolicy } from './passthrough';
import { VirtioFsDevice, type VirtioFsBackend, type VirtioFsDeviceSink } from './virtio-fs-device';
import { WindowMapper } from './window-mapper';
import type { DeviceLink } from './wire-server';

/** The window sits at 1 TiB guest-physical: above any RAM, below 2^53. */
export const WINDOW_BASE = 2 ** 40;

/** One guest's caps: handles, inodes (the FuseServer's), requests served at once (the queues'). */
export interface SessionCaps extends SessionLimits {
  maxRequests: number;
}

export const DEFAULT_CAPS: SessionCaps = { ...DEFAULT_LIMITS, maxRequests: DEFAULT_MAX_IN_FLIGHT };

export interface DeviceConfig {
  /** Per-session caps; DEFAULT_CAPS when absent. */
  caps?: SessionCaps;
  sharedDir: string;
  tag: string;
  cacheSize: number;
  queueSize: number;
  numRequestQueues: number;
  memory: number;
  daxPolicy: DaxPolicy;
  readonly: boolean;
  logger?: (message: string) => void;
  /** Builds a backend other than passthrough (vhost-user); gets the instance's RAM. */
  backend?: (sink: VirtioFsDeviceSink, ram: MemoryBacking) => VirtioFsBackend;
  /**
   * Serve this filesystem instead of passthrough over `sharedDir` (which is
   * then ignored, as is `daxPolicy`): an in-memory one (tools/vmm/memfs), or
   * any FuseFilesystem. A function gets the window's mapper (undefined
   * without a window). `readonly` wraps it in the read-only decorator.
   */
  filesystem?: FuseFilesystem | ((dax: DaxMapper | undefined) => FuseFilesystem);
}

export interface InstanceOptions {
  /** 'shm': RAM in a /dev/shm file another process can open; 'buffer': one process. */
  ram: 'shm' | 'buffer';
  /** The remote guest, told of window mappings; absent in one process. */
  link?: DeviceLink;
}

export class DeviceInstance {
  readonly memory = new GuestMemory();
  readonly window: WindowBacking | undefined;
  readonly mapper: WindowMapper | undefined;
  /** The FUSE server of the TypeScript backends; undefined with vhost-user. */
  readonly server: FuseServer | undefined;
  readonly device: VirtioFsDevice;
  private backend: VirtioFsBackend | undefined;
  private closed = false;

  constructor(readonly config: DeviceConfig, readonly ram: MemoryBacking, options: InstanceOptions) {
    const log = config.logger ?? ((m: string) => process.stderr.write(`virtiofs-vmm: ${m}\n`));
    this.memory.addRegion('ram', 0, ram);
    if (config.cacheSize > 0) {
      this.window = new WindowBacking(config.cacheSize);
      this.memory.addRegion('dax-window', WINDOW_BASE, this.window);
      this.mapper = new WindowMapper(this.window, options.link);
    }
    const build = config.backend;
    const caps = config.caps ?? DEFAULT_CAPS;
    if (!build && config.filesystem) {
      const f = config.filesystem;
      const fs = typeof f === 'function' ? f(this.mapper) : f;
      this.server = new FuseServer(config.readonly ? readonlyFilesystem(fs) : fs, { logger: { warn: log }, limits: caps });
    } else if (!build) {
      this.server = new PassthroughServer({
        root: config.sharedDir, readonly: config.readonly, daxPolicy: config.daxPolicy,
        dax: this.mapper, logger: { warn: log }, limits: caps,
      });
    }
    const server = this.server;
    this.device = new VirtioFsDevice({
      memory: this.memory,
      tag: config.tag,
      numRequestQueues: config.numRequestQueues,
      queueSize: config.queueSize,
      window: this.window ? { base: WINDOW_BASE, len: this.window.size } : undefined,
      // The guest has the RAM file open by DRIVER_OK (its rings are in it):
      // drop the name then, so a killed process leaves nothing in /dev/shm.
      onDriverOk: () => { if (isRamFile(ram)) ram.unlink(); },
      backend: (sink) => {
        this.backend = build ? build(sink, ram) : new FuseQueueBackend(this.memory, server!, sink, { logger: log, maxInFlight: caps.maxRequests });
        return this.backend;
      },
      logger: log,
    });
  }

  /** A device whose RAM is a fresh shared file — a sealed memfd mapped into
   *  this process when the addon is built, else a /dev/shm file — or a buffer. */
  static create(config: DeviceConfig, options: InstanceOptions): DeviceInstance {
    const ram = options.ram === 'shm' ? createRam(config.memory) : new BufferBacking(config.memory);
    try {
      return new DeviceInstance(config, ram, options);
    } catch (err) {
      if (isRamFile(ram)) { ram.close(); ram.unlink(); }
      throw err;
    }
  }

  /** The RAM file a guest in another process opens, named as one of this
   *  process's fds (the guest checks that it is ours); '' for a plain buffer. */
  get ramPath(): string {
    return isRamFile(this.ram) ? `/proc/${process.pid}/fd/${this.ram.fd}` : '';
  }

  /** The backend answering the queues (built when the driver first sets them up). */
  get queueBackend(): VirtioFsBackend | undefined {
    return this.backend;
  }

  /** Stop serving and give everything back: queues, mappings, open files, the RAM file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.device.close();
      await this.backend?.close(); // vhost-user: resolves once the daemon is gone
      this.mapper?.clear();
      await this.server?.close();
    } finally {
      if (isRamFile(this.ram)) {
        this.ram.close();
        this.ram.unlink();
      }
    }
  }
}
