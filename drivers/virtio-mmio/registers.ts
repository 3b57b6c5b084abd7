// virtio-mmio register layout, version 2 ("modern"), virtio 1.2 §4.2.2.
// Control registers are 32-bit, little-endian, at 4-byte aligned offsets;
// the device-specific configuration space starts at Config (0x100).

export const VIRTIO_MMIO_MAGIC_VALUE = 0x000;
export const VIRTIO_MMIO_VERSION = 0x004;
export const VIRTIO_MMIO_DEVICE_ID = 0x008;
export const VIRTIO_MMIO_VENDOR_ID = 0x00c;
export const VIRTIO_MMIO_DEVICE_FEATURES = 0x010;
export const VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014;
export const VIRTIO_MMIO_DRIVER_FEATURES = 0x020;
export const VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024;
export const VIRTIO_MMIO_QUEUE_SEL = 0x030;
export const VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034;
export const VIRTIO_MMIO_QUEUE_NUM = 0x038;
export const VIRTIO_MMIO_QUEUE_READY = 0x044;
export const VIRTIO_MMIO_QUEUE_NOTIFY = 0x050;
export const VIRTIO_MMIO_INTERRUPT_STATUS = 0x060;
export const VIRTIO_MMIO_INTERRUPT_ACK = 0x064;
export const VIRTIO_MMIO_STATUS = 0x070;
export const VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080;
export const VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084;
export const VIRTIO_MMIO_QUEUE_DRIVER_LOW = 0x090;
export const VIRTIO_MMIO_QUEUE_DRIVER_HIGH = 0x094;
export const VIRTIO_MMIO_QUEUE_DEVICE_LOW = 0x0a0;
export const VIRTIO_MMIO_QUEUE_DEVICE_HIGH = 0x0a4;
export const VIRTIO_MMIO_SHM_SEL = 0x0ac;
export const VIRTIO_MMIO_SHM_LEN_LOW = 0x0b0;
export const VIRTIO_MMIO_SHM_LEN_HIGH = 0x0b4;
export const VIRTIO_MMIO_SHM_BASE_LOW = 0x0b8;
export const VIRTIO_MMIO_SHM_BASE_HIGH = 0x0bc;
export const VIRTIO_MMIO_QUEUE_RESET = 0x0c0;
export const VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc;
export const VIRTIO_MMIO_CONFIG = 0x100;

/** "virt" in little-endian. */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
/** The modern transport; version 1 is legacy and not supported. */
export const VIRTIO_MMIO_VERSION_MODERN = 2;
export const VIRTIO_MMIO_VERSION_LEGACY = 1;
/** QEMU's VendorID, "QEMU" in little-endian. */
export const VIRTIO_MMIO_VENDOR_QEMU = 0x554d4551;

/** InterruptStatus bit 0: the device used a buffer in some queue. */
export const VIRTIO_MMIO_INT_VRING = 1;
/** InterruptStatus bit 1: the configuration space changed. */
export const VIRTIO_MMIO_INT_CONFIG = 2;

/** SHMLenLow and SHMLenHigh both read this for a region that does not exist. */
export const VIRTIO_MMIO_SHM_ABSENT = 0xffffffff;

const NAMES: ReadonlyMap<number, string> = new Map([
  [VIRTIO_MMIO_MAGIC_VALUE, 'MagicValue'], [VIRTIO_MMIO_VERSION, 'Version'],
  [VIRTIO_MMIO_DEVICE_ID, 'DeviceID'], [VIRTIO_MMIO_VENDOR_ID, 'VendorID'],
  [VIRTIO_MMIO_DEVICE_FEATURES, 'DeviceFeatures'], [VIRTIO_MMIO_DEVICE_FEATURES_SEL, 'DeviceFeaturesSel'],
  [VIRTIO_MMIO_DRIVER_FEATURES, 'DriverFeatures'], [VIRTIO_MMIO_DRIVER_FEATURES_SEL, 'DriverFeaturesSel'],
  [VIRTIO_MMIO_QUEUE_SEL, 'QueueSel'], [VIRTIO_MMIO_QUEUE_NUM_MAX, 'QueueNumMax'],
  [VIRTIO_MMIO_QUEUE_NUM, 'QueueNum'], [VIRTIO_MMIO_QUEUE_READY, 'QueueReady'],
  [VIRTIO_MMIO_QUEUE_NOTIFY, 'QueueNotify'], [VIRTIO_MMIO_INTERRUPT_STATUS, 'InterruptStatus'],
  [VIRTIO_MMIO_INTERRUPT_ACK, 'InterruptACK'], [VIRTIO_MMIO_STATUS, 'Status'],
  [VIRTIO_MMIO_QUEUE_DESC_LOW, 'QueueDescLow'], [VIRTIO_MMIO_QUEUE_DESC_HIGH, 'QueueDescHigh'],
  [VIRTIO_MMIO_QUEUE_DRIVER_LOW, 'QueueDriverLow'], [VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 'QueueDriverHigh'],
  [VIRTIO_MMIO_QUEUE_DEVICE_LOW, 'QueueDeviceLow'], [VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 'QueueDeviceHigh'],
  [VIRTIO_MMIO_SHM_SEL, 'SHMSel'], [VIRTIO_MMIO_SHM_LEN_LOW, 'SHMLenLow'],
  [VIRTIO_MMIO_SHM_LEN_HIGH, 'SHMLenHigh'], [VIRTIO_MMIO_SHM_BASE_LOW, 'SHMBaseLow'],
  [VIRTIO_MMIO_SHM_BASE_HIGH, 'SHMBaseHigh'], [VIRTIO_MMIO_QUEUE_RESET, 'QueueReset'],
  [VIRTIO_MMIO_CONFIG_GENERATION, 'ConfigGeneration'],
]);

/** A register's name for logs: "QueueNum" or "Config+0x4" or "0x1234". */
export function registerName(offset: number): string {
  const name = NAMES.get(offset);
  if (name !== undefined) return name;
  if (Number.isInteger(offset) && offset >= VIRTIO_MMIO_CONFIG) {
    return `Config+0x${(offset - VIRTIO_MMIO_CONFIG).toString(16)}`;
  }
  return Number.isInteger(offset) && offset >= 0 ? `0x${offset.toString(16)}` : String(offset);
}
