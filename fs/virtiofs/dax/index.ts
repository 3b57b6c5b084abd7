// The DAX window manager and what it needs of a device.
export * from './device';
export * from './manager';
export * from './stats';
export { AsyncMutex } from './mutex';
export type { Release } from './mutex';
export { MappingStack } from './stack';
export type { Mapping } from './stack';
export { MemoryDaxDevice } from './memory-device';
export type { MemoryDaxDeviceOptions } from './memory-device';
