// virtio-mmio version 2: the register layout, the device's register file
// (what a device model offers), the driver's accessor over any transport,
// and the transport that reaches a register file in the same process.
export type { MmioTransport, RegisterWidth } from '../transport';
export * from './registers';
export * from './device-registers';
export * from './driver';
export * from './in-process-transport';
