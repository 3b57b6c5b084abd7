import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Errno, ErrnoError, MAX_ERRNO, errnoName } from '../../core/errno';

const t = suite('errno');

t('values are Linux’s', () => {
  assert.is(Errno.EPERM, 1);
  assert.is(Errno.ENOENT, 2);
  assert.is(Errno.EIO, 5);
  assert.is(Errno.EINVAL, 22);
  assert.is(Errno.ENOSPC, 28);
  assert.is(Errno.ENOSYS, 38);
  assert.is(Errno.ENODATA, 61);
  assert.is(Errno.EOPNOTSUPP, 95);
  assert.is(Errno.ETIMEDOUT, 110);
  assert.is(MAX_ERRNO, 4095);
});

t('every number has one name, and errnoName inverts the table', () => {
  const seen = new Set<number>();
  for (const [name, v] of Object.entries(Errno)) {
    assert.ok(Number.isInteger(v) && v > 0 && v <= MAX_ERRNO, name);
    assert.not.ok(seen.has(v), `duplicate number ${v}`);
    seen.add(v);
    assert.is(errnoName(v), name);
  }
});

t('unknown numbers get a stable made-up name', () => {
  assert.is(errnoName(123), 'E123');
  assert.is(errnoName(0), 'E0');
  assert.is(errnoName(4095), 'E4095');
});

t('ErrnoError carries errno, code and message', () => {
  const e = new ErrnoError(Errno.ENOENT, 'no such file: /a');
  assert.instance(e, Error);
  assert.instance(e, ErrnoError);
  assert.is(e.name, 'ErrnoError');
  assert.is(e.errno, 2);
  assert.is(e.code, 'ENOENT');
  assert.is(e.message, 'ENOENT: no such file: /a');
  const bare = new ErrnoError(Errno.EIO);
  assert.is(bare.message, 'EIO');
  const odd = new ErrnoError(777);
  assert.is(odd.code, 'E777');
  assert.is(odd.errno, 777);
});

t.run();
