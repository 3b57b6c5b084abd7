// What both halves of a split virtqueue share: the checked configuration and
// the three areas (descriptor table, avail ring, used ring) laid over guest
// memory, with the offsets of used_event and avail_event.

import { GuestMemory } from '../../core/memory';
import { Area } from './area';
import {
  QueueConfig, availEventOffset, availRingSize, checkQueueConfig, descTableSize, usedEventOffset, usedRingSize,
} from './layout';

export abstract class SplitRing {
  readonly size: number;
  protected readonly mask: number;
  protected readonly desc: Area;
  protected readonly avail: Area;
  protected readonly used: Area;
  protected readonly usedEventOff: number;
  protected readonly availEventOff: number;

  /** Throws VirtqueueError for a bad size, misaligned rings or rings outside memory. */
  constructor(protected readonly mem: GuestMemory, protected readonly config: QueueConfig) {
    checkQueueConfig(mem, config);
    const size = config.size;
    this.size = size;
    this.mask = size - 1;
    this.desc = new Area(mem, config.desc, descTableSize(size));
    this.avail = new Area(mem, config.avail, availRingSize(size));
    this.used = new Area(mem, config.used, usedRingSize(size));
    this.usedEventOff = usedEventOffset(size);
    this.availEventOff = availEventOffset(size);
  }
}
