// The DAX window manager, its placement policies, and what it needs of a device.
export * from './port';
export * from './manager';
export * from './stats';
export type { DaxPlacement, Mapping, MappingPart, Placement, PlacementFactory } from './placement';
export { MappingStack } from './stack';
export { ChunkOwners, UNKNOWN_OWNER } from './owners';
export { AsyncMutex } from './mutex';
export type { Release } from './mutex';
export { MemoryDaxPort } from './memory-port';
export type { MemoryDaxPortOptions } from './memory-port';
