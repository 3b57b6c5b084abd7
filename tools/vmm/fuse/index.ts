// The generic half of the device model's FUSE serving, Node-free: the
// FuseServer (decode, gate, dispatch, encode, the errno-to-reply path),
// the FuseFilesystem interface its filesystems implement, the read-only
// decorator, and the request/reply views over a descriptor chain.

export { FuseServer } from './server';
export type { FuseLogger, FuseServerOptions, HandleContext } from './server';
export type {
  Awaitable, FsInit, FuseContext, FuseFilesystem, ReadSink, WriteArgs, WriteSource,
} from './filesystem';
export { readonlyFilesystem, MUTATING } from './readonly';
export { DEFAULT_LIMITS, LimitedFilesystem } from './limits';
export type { SessionLimits } from './limits';
export { BufferReply, BufferRequest, ChainReply, ChainRequest } from './chain';
export { BouncePool, BOUNCE_MAX_BYTES, BOUNCE_PER_SIZE } from './bounce-pool';
export { ReplySink } from './sink';
export type { ReplyTarget, RequestSource } from './chain';
export { FuseClient } from './client';
export type { ByteServer } from './client';
export { errnoOf } from './errno';
export { DEFAULT_MAX_PAGES, MAP_ALIGNMENT, MAP_ALIGNMENT_LOG2, MIN_MINOR, negotiateInit } from './init';
