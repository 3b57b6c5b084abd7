// Feature negotiation on the device side of virtio-mmio: the 32-bit words of
// DeviceFeatures and DriverFeatures behind their selectors, and the check made
// when the driver sets FEATURES_OK (QEMU's virtio_set_features and
// virtio_validate_features, stricter where said).

import {
  VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_VERSION_1, VIRTIO_FEATURES_MASK, formatFeatures, hasFeature,
} from '../virtio/features';

/** A 64-bit value as its low and high 32-bit register words. */
export function u64Words(v: bigint | number, what: string): [number, number] {
  const b = BigInt(v);
  if (b < 0n || b > VIRTIO_FEATURES_MASK) throw new RangeError(`${what} out of 64-bit range`);
  return [Number(b & 0xffffffffn), Number(b >> 32n)];
}

export class MmioFeatures {
  /** Accepted by the driver (valid once FEATURES_OK stuck); 0 before. */
  negotiated = 0n;
  deviceSel = 0;
  driverSel = 0;
  private readonly offeredLo: number;
  private readonly offeredHi: number;
  private driverLo = 0;
  private driverHi = 0;

  constructor(readonly offered: bigint, private readonly validate?: (features: bigint) => boolean) {
    [this.offeredLo, this.offeredHi] = u64Words(offered, 'features');
  }

  /** DeviceFeatures: words beyond the 64 bits we offer read 0 (QEMU folds
   *  any non-zero selector into word 1; the spec says higher words are 0). */
  deviceWord(): number {
    return this.deviceSel === 0 ? this.offeredLo : this.deviceSel === 1 ? this.offeredHi : 0;
  }

  /** DriverFeatures; a refusal as a message. */
  setDriverWord(v: number, featuresOk: boolean): string | undefined {
    // QEMU stages DriverFeatures and applies them when FEATURES_OK is written;
    // once FEATURES_OK is set virtio_set_features refuses (-EINVAL), so a
    // late write can never change the negotiated set. We drop it at once.
    if (featuresOk) return 'DriverFeatures written after FEATURES_OK: ignored';
    if (this.driverSel === 0) this.driverLo = v;
    else if (this.driverSel === 1) this.driverHi = v;
    else if (v !== 0) return `DriverFeatures word ${this.driverSel} = 0x${v.toString(16)}: no such features`;
    return undefined;
  }

  /** FEATURES_OK: accept the staged words, or say why not (nothing changes). */
  accept(): string | undefined {
    const wanted = BigInt(this.driverLo) | (BigInt(this.driverHi) << 32n);
    const refusal = this.check(wanted);
    if (refusal) return `FEATURES_OK refused for ${formatFeatures(wanted)}: ${refusal}`;
    this.negotiated = wanted;
    return undefined;
  }

  has(bit: number): boolean { return hasFeature(this.negotiated, bit); }

  reset(): void {
    this.negotiated = 0n;
    this.deviceSel = this.driverSel = this.driverLo = this.driverHi = 0;
  }

  private check(wanted: bigint): string | undefined {
    // QEMU masks unoffered bits and carries on (virtio_set_features' "bad"
    // result is ignored by virtio-mmio); we refuse instead, as the spec lets a
    // device do (§2.2, §3.1.1 step 5-6), so a driver bug surfaces at once.
    const extra = wanted & ~this.offered;
    if (extra !== 0n) return `not offered: ${formatFeatures(extra)}`;
    // A modern transport needs VERSION_1 (§6.1: the device MAY fail without it).
    if (hasFeature(this.offered, VIRTIO_F_VERSION_1) && !hasFeature(wanted, VIRTIO_F_VERSION_1)) {
      return 'VIRTIO_F_VERSION_1 not accepted';
    }
    // QEMU virtio_validate_features: offered ACCESS_PLATFORM must be accepted.
    if (hasFeature(this.offered, VIRTIO_F_ACCESS_PLATFORM) && !hasFeature(wanted, VIRTIO_F_ACCESS_PLATFORM)) {
      return 'VIRTIO_F_ACCESS_PLATFORM not accepted';
    }
    // QEMU k->validate_features: the device model's own rule.
    if (this.validate && !this.validate(wanted)) return 'rejected by the device';
    return undefined;
  }
}
