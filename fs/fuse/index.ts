// The FUSE protocol codec, shared by the guest driver (encodes requests,
// decodes replies) and the device model's server (decodes requests, encodes
// replies). Layouts are Linux include/uapi/linux/fuse.h, protocol 7.36+.

export * from './kernel';
export * from './decoded';
export * from './headers';
export * from './names';
export * from './structs';
export * from './dirents';
export * from './requests';
export * from './replies';
export { LeReader, LeWriter } from './wire';
