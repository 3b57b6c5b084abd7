// Second process for the memory suite: opens the guest RAM file named in
// argv[2] with openRam (mapped when sealed and the addon is built, else
// positioned I/O) and obeys one command per stdin line, answering one line
// on stdout:
//   kind                      -> mapped | positioned
//   write <gpa> <len> <seed>  -> ok      (pattern byte i = (i*31+seed)&255)
//   read <gpa> <len>          -> <hex>
//   setu64 <gpa> <value>      -> ok
//   u64 <gpa>                 -> <value>
// Anything else, or an error, answers "error <message>".
import * as readline from 'node:readline';
import { GuestMemory } from '../../core/memory';
import { openRam, ramIsMapped } from '../../core/ram.node';

const backing = openRam(process.argv[2]!);
const mem = new GuestMemory();
mem.addRegion('ram', 0, backing);

function run(line: string): string {
  const [cmd, ...a] = line.trim().split(/\s+/);
  const n = (i: number) => Number(a[i]);
  switch (cmd) {
    case 'kind': return ramIsMapped(backing) ? 'mapped' : 'positioned';
    case 'write': {
      const p = new Uint8Array(n(1));
      for (let i = 0; i < p.length; i++) p[i] = (i * 31 + n(2)) & 0xff;
      mem.write(n(0), p);
      return 'ok';
    }
    case 'read': return Buffer.from(mem.read(n(0), n(1))).toString('hex');
    case 'setu64': mem.setU64(n(0), BigInt(a[1]!)); return 'ok';
    case 'u64': return mem.u64(n(0)).toString();
    default: return `error unknown command ${cmd}`;
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let out: string;
  try { out = run(line); } catch (e) { out = `error ${(e as Error).message}`; }
  process.stdout.write(`${out}\n`);
});
rl.on('close', () => { backing.close(); });
process.stdout.write('ready\n');
