// A driver and a device-register file in one process: a register access is a
// function call. Accesses reach the device synchronously and in program order
// (so a read always sees every earlier write); interrupts and the close notice
// arrive in a microtask, so no driver handler ever runs inside a device call.

import type { MmioTransport, RegisterWidth } from '../transport';
import type { MmioDeviceRegisters } from './device-registers';

export class TransportClosedError extends Error {
  constructor(message = 'virtio-mmio transport closed') {
    super(message);
    this.name = 'TransportClosedError';
  }
}

export class InProcessTransport implements MmioTransport {
  private readonly interruptHandlers: Array<() => void> = [];
  private readonly closeHandlers: Array<(reason: Error) => void> = [];
  private interruptPending = false;
  private closed = false;

  constructor(private readonly device: MmioDeviceRegisters) {
    device.setInterruptHandler(() => this.deviceInterrupt());
  }

  read(offset: number, width: RegisterWidth): Promise<number> {
    if (this.closed) return Promise.reject(new TransportClosedError());
    return Promise.resolve(this.device.read(offset, width));
  }

  write(offset: number, width: RegisterWidth, value: number): void {
    // Posted: a write after close goes nowhere, as on a dead bus.
    if (!this.closed) this.device.write(offset, width, value);
  }

  onInterrupt(handler: () => void): void {
    this.interruptHandlers.push(handler);
  }

  onClose(handler: (reason: Error) => void): void {
    this.closeHandlers.push(handler);
  }

  /** Detach from the device; later reads reject, close handlers hear `reason`. */
  close(reason: Error = new TransportClosedError()): void {
    if (this.closed) return;
    this.closed = true;
    this.device.setInterruptHandler(undefined);
    queueMicrotask(() => {
      for (const h of this.closeHandlers) h(reason);
    });
  }

  private deviceInterrupt(): void {
    // Raises before the handlers run coalesce into one call: the driver reads
    // InterruptStatus for the reasons, so nothing is lost.
    if (this.interruptPending || this.closed) return;
    this.interruptPending = true;
    queueMicrotask(() => {
      this.interruptPending = false;
      if (this.closed) return;
      for (const h of this.interruptHandlers) h();
    });
  }
}
