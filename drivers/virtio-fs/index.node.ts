// The virtio-fs driver, the Node-side entry: the portable driver (index.ts)
// and connectVirtioFs, which brings a device up over the wire.
export * from './index';
export * from './connect.node';
