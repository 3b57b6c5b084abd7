// The shell's keyboard: completion of the word under the cursor as bash does
// it (candidates listed by name, escaped as the line splitter reads them),
// and history kept across sessions.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Vfs } from '../../core/vfs';
import { splitCommands } from '../../tools/guest/args';
import type { ShellContext } from '../../tools/guest/commands';
import { interactive } from '../../tools/guest/shell';
import { complete, escapeName, HISTORY_SIZE, loadHistory, saveHistoryLine, wordAtCursor } from '../../tools/guest/shell-input';

const t = suite('guest shell input');

/** A share of a few names; readdirAll is all completion asks of it. */
const TREE: Record<string, { name: string; type: number }[]> = {
  '/': [{ name: 'docs', type: 4 }, { name: 'data file', type: 8 }, { name: 'data.bin', type: 8 }, { name: '.hidden', type: 8 }],
  '/docs': [{ name: 'notes.md', type: 8 }, { name: 'nested', type: 4 }],
};
function ctx(cwd = '/'): ShellContext {
  const vfs = { readdirAll: async (p: string) => { const e = TREE[p]; if (!e) throw new Error('ENOENT'); return e; } } as unknown as Vfs;
  return { vfs, tag: 't', windowSize: 0, dax: async () => undefined, json: false, cwd, out: { write() {} }, names: new Map() };
}

t('the word under the cursor, as the line splitter reads it', () => {
  assert.equal(wordAtCursor('cat /docs/no'), { start: 4, raw: '/docs/no', text: '/docs/no', quote: null, first: false });
  assert.equal(wordAtCursor('ls; ca').first, true, 'after ; a command name');
  assert.equal(wordAtCursor('cat data\\ f').text, 'data f');
  assert.equal(wordAtCursor('cat "data f').quote, '"');
  assert.equal(wordAtCursor('cat x ').raw, '', 'after a blank: a new, empty word');
  for (const name of ['data file', "it's", 'a;b', 'back\\slash', 'p|q']) {
    assert.equal(splitCommands(`cat ${escapeName(name, null)}`), [['cat', name]], name);
    assert.equal(splitCommands(`cat "${escapeName(name, '"')}"`), [['cat', name]], `"${name}"`);
  }
});

t('names, not whole paths: the candidates are the last component, each replacing only it', async () => {
  assert.equal(await complete(ctx(), 'cat /docs/n'), [['nested/', 'notes.md'], 'n']);
  assert.equal(await complete(ctx(), 'cat /docs/no'), [['notes.md '], 'no'], 'one file: its name and a space, as bash');
  assert.equal(await complete(ctx(), 'ls do'), [['docs/'], 'do'], 'one directory: its name and a slash');
  assert.equal(await complete(ctx(), 'cat data'), [['data\\ file', 'data.bin'], 'data'], 'a blank escaped');
  assert.equal(await complete(ctx(), 'cat "data f'), [['data file" '], 'data f'], 'inside quotes: closed after');
  assert.equal(await complete(ctx('/docs'), 'cat ../d'), [['data\\ file', 'data.bin', 'docs/'], 'd'], 'against the cwd');
  assert.equal((await complete(ctx(), 'cat '))[0].includes('.hidden'), false, 'dotfiles only for a dot prefix');
  assert.equal(await complete(ctx(), 'cat .h'), [['.hidden '], '.h']);
  assert.equal(await complete(ctx(), 'cat /nope/x'), [[], 'x']);
  assert.equal(await complete(ctx(), 'rea'), [['readlink '], 'rea'], 'a command name first');
  assert.equal(await complete(ctx(), 'ls /docs; tre'), [['tree '], 'tre']);
});

t('history across sessions: every line appended as entered, read back newest first, trimmed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hist-'));
  try {
    const file = path.join(dir, '.virtiofs_history');
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    const c = ctx();
    const done = interactive(c, input, output, { historyFile: file });
    input.end('pwd\n\npwd\nhelp\n');
    await done;
    assert.is(fs.readFileSync(file, 'utf8'), 'pwd\nhelp\n', 'no blank lines, no repeat of the line before');
    assert.equal(loadHistory(file), ['help', 'pwd'], "node:readline's order, newest first");
    fs.writeFileSync(file, Array.from({ length: 2 * HISTORY_SIZE + 5 }, (_, i) => `cmd ${i}`).join('\n') + '\n');
    const h = loadHistory(file);
    assert.is(h.length, HISTORY_SIZE);
    assert.is(h[0], `cmd ${2 * HISTORY_SIZE + 4}`);
    assert.is(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length, HISTORY_SIZE, 'trimmed on disk too');
    saveHistoryLine(undefined, 'x', undefined);
    assert.equal(loadHistory(path.join(dir, 'none')), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
