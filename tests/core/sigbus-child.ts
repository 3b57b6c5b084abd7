// Third process for memory-mapped.test.ts: with the mapping addon loaded
// (its SIGBUS handler installed), does a SIGBUS outside a guarded copy still
// end the process as Node's default would?
//   load <file>  map the file, truncate it to 0, then touch the mapping
//                with a plain JavaScript load (never caught: dies by SIGBUS)
//   wait         print "ready" and wait to be sent a signal
import * as fs from 'node:fs';
import { mmapAddon } from '../../core/native/mmap.node';

const addon = mmapAddon;
if (!addon) { process.stdout.write('no addon\n'); process.exit(2); }
const [mode, file] = process.argv.slice(2);
if (mode === 'load') {
  const fd = fs.openSync(file!, 'r+');
  const view = new Uint8Array(addon.mmap(fd, 0, 4096, true));
  // A guarded copy first: caught, so the handler is ours and live.
  fs.ftruncateSync(fd, 0);
  const d = new Uint8Array(16);
  process.stdout.write(`guarded ${addon.copyFrom(view.buffer as ArrayBuffer, 0, d)}\n`);
  process.stdout.write(`unguarded ${view[0]}\n`); // SIGBUS here
} else {
  process.stdout.write('ready\n');
  setInterval(() => {}, 1000);
}
