// The one error type of the virtqueue, with a kind per violated rule.

export type VirtqueueErrorKind =
  // configuration
  | 'queue-size'              // not a power of two in 1..32768
  | 'ring-align'              // desc 16, avail 2, used 4
  | 'ring-range'              // an area outside guest memory
  // chains read by the device
  | 'avail-idx'               // avail.idx more than size ahead of the last seen
  | 'head-index'              // head >= size
  | 'next-index'              // next >= size (or >= the indirect table's length)
  | 'chain-too-long'          // more descriptors than the table holds: a loop
  | 'readable-after-writable' // device-readable descriptor after a writable one
  | 'address'                 // a buffer outside guest memory
  | 'total-len'               // the chain's lengths sum above 2^32 - 1
  | 'indirect-not-negotiated'
  | 'indirect-len'            // table length 0, not a multiple of 16, or > 65535 entries
  | 'nested-indirect'         // INDIRECT inside an indirect table
  | 'indirect-with-next'      // INDIRECT and NEXT on one descriptor
  // used entries read by the driver
  | 'used-idx'                // used.idx more than size ahead of the last seen
  | 'used-id'                 // id out of range or not in flight
  | 'used-len'                // len above the chain's writable total
  // driver-side requests
  | 'no-room'                 // not enough free descriptors now: queue and retry
  | 'bad-chain';              // no parts, too many parts for the queue, or a bad iovec

export class VirtqueueError extends Error {
  constructor(
    readonly kind: VirtqueueErrorKind,
    message: string,
    /** The chain's head, when the error concerns one chain. */
    readonly head?: number,
    /** The driver's token of a chain completed with a bad length (it was freed). */
    readonly token?: unknown,
  ) {
    super(`virtqueue: ${message}`);
    this.name = 'VirtqueueError';
  }
}
