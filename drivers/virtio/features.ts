// Reserved (transport and ring) feature bits, virtio 1.2 §6. Feature sets are
// 64-bit, so they are bigints; a bit number turns into a mask with feature().

export const VIRTIO_RING_F_INDIRECT_DESC = 28;
export const VIRTIO_RING_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;
export const VIRTIO_F_ACCESS_PLATFORM = 33;
export const VIRTIO_F_RING_PACKED = 34;
export const VIRTIO_F_RING_RESET = 40;

/** Every bit of a 64-bit feature set. */
export const VIRTIO_FEATURES_MASK = (1n << 64n) - 1n;

/** The mask of one feature bit. */
export function feature(bit: number): bigint {
  return 1n << BigInt(bit);
}

export function hasFeature(features: bigint, bit: number): boolean {
  return (features & (1n << BigInt(bit))) !== 0n;
}

/** "0x1_00000000" style, for logs and error messages. */
export function formatFeatures(features: bigint): string {
  return `0x${features.toString(16)}`;
}
