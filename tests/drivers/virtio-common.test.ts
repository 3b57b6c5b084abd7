// The shared virtio constants carry the spec's values (virtio 1.2 §2.1, §6).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../drivers/virtio/features';
import * as S from '../../drivers/virtio/status';
import { VIRTIO_ID_FS } from '../../drivers/virtio/ids';
import * as R from '../../drivers/virtio-mmio/registers';

const t = suite('virtio-common');

t('status bits and their description', () => {
  assert.equal(
    [S.VIRTIO_STATUS_ACKNOWLEDGE, S.VIRTIO_STATUS_DRIVER, S.VIRTIO_STATUS_DRIVER_OK, S.VIRTIO_STATUS_FEATURES_OK,
      S.VIRTIO_STATUS_DEVICE_NEEDS_RESET, S.VIRTIO_STATUS_FAILED],
    [1, 2, 4, 8, 64, 128]);
  assert.is(S.describeStatus(0), '0');
  assert.is(S.describeStatus(1 | 2 | 8 | 4), 'ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK');
  assert.is(S.describeStatus(64 | 16), 'DEVICE_NEEDS_RESET|0x10');
});

t('feature bits as bigint masks', () => {
  assert.equal(
    [F.VIRTIO_RING_F_INDIRECT_DESC, F.VIRTIO_RING_F_EVENT_IDX, F.VIRTIO_F_VERSION_1, F.VIRTIO_F_ACCESS_PLATFORM,
      F.VIRTIO_F_RING_PACKED, F.VIRTIO_F_RING_RESET],
    [28, 29, 32, 33, 34, 40]);
  assert.is(F.feature(F.VIRTIO_F_VERSION_1), 0x1_0000_0000n);
  assert.ok(F.hasFeature(0x1_2000_0000n, F.VIRTIO_RING_F_EVENT_IDX));
  assert.not.ok(F.hasFeature(0x1_0000_0000n, F.VIRTIO_RING_F_INDIRECT_DESC));
  assert.is(F.formatFeatures(0x1_0000_0000n), '0x100000000');
  assert.is(VIRTIO_ID_FS, 26);
});

t('virtio-mmio register offsets and names', () => {
  assert.equal(
    [R.VIRTIO_MMIO_QUEUE_READY, R.VIRTIO_MMIO_STATUS, R.VIRTIO_MMIO_QUEUE_DEVICE_HIGH, R.VIRTIO_MMIO_SHM_SEL,
      R.VIRTIO_MMIO_SHM_BASE_HIGH, R.VIRTIO_MMIO_QUEUE_RESET, R.VIRTIO_MMIO_CONFIG_GENERATION, R.VIRTIO_MMIO_CONFIG],
    [0x44, 0x70, 0xa4, 0xac, 0xbc, 0xc0, 0xfc, 0x100]);
  assert.is(R.registerName(0x38), 'QueueNum');
  assert.is(R.registerName(0x124), 'Config+0x24');
  assert.is(R.registerName(0x0f0), '0xf0');
  assert.is(R.registerName(-1), '-1');
});

t.run();
