import { test } from 'uvu';
import * as assert from 'uvu/assert';
test('one', () => assert.ok(true));
test('two', () => assert.ok(true));
test.run();
