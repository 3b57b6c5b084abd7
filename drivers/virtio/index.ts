// virtio 1.2 common to every device and transport: feature bits, device
// ids and limits, shared-memory regions, the status byte.
export * from './features';
export * from './ids';
export * from './shm';
export * from './status';
