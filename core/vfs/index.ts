// The VFS's public surface.
export * from './stat';
export * from './fcntl';
export * from './fs';
export { Vnode, vget, vref, vrele } from './vnode';
export { Mount } from './mount';
export { File, FileTable } from './file';
export { namei, nameiParent, splitPath, utf8Length } from './namei';
export { Vfs } from './vfs';
export type { VfsOptions } from './vfs';
