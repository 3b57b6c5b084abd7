// The split virtqueue: layout, driver half, device half, iovec copies.
export * from './errors';
export * from './layout';
export { DriverQueue } from './driver';
export type { RingAllocator, Completion } from './driver';
export { DeviceQueue } from './device';
export type { Chain, DeviceQueueState } from './device';
export { gather, scatter } from './iov';
