// How a driver's register accesses reach a virtio-mmio device. The driver
// speaks registers; whether an access is a function call (in one process) or
// a frame on a TCP connection (two processes) is the transport's business.
// Every transport applies reads and posted writes in the order they are
// issued, so a read sees every earlier write (a driver writes a selector and
// then pipelines its reads without waiting).

export type RegisterWidth = 1 | 2 | 4;

export interface MmioTransport {
  /** Read a register or a config-space field; answered by the device. */
  read(offset: number, width: RegisterWidth): Promise<number>;
  /** Write a register or a config-space field; posted, never answered. */
  write(offset: number, width: RegisterWidth, value: number): void;
  /** The device raised its interrupt line. `status` is InterruptStatus as
   *  the interrupt carried it, when the transport delivers it (the wire's
   *  INTERRUPT frame does); otherwise the driver reads the register. */
  onInterrupt(handler: (status?: number) => void): void;
  /** Send every posted write now, instead of with the rest of this turn's
   *  (a driver about to busy-poll for the answer to its notify). Optional:
   *  a transport that never holds writes back has nothing to do. */
  flush?(): void;
  /** The device runs beside the driver (another process or thread), so it
   *  can answer while the driver spins; a device in the driver's own thread
   *  cannot, and busy-polling it would only burn the bound. */
  readonly concurrent?: boolean;
  /** The device is gone (connection lost, device model stopped). */
  onClose(handler: (reason: Error) => void): void;
  close(): void;
}
