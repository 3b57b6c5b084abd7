// What the vhost-user socket tests share: unix listeners that refuse (a
// socket file bound but never listening, as virtiofsd's is for a moment),
// keep their backlog full (a connect gets EAGAIN), or run a Python script
// as an independent peer (its socket module receives SCM_RIGHTS); and the
// count of this process's open fds.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as readline from 'node:readline';

/** A unix socket file that is bound but never listens: connect is refused. */
export function boundNotListening(p: string): void {
  execFileSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', p]);
}

/** This process's open fds. */
export function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** A Python peer: `script` runs with sys.argv[1] = arg and prints lines. */
export class PythonPeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private exited = false;

  constructor(script: string, arg: string) {
    this.child = spawn('python3', ['-c', script, arg], { stdio: ['pipe', 'pipe', 'pipe'] });
    readline.createInterface({ input: this.child.stdout }).on('line', (l) => { this.lines.push(l); this.waiter?.(); });
    let err = '';
    this.child.stderr.on('data', (d) => { err += d; });
    // 'close', not 'exit': its pipes are closed too then (the fd counts see them).
    this.child.on('close', (code) => {
      this.exited = true;
      if (code) this.lines.push(`python exited ${code}: ${err}`);
      this.waiter?.();
    });
  }

  /** The next line it prints (its exit and stderr, if it ends first). */
  async line(): Promise<string> {
    while (!this.lines.length) {
      if (this.exited) throw new Error('the python peer ended');
      await new Promise<void>((r) => { this.waiter = r; });
    }
    return this.lines.shift()!;
  }

  /** Ends it (closing its stdin, which it reads to EOF) and waits for its exit. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('close', r));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

/** A listener at `p` whose backlog is full (listen(0), one connection
 *  queued, none accepted): every connect gets EAGAIN until it is stopped. */
export async function backlogFull(p: string): Promise<PythonPeer> {
  const peer = new PythonPeer(`
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(0)
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])
print('ready', flush=True)
sys.stdin.read()
`, p);
  const l = await peer.line();
  if (l !== 'ready') throw new Error(l);
  return peer;
}
