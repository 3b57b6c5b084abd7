// An in-memory FuseFilesystem built from a tree description; Node-free.

export { MemFs } from './memfs';
export type { MemFsOptions } from './memfs';
export { MemSymlink, symlink } from './tree';
export type { MemEntry, MemTree } from './tree';
