// The VFS's public surface.
export * from './stat';
export * from './fcntl';
export * from './fs';
export * from './cred';
export { Vnode, vget, vref, vrele } from './vnode';
export { Mount } from './mount';
export { File, FileTable } from './file';
export { namei, nameiParent, nameString, pathBytes, splitPath, utf8Length } from './namei';
export type { PathLike } from './namei';
export { Vfs } from './vfs';
export type { CallOptions, Flock, TimeArg, VfsOptions, XattrName } from './vfs';
