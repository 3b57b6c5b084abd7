// The device model's passthrough backend: a FuseFilesystem over a host
// directory, and the FuseServer the device model serves it with.

export { PassthroughServer } from './server';
export type { PassthroughOptions } from './server';
export { PassthroughFs } from './passthrough-fs';
export type { PassthroughFsOptions } from './state';
export type { HandleContext } from '../fuse';
export type { DaxMapper, DaxMapping, DaxRange } from './dax-mapper';
export { DAX_POLICIES, FUSE_INODE_DAX_THRESH, FS_DAX_FL } from './dax-policy';
export type { DaxPolicy, DaxFlagReader } from './dax-policy';
export type { PassthroughLogger } from './logger';
export { MAP_ALIGNMENT, MAP_ALIGNMENT_LOG2, MIN_MINOR } from '../fuse';
