// The frames of the guest <-> device-model wire (docs/PROTOCOL.md): their
// types, an encoder per type and an incremental decoder. Portable:
// Uint8Array/DataView. One entry for the three files behind it.

export * from './frame-types';
export * from './frame-encode';
export * from './frame-decode';
