// Every struct table, opcode and flag of fs/fuse held against Linux's own
// include/uapi/linux/fuse.h: a C program built against the header prints
// sizeof, offsetof and each constant, and the tables must agree.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as F from '../../../fs/fuse';

const HEADER = '/usr/include/linux/fuse.h';
const t = suite('fuse.h: the tables against the real header');

type AnyLayout = F.StructLayout<unknown>;

function layouts(): AnyLayout[] {
  return (Object.values(F) as unknown[]).filter((v): v is AnyLayout => v instanceof F.StructLayout);
}

/** (C expression, what our table says) pairs for one struct. */
function claims(l: AnyLayout): Array<[string, number]> {
  const out: Array<[string, number]> = [[`sizeof(struct ${l.cName})`, l.size]];
  for (const f of l.fields) {
    out.push([`offsetof(struct ${l.cName}, ${f.c ?? f.name})`, f.offset]);
    const width = typeof f.type === 'string' ? ({ u16: 2, u32: 4, i32: 4, u64: 8, u64split: 4 } as const)[f.type] : f.type.size;
    out.push([`sizeof(((struct ${l.cName} *)0)->${f.c ?? f.name})`, width]);
    if (f.hi) out.push([`offsetof(struct ${l.cName}, ${f.hi.c})`, f.hi.offset]);
    if (typeof f.type !== 'string') out.push([`(int)sizeof(struct ${f.type.cName})`, f.type.size]);
  }
  return out;
}

/** Our exported numeric constants that the header also names. */
function constants(headerText: string): Array<[string, bigint]> {
  const out: Array<[string, bigint]> = [];
  for (const [k, v] of Object.entries(F)) {
    if (!/^(FUSE|FATTR|FOPEN)_[A-Z0-9_]+$/.test(k) || (typeof v !== 'number' && typeof v !== 'bigint')) continue;
    if (!new RegExp(`\\b${k}\\b`).test(headerText)) continue;
    // (1 << 31) in the header is an int: compare 32-bit constants as u32.
    out.push([BigInt(v) < 2n ** 32n ? `(unsigned int)(${k})` : k, BigInt(v)]);
  }
  return out;
}

/** Runs the C program; returns expression -> value. */
function ask(exprs: string[]): Map<string, bigint> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuse-h-'));
  try {
    const lines = exprs.map((e) => `  printf("%llu\\n", (unsigned long long)(${e}));`);
    const src = `#define PAGE_SIZE 4096 /* FUSE_REMOVEMAPPING_MAX_ENTRY is in pages */\n#include <stddef.h>\n#include <stdio.h>\n#include <linux/fuse.h>\nint main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`;
    fs.writeFileSync(path.join(dir, 'p.c'), src);
    execFileSync('cc', ['-o', path.join(dir, 'p'), path.join(dir, 'p.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const vals = execFileSync(path.join(dir, 'p'), { encoding: 'utf8' }).trim().split('\n');
    return new Map(exprs.map((e, i) => [e, BigInt(vals[i]!)]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function mismatches(pairs: Array<[string, bigint]>, got: Map<string, bigint>): string[] {
  return pairs.filter(([e, want]) => got.get(e) !== want).map(([e, want]) => `${e}: ours ${want}, fuse.h ${got.get(e)}`);
}

t('the header and a C compiler are here', () => {
  assert.ok(fs.existsSync(HEADER), `${HEADER} is missing: install Debian's linux-libc-dev (.ci/run does)`);
  const minor = ask(['FUSE_KERNEL_MINOR_VERSION']).get('FUSE_KERNEL_MINOR_VERSION')!;
  assert.ok(minor >= 38n, `fuse.h is protocol 7.${minor}; the tables are 7.38`);
});

t('every struct table: sizeof, offsetof and width of each field', () => {
  const all = layouts();
  assert.ok(all.length >= 40, `${all.length} tables`);
  const pairs = all.flatMap(claims).map(([e, v]): [string, bigint] => [e, BigInt(v)]);
  assert.equal(mismatches(pairs, ask(pairs.map(([e]) => e))), []);
});

t('fuse_init_out.map_alignment at 30 and flags2 at 32; fuse_init_in.flags2 at 16', () => {
  const got = ask(['offsetof(struct fuse_init_out, map_alignment)', 'offsetof(struct fuse_init_out, flags2)',
    'offsetof(struct fuse_init_in, flags2)']);
  assert.equal([...got.values()], [30n, 32n, 16n]);
  const out = F.fuseInitOut.fields.find((f) => f.name === 'map_alignment')!;
  assert.is(out.offset, 30);
  assert.is(F.fuseInitOut.fields.find((f) => f.name === 'flags')!.hi!.offset, 32);
  assert.is(F.fuseInitIn.fields.find((f) => f.name === 'flags')!.hi!.offset, 16);
});

t('opcodes and flag bits have the header values', () => {
  const text = fs.readFileSync(HEADER, 'utf8');
  const pairs = constants(text);
  for (const k of ['FUSE_LOOKUP', 'FUSE_SETUPMAPPING', 'FUSE_HAS_INODE_DAX', 'FUSE_ATTR_DAX', 'FATTR_SIZE', 'FOPEN_KEEP_CACHE']) {
    assert.ok(pairs.some(([n]) => n.includes(`(${k})`) || n === k), `${k} checked`);
  }
  assert.equal(mismatches(pairs, ask(pairs.map(([e]) => e))), []);
});

t('a wrong table is caught (the check can fail)', () => {
  const wrong = new F.StructLayout<{ fh: bigint; flags: number }>('fuse_release_in', 24, {
    fh: { offset: 0, type: 'u64' }, flags: { offset: 12, type: 'u32' }, // flags is at 8
  });
  const pairs = claims(wrong as AnyLayout).map(([e, v]): [string, bigint] => [e, BigInt(v)]);
  assert.equal(mismatches(pairs, ask(pairs.map(([e]) => e))), ['offsetof(struct fuse_release_in, flags): ours 12, fuse.h 8']);
});

t.run();
