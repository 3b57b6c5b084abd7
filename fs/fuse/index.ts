// The FUSE protocol, shared by the guest filesystem (encodes requests,
// decodes replies) and the device model's server (decodes requests, encodes
// replies): one entry, nothing imports past it. Layouts are Linux's
// include/uapi/linux/fuse.h, protocol 7.38, each struct described once.

export * from './kernel';
export * from './decoded';
export { StructLayout } from './layout';
export type { FieldLayout, Scalar } from './layout';
export * from './structs';
export * from './in-structs';
export * from './headers';
export * from './names';
export * from './dirents';
export * from './requests';
export * from './replies';
export { LeReader, LeWriter } from './wire';
