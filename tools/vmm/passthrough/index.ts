// The device model's passthrough backend: a FUSE server over a host directory.

export { PassthroughServer } from './server';
export type { PassthroughOptions, HandleContext } from './server';
export type { DaxMapper, DaxMapping, DaxRange } from './dax-mapper';
export { DAX_POLICIES, FUSE_INODE_DAX_THRESH, FS_DAX_FL } from './dax-policy';
export type { DaxPolicy, DaxFlagReader } from './dax-policy';
export type { PassthroughLogger } from './logger';
export { MAP_ALIGNMENT, MAP_ALIGNMENT_LOG2, MIN_MINOR } from './init';
