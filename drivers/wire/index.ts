// The wire between a guest and the device model, the portable part: the
// frames (PROTOCOL.md) and the addresses. The socket ends are Node-only:
// index.node.ts.
export type { MmioTransport, RegisterWidth } from '../transport';
export * from './frames';
export * from './address';
