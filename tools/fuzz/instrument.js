// Edge coverage for the fuzzer: the targets, bundled by esbuild into one
// script, get a counter bumped at the start of every block, every branch of
// if/?:/&&/||/??, every case clause, every loop body and every arrow body,
// as istanbul-style instrumenters do. Parsed with the TypeScript compiler
// (a dependency already), rewritten by inserting text at node offsets.
'use strict';
const ts = require('typescript');

const COUNTERS = '__fz';

/** Returns { code, counters }: the instrumented script and its counter count. */
function instrument(source) {
  const sf = ts.createSourceFile('bundle.js', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const edits = []; // { at, text, kind: 0 close | 1 open, seq }
  let seq = 0;
  let n = 0;
  const bump = () => `${COUNTERS}[${n++}]++`;
  const open = (at, text) => edits.push({ at, text, kind: 1, seq: seq++ });
  const close = (at, text) => edits.push({ at, text, kind: 0, seq: seq++ });
  const wrapExpr = (e) => { open(e.getStart(sf), `(${bump()}, `); close(e.end, ')'); };
  const wrapStmt = (s) => {
    if (ts.isBlock(s)) return; // the block itself is counted
    open(s.getStart(sf), `{${bump()}; `); close(s.end, '}');
  };
  const visit = (node) => {
    if (ts.isBlock(node)) {
      // After a directive prologue ("use strict"), which must stay first.
      let at = node.getStart(sf) + 1;
      for (const s of node.statements) {
        if (ts.isExpressionStatement(s) && ts.isStringLiteral(s.expression)) at = s.end; else break;
      }
      open(at, `${bump()};`);
    } else if (ts.isIfStatement(node)) {
      wrapStmt(node.thenStatement);
      if (node.elseStatement && !ts.isIfStatement(node.elseStatement)) wrapStmt(node.elseStatement);
    } else if (ts.isIterationStatement(node, false)) {
      wrapStmt(node.statement);
    } else if (ts.isConditionalExpression(node)) {
      wrapExpr(node.whenTrue);
      wrapExpr(node.whenFalse);
    } else if (ts.isBinaryExpression(node)) {
      const op = node.operatorToken.kind;
      if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken
          || op === ts.SyntaxKind.QuestionQuestionToken) wrapExpr(node.right);
    } else if (ts.isArrowFunction(node) && !ts.isBlock(node.body)) {
      wrapExpr(node.body);
    } else if ((ts.isCaseClause(node) || ts.isDefaultClause(node)) && node.statements.length > 0) {
      open(node.statements[0].getStart(sf), `${bump()}; `);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  // At one offset: closes before opens; opens outer-first, closes inner-first.
  edits.sort((a, b) => a.at - b.at || a.kind - b.kind || (a.kind === 1 ? a.seq - b.seq : b.seq - a.seq));
  let out = '';
  let last = 0;
  for (const e of edits) {
    out += source.slice(last, e.at) + e.text;
    last = e.at;
  }
  out += source.slice(last);
  return { code: `var ${COUNTERS} = globalThis.${COUNTERS};\n${out}`, counters: n };
}

module.exports = { instrument, COUNTERS };
