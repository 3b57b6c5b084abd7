// The virtio-fs device configuration layout (virtio 1.2 §5.11.4), shared by
// the driver, which decodes it, and the device model, which encodes it.
//
//   struct virtio_fs_config {
//     u8 tag[36];                 // UTF-8, NUL-padded, not NUL-terminated when full
//     le32 num_request_queues;    // >= 1
//   };
//
// notify_buf_size follows only with VIRTIO_FS_F_NOTIFICATION, which neither
// QEMU nor this project offers.

/** Bytes of the tag field. */
export const VIRTIO_FS_TAG_SIZE = 36;
export const VIRTIO_FS_CONFIG_TAG = 0;
export const VIRTIO_FS_CONFIG_NUM_REQUEST_QUEUES = 36;
export const VIRTIO_FS_CONFIG_SIZE = 40;

/** Virtqueue 0: FORGET, BATCH_FORGET, INTERRUPT. Request queues follow it. */
export const VIRTIO_FS_HIPRIO_QUEUE = 0;
export const VIRTIO_FS_FIRST_REQUEST_QUEUE = 1;

/** Shared-memory region id of the DAX cache window (VIRTIO_FS_SHMCAP_ID_CACHE). */
export const VIRTIO_FS_SHMCAP_ID_CACHE = 0;

export class VirtioFsConfigError extends Error {
  constructor(message: string) {
    super(`virtio-fs config: ${message}`);
    this.name = 'VirtioFsConfigError';
  }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** The tag as its config bytes; throws for an empty tag, a NUL or more than 36 bytes. */
export function encodeTag(tag: string): Uint8Array {
  const bytes = utf8.encode(tag);
  if (bytes.length === 0) throw new VirtioFsConfigError('tag is empty');
  if (bytes.length > VIRTIO_FS_TAG_SIZE) {
    throw new VirtioFsConfigError(`tag is ${bytes.length} bytes; at most ${VIRTIO_FS_TAG_SIZE}`);
  }
  if (bytes.includes(0)) throw new VirtioFsConfigError('tag contains a NUL byte');
  const out = new Uint8Array(VIRTIO_FS_TAG_SIZE);
  out.set(bytes);
  return out;
}

/** The whole config space of a device with this tag and this many request queues. */
export function encodeVirtioFsConfig(tag: string, numRequestQueues: number): Uint8Array {
  if (!Number.isInteger(numRequestQueues) || numRequestQueues < 1 || numRequestQueues > 0xffffffff) {
    throw new VirtioFsConfigError(`num_request_queues ${numRequestQueues} is not in 1..2^32-1`);
  }
  const out = new Uint8Array(VIRTIO_FS_CONFIG_SIZE);
  out.set(encodeTag(tag), VIRTIO_FS_CONFIG_TAG);
  new DataView(out.buffer).setUint32(VIRTIO_FS_CONFIG_NUM_REQUEST_QUEUES, numRequestQueues, true);
  return out;
}

/**
 * The tag from its 36 config bytes, as Linux's virtio_fs_read_tag: up to the
 * first NUL, or all 36 bytes. Untrusted: an empty tag or bad UTF-8 is refused.
 */
export function decodeTag(field: Uint8Array): string {
  if (field.length !== VIRTIO_FS_TAG_SIZE) {
    throw new VirtioFsConfigError(`tag field of ${field.length} bytes, want ${VIRTIO_FS_TAG_SIZE}`);
  }
  const nul = field.indexOf(0);
  const bytes = field.subarray(0, nul < 0 ? VIRTIO_FS_TAG_SIZE : nul);
  if (bytes.length === 0) throw new VirtioFsConfigError('empty tag');
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new VirtioFsConfigError('tag is not valid UTF-8');
  }
}
