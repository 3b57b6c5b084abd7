// core, the portable entry: errors, the logger type, integer helpers,
// guest-physical memory and its backings, the DAX window, the allocator,
// iovecs. The VFS has its own entry (vfs/); the Node-only backings are in
// index.node.ts.
export * from './errno';
export * from './log';
export * from './bits';
export * from './memory';
export * from './window';
export * from './allocator';
export * from './uio';
