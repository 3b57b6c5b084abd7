// The host reference: each op applied by node:fs in a small child process
// running as the op's caller (uid, gid, no supplementary groups, umask), so
// the host kernel itself answers EACCES/EPERM for a non-root caller. One
// child per caller, kept for the run; ops go as JSON lines on its stdin.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { byteSum, pattern, type Caller, type Op } from './ops';

// Plain JavaScript: `run(op)`, for the agents (node -e) and, as root, in
// this process; pattern and byteSum are ops.ts's own.
const RUN = `
const fs = require('fs');
const C = fs.constants;
let addon;
try { if (addonFile) addon = require(addonFile); } catch (e) { /* renameat2 flags unavailable */ }
const pattern = (${pattern.toString()});
const byteSum = (${byteSum.toString()});
function withFd(p, flags, mode, fn) {
  const fd = fs.openSync(p, flags, mode);
  try { return fn(fd); } finally { fs.closeSync(fd); }
}
function run(o) {
  switch (o.op) {
    case 'mkdir': fs.mkdirSync(o.path, { mode: o.mode }); return 'ok';
    case 'rmdir': fs.rmdirSync(o.path); return 'ok';
    case 'create':
      fs.closeSync(fs.openSync(o.path, C.O_CREAT | C.O_WRONLY | (o.how === 'excl' ? C.O_EXCL : C.O_TRUNC), o.mode));
      return 'ok';
    case 'write':
      return withFd(o.path, C.O_WRONLY, 0, (fd) => 'ok ' + fs.writeSync(fd, pattern(o.seed, o.len), 0, o.len, o.off));
    case 'truncate':
      // node has no truncate(2): open for writing (the same permission and
      // EISDIR checks), then ftruncate.
      withFd(o.path, C.O_WRONLY, 0, (fd) => fs.ftruncateSync(fd, o.len));
      return 'ok';
    case 'read':
      return withFd(o.path, C.O_RDONLY, 0, (fd) => {
        const b = Buffer.alloc(o.len);
        let n = 0;
        while (n < o.len) { const k = fs.readSync(fd, b, n, o.len - n, o.off + n); if (k === 0) break; n += k; }
        return 'ok ' + n + ' sum=' + byteSum(b.subarray(0, n));
      });
    case 'unlink': fs.unlinkSync(o.path); return 'ok';
    case 'link': fs.linkSync(o.from, o.to); return 'ok';
    case 'symlink': fs.symlinkSync(o.target, o.path); return 'ok';
    case 'rename':
      if (!o.flag) { fs.renameSync(o.from, o.to); return 'ok'; }
      if (!addon) return 'error: renameat2 needs tools/native';
      addon.renameat2(-100, Buffer.from(o.from), -100, Buffer.from(o.to), o.flag === 'noreplace' ? 1 : 2);
      return 'ok';
    case 'chmod': fs.chmodSync(o.path, o.mode); return 'ok';
    case 'chown': fs.chownSync(o.path, o.uid, o.gid); return 'ok';
    case 'stat': fs.lstatSync(o.path); return 'ok';
  }
  return 'error: unknown op ' + o.op;
}
`;

const AGENT = `'use strict';
const cfg = JSON.parse(process.env.HARNESS_AGENT);
process.umask(cfg.umask);
const addonFile = cfg.addon;
${RUN}
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    let r;
    try { r = run(m.op); } catch (e) {
      r = typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) ? e.code : 'error: ' + e.message;
    }
    process.stdout.write(JSON.stringify({ id: m.id, r }) + '\\n');
  }
});
`;

/** tools/native's addon file, if built (renameat2 for the flagged renames). */
function addonFile(): string | undefined {
  for (let d = __dirname; ; d = path.dirname(d)) {
    const f = path.join(d, 'tools', 'native', 'build', 'Release', 'hostcalls.node');
    if (fs.existsSync(f)) return f;
    if (path.dirname(d) === d) return undefined;
  }
}

class Agent {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (r: string) => void>();
  private next = 1;
  private buf = '';
  private dead = '';

  constructor(who: Caller, addon: string | undefined) {
    const ids = who.uid === 0 && who.gid === 0 ? {} : { uid: who.uid, gid: who.gid };
    this.child = spawn(process.execPath, ['-e', AGENT], {
      ...ids, stdio: ['pipe', 'pipe', 'pipe'], cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HARNESS_AGENT: JSON.stringify({ umask: who.umask, addon }) },
    });
    let err = '';
    this.child.stderr!.on('data', (d) => { err = (err + d).slice(-2000); });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(this.buf.slice(0, i)) as { id: number; r: string };
        this.buf = this.buf.slice(i + 1);
        this.waiting.get(m.id)?.(m.r);
        this.waiting.delete(m.id);
      }
    });
    this.child.on('exit', (code, sig) => {
      this.dead = `host agent (uid ${who.uid}) exited (${code ?? sig}): ${err.trim()}`;
      for (const w of this.waiting.values()) w(`error: ${this.dead}`);
      this.waiting.clear();
    });
  }

  run(op: Op): Promise<string> {
    if (this.dead) return Promise.resolve(`error: ${this.dead}`);
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      const { as: _as, ...body } = op;
      this.child.stdin!.write(`${JSON.stringify({ id, op: body })}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}

const errnoOf = (e: unknown) => {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : `error: ${(e as Error).message}`;
};

/** The reference side's callers: root's ops in this process (the umask set
 *  around each), anyone else's in a child per (uid, gid, umask), started on first use. */
export class HostAgents {
  private readonly agents = new Map<string, Agent>();
  private readonly addon = addonFile();
  private local?: (op: unknown) => string;

  /** Applies op (paths already absolute host paths) as `who`; the result or errno name. */
  run(op: Op, who: Caller): Promise<string> {
    if (who.uid === 0 && who.gid === 0) return Promise.resolve(this.runHere(op, who.umask));
    const k = `${who.uid}:${who.gid}:${who.umask}`;
    let a = this.agents.get(k);
    if (!a) { a = new Agent(who, this.addon); this.agents.set(k, a); }
    return a.run(op);
  }

  private runHere(op: Op, umask: number): string {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    this.local ??= new Function('require', 'addonFile', `'use strict';${RUN}\nreturn run;`)(require, this.addon) as (op: unknown) => string;
    const { as: _as, ...body } = op;
    const old = process.umask(umask);
    try { return this.local(body); } catch (e) { return errnoOf(e); } finally { process.umask(old); }
  }

  get renameFlags(): boolean { return this.addon !== undefined; }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }
}
