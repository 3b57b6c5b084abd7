// The DAX window manager, its placement policies, and what it needs of a device.
export * from './port';
export * from './manager';
export * from './stats';
export { DaxCore, PLACEMENTS, errnoOf } from './base';
export type { DaxPlacement, Mapping, MappingPart, Placement, PlacementFactory, PlacementName } from './placement';
export { MappingStack } from './stack';
export { RangePool, RECLAIM_CHUNK, RECLAIM_THRESHOLD_PERCENT } from './pool';
export { AdaptiveRule, ADAPTIVE_DEFAULTS } from './adaptive';
export type { AdaptiveOptions } from './adaptive';
export { ChunkOwners, UNKNOWN_OWNER } from './owners';
export { AsyncMutex } from './mutex';
export type { Release } from './mutex';
export { MemoryDaxPort } from './memory-port';
export type { MemoryDaxPortOptions } from './memory-port';
