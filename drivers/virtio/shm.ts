// A virtio shared-memory region (virtio 1.2 §2.10) as the driver found it:
// where it sits in guest-physical memory and how long it is. Region 0 of a
// virtio-fs device is the DAX cache window.
export interface SharedMemoryRegion {
  readonly base: number;
  readonly len: number;
}
