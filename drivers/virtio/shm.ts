// A virtio shared-memory region (virtio 1.2 §2.10): where it sits in
// guest-physical memory and how long it is (the SHMBase and SHMLen
// registers). Region 0 of a virtio-fs device is the DAX cache window: the one
// shape for it everywhere, as the driver finds it, as the device model offers
// it, and as the wire's WELCOME carries it.
export interface SharedMemoryRegion {
  readonly base: number;
  readonly len: number;
}
