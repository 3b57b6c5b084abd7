// The operations the write checks and the random mode apply, one syscall
// each, to the guest and to the host reference alike; their shell form (the
// `op` command of replay.ts) and the results both sides report. Pure.

/** Who calls: uid, gid (no supplementary groups) and umask. */
export interface Caller { uid: number; gid: number; umask: number }

export const ROOT: Caller = { uid: 0, gid: 0, umask: 0o022 };

/** Paths are relative to the attempt's sandbox; "@x/..." is the sandbox on
 *  the other host filesystem (EXDEV checks). */
export type OpBody =
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'rmdir'; path: string }
  /** open(O_CREAT|O_WRONLY|O_EXCL or O_TRUNC, mode), close. */
  | { op: 'create'; path: string; mode: number; how: 'excl' | 'trunc' }
  /** open(O_WRONLY), pwrite(pattern(seed), len, off), close. */
  | { op: 'write'; path: string; off: number; len: number; seed: number }
  /** truncate(2). */
  | { op: 'truncate'; path: string; len: number }
  /** open(O_RDONLY), pread(len, off), close: "ok N sum=X". */
  | { op: 'read'; path: string; off: number; len: number }
  | { op: 'unlink'; path: string }
  | { op: 'link'; from: string; to: string }
  | { op: 'symlink'; target: string; path: string }
  /** rename(2), or renameat2 with a flag. */
  | { op: 'rename'; from: string; to: string; flag?: 'noreplace' | 'exchange' }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'chown'; path: string; uid: number; gid: number }
  /** lstat(2): "ok" or the errno (the tree comparison has the fields). */
  | { op: 'stat'; path: string };

export type Op = OpBody & { as?: Caller };

export type OpName = Op['op'];

const oct = (m: number) => `0${m.toString(8).padStart(3, '0')}`;

/** A word the shell passes through unchanged, quoted when it needs to be. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The op's arguments, as replay.ts's `op` reads them. */
export function opArgs(o: Op): string[] {
  switch (o.op) {
    case 'mkdir': return [o.path, oct(o.mode)];
    case 'rmdir': case 'unlink': case 'stat': return [o.path];
    case 'create': return [o.path, oct(o.mode), o.how];
    case 'write': return [o.path, String(o.off), String(o.len), String(o.seed)];
    case 'truncate': return [o.path, String(o.len)];
    case 'read': return [o.path, String(o.off), String(o.len)];
    case 'link': return [o.from, o.to];
    case 'symlink': return [o.target, o.path];
    case 'rename': return o.flag ? [o.from, o.to, o.flag] : [o.from, o.to];
    case 'chmod': return [o.path, oct(o.mode)];
    case 'chown': return [o.path, String(o.uid), String(o.gid)];
  }
}

/** `op [-u UID:GID] [-m UMASK] NAME ARGS`: one line of a replay script. */
export function formatOp(o: Op): string {
  const who = o.as && (o.as.uid !== 0 || o.as.gid !== 0) ? ` -u ${o.as.uid}:${o.as.gid}` : '';
  const mask = o.as && o.as.umask !== ROOT.umask ? ` -m ${oct(o.as.umask)}` : '';
  return `op${who}${mask} ${o.op} ${opArgs(o).map(shellWord).join(' ')}`;
}

/** The paths an op names (for mapping them onto each side). */
export function opPaths(o: Op): string[] {
  switch (o.op) {
    case 'link': case 'rename': return [o.from, o.to];
    default: return [o.path];
  }
}

/** The same op with its paths replaced. */
export function withPaths(o: Op, map: (p: string) => string): Op {
  switch (o.op) {
    case 'link': case 'rename': return { ...o, from: map(o.from), to: map(o.to) };
    default: return { ...o, path: map(o.path) };
  }
}

/** The bytes a write puts: not repeating within a page, so an offset error shows. */
export function pattern(seed: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 131 + i + (i >>> 8) * 7) & 0xff;
  return b;
}

/** A position-weighted sum of bytes read, mod 2^32 (replay.ts computes the same). */
export function byteSum(b: Uint8Array): string {
  let s = 0;
  for (let i = 0; i < b.length; i++) s = (s + b[i]! * (i + 1)) % 4294967296;
  return s.toString(16).padStart(8, '0');
}

export const readResult = (b: Uint8Array) => `ok ${b.length} sum=${byteSum(b)}`;

/** mulberry32: a small seeded generator, the same sequence everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shell words: whitespace-separated, single quotes as the shell's. */
function words(line: string): string[] {
  const out: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const j = line.indexOf("'", i + 1);
      if (j < 0) throw new Error(`unterminated quote: ${line}`);
      cur = (cur ?? '') + line.slice(i + 1, j);
      i = j;
    } else if (c === '\\' && i + 1 < line.length) {
      cur = (cur ?? '') + line[++i];
    } else if (/\s/.test(c)) {
      if (cur !== undefined) out.push(cur);
      cur = undefined;
    } else {
      cur = (cur ?? '') + c;
    }
  }
  if (cur !== undefined) out.push(cur);
  return out;
}

const num = (s: string | undefined, what: string): number => {
  const n = s !== undefined && /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`${what}: not a number: ${s}`);
  return n;
};
const mode = (s: string | undefined): number => {
  if (s === undefined || !/^0?[0-7]{1,5}$/.test(s)) throw new Error(`mode: not octal: ${s}`);
  return parseInt(s, 8);
};

/** The op of one `formatOp` line (a leading `op` is optional; `# ...` ends it). */
export function parseOp(line: string): Op {
  const w = words(line.replace(/\s#.*$/, ''));
  if (w[0] === 'op') w.shift();
  let as: Caller | undefined;
  while (w[0] === '-u' || w[0] === '-m') {
    const [flag, v] = [w.shift()!, w.shift()];
    as = { ...(as ?? ROOT) };
    if (flag === '-u') {
      const m = /^(\d+):(\d+)$/.exec(v ?? '');
      if (!m) throw new Error(`-u UID:GID, not ${v}`);
      as.uid = Number(m[1]);
      as.gid = Number(m[2]);
    } else {
      as.umask = mode(v);
    }
  }
  const [name, ...a] = w;
  const need = (n: number) => { if (a.length < n) throw new Error(`${name}: ${n} arguments, not ${a.length}: ${line}`); };
  let o: OpBody;
  switch (name) {
    case 'mkdir': need(2); o = { op: 'mkdir', path: a[0]!, mode: mode(a[1]) }; break;
    case 'rmdir': case 'unlink': case 'stat': need(1); o = { op: name, path: a[0]! }; break;
    case 'create': {
      need(3);
      if (a[2] !== 'excl' && a[2] !== 'trunc') throw new Error(`create: excl or trunc, not ${a[2]}`);
      o = { op: 'create', path: a[0]!, mode: mode(a[1]), how: a[2] };
      break;
    }
    case 'write': need(4); o = { op: 'write', path: a[0]!, off: num(a[1], 'offset'), len: num(a[2], 'length'), seed: num(a[3], 'seed') }; break;
    case 'truncate': need(2); o = { op: 'truncate', path: a[0]!, len: num(a[1], 'length') }; break;
    case 'read': need(3); o = { op: 'read', path: a[0]!, off: num(a[1], 'offset'), len: num(a[2], 'length') }; break;
    case 'link': need(2); o = { op: 'link', from: a[0]!, to: a[1]! }; break;
    case 'symlink': need(2); o = { op: 'symlink', target: a[0]!, path: a[1]! }; break;
    case 'rename': {
      need(2);
      const flag = a[2];
      if (flag !== undefined && flag !== 'noreplace' && flag !== 'exchange') throw new Error(`rename: noreplace or exchange, not ${flag}`);
      o = flag ? { op: 'rename', from: a[0]!, to: a[1]!, flag } : { op: 'rename', from: a[0]!, to: a[1]! };
      break;
    }
    case 'chmod': need(2); o = { op: 'chmod', path: a[0]!, mode: mode(a[1]) }; break;
    case 'chown': need(3); o = { op: 'chown', path: a[0]!, uid: num(a[1], 'uid'), gid: num(a[2], 'gid') }; break;
    default: throw new Error(`unknown op: ${name ?? '(none)'}`);
  }
  return as ? { ...o, as } : o;
}

/** The comment of a scenario line: the result the host is expected to give. */
export function expectedOf(line: string): string | undefined {
  const m = /\s#\s*(.+?)\s*$/.exec(line);
  return m ? m[1] : undefined;
}
