// Dies before uvu prints its summary: the runner must still count it.
import { test } from 'uvu';
test('never reported', () => { setImmediate(() => process.exit(3)); return new Promise(() => {}); });
test.run();
