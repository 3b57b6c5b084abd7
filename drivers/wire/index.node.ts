// The wire, the Node-side entry: the portable part (index.ts), the guest's
// socket end (connectWire), and the checks on the process at the other end.
export * from './index';
export * from './tcp-transport.node';
export * from './peer.node';
export * from './peer-file.node';
