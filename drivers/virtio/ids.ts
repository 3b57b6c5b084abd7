// Device ids (virtio 1.2 §5) and limits shared by every transport.

export const VIRTIO_ID_FS = 26;

/** Queues a device may have: QEMU's VIRTIO_QUEUE_MAX; QueueSel beyond it is ignored. */
export const VIRTIO_QUEUE_MAX = 1024;

/** Largest queue size the spec allows (§2.7: Queue Size up to 32768). */
export const VIRTQUEUE_MAX_SIZE = 32768;
