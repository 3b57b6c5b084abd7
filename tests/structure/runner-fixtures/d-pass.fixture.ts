import { test } from 'uvu';
import * as assert from 'uvu/assert';
test('after a crash, still counted', () => assert.ok(true));
test.run();
