// Device status bits (virtio 1.2 §2.1). The driver sets them in order during
// initialisation; the device sets DEVICE_NEEDS_RESET when it breaks.

export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
export const VIRTIO_STATUS_DRIVER = 2;
export const VIRTIO_STATUS_DRIVER_OK = 4;
export const VIRTIO_STATUS_FEATURES_OK = 8;
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64;
export const VIRTIO_STATUS_FAILED = 128;

/** "ACKNOWLEDGE|DRIVER|..." for logs and error messages. */
export function describeStatus(status: number): string {
  const names: string[] = [];
  if (status & VIRTIO_STATUS_ACKNOWLEDGE) names.push('ACKNOWLEDGE');
  if (status & VIRTIO_STATUS_DRIVER) names.push('DRIVER');
  if (status & VIRTIO_STATUS_FEATURES_OK) names.push('FEATURES_OK');
  if (status & VIRTIO_STATUS_DRIVER_OK) names.push('DRIVER_OK');
  if (status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) names.push('DEVICE_NEEDS_RESET');
  if (status & VIRTIO_STATUS_FAILED) names.push('FAILED');
  const unknown = status & ~0xcf;
  if (unknown) names.push(`0x${unknown.toString(16)}`);
  return names.length ? names.join('|') : '0';
}
