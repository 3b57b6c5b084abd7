// The harness's verdict: do the backends agree, and the table and JSON a
// person and a machine read.

import { formatMismatch } from './compare';
import { splitScript } from './replay';
import type { Agreement, BackendReport, HarnessReport } from './result';

/** Checks every backend passed, named differences, and checks answered differently. */
export function agreementOf(backends: readonly BackendReport[]): Agreement {
  const names: string[] = [];
  for (const b of backends) for (const c of b.checks) if (!names.includes(c.check)) names.push(c.check);
  const agreement: Agreement = { agreed: 0, expected: [], disagreements: [] };
  for (const name of names) {
    const rows = backends.map((b) => ({ b, r: b.checks.find((c) => c.check === name) }));
    const missing = rows.filter((x) => !x.r).map((x) => x.b.backend);
    if (missing.length) { agreement.disagreements.push(`${name}: not run by ${missing.join(', ')}`); continue; }
    const statuses = rows.map((x) => x.r!.status);
    if (statuses.every((s) => s === 'pass')) { agreement.agreed++; continue; }
    if (statuses.includes('fail')) {
      const verdicts = rows.map((x) => `${x.b.backend} ${x.r!.status}`).join(', ');
      agreement.disagreements.push(statuses.every((s) => s === 'fail') ? `${name}: every backend fails` : `${name}: ${verdicts}`);
      continue;
    }
    for (const { b, r } of rows) {
      if (r!.status !== 'expected') continue;
      const line = `${b.backend}: ${r!.expected ?? r!.details}`;
      if (!agreement.expected.includes(line)) agreement.expected.push(line);
    }
  }
  return agreement;
}

export function buildReport(sharedDir: string, backends: BackendReport[]): HarnessReport {
  const agreement = backends.length > 1 ? agreementOf(backends) : undefined;
  const ok = backends.length > 0
    && backends.every((b) => b.checks.length > 0 && b.checks.every((c) => c.status !== 'fail'))
    && (!agreement || agreement.disagreements.length === 0);
  return { sharedDir, backends, ...(agreement ? { agreement } : {}), ok };
}

const MAX_SHOWN = 5;

/** One table per backend: check, result, details; mismatches under a failed row. */
export function formatTable(report: HarnessReport): string {
  const lines: string[] = [];
  let preamble = '';
  for (const b of report.backends) {
    lines.push(`== ${b.backend}: ${b.description} (${(b.durationMs / 1000).toFixed(1)} s)`);
    const w = Math.max(5, ...b.checks.map((c) => c.check.length));
    lines.push(`${'check'.padEnd(w)}  result    details`);
    lines.push(`${'-'.repeat(w)}  --------  ${'-'.repeat(7)}`);
    for (const c of b.checks) {
      const result = c.status === 'fail' ? 'FAIL' : c.status;
      lines.push(`${c.check.padEnd(w)}  ${result.padEnd(8)}  ${c.details}`);
      for (const m of c.mismatches.slice(0, MAX_SHOWN)) lines.push(`${' '.repeat(w + 12)}${formatMismatch(m)}`);
      if (c.mismatches.length > MAX_SHOWN) lines.push(`${' '.repeat(w + 12)}... ${c.mismatches.length - MAX_SHOWN} more mismatches`);
      if (c.status === 'fail' && c.repro) {
        const { preamble: p, body } = splitScript(c.repro);
        preamble ||= p;
        lines.push(`${' '.repeat(w + 12)}reproduction (bash, after the op command printed at the end; --json has whole scripts):`);
        for (const l of body.split('\n')) lines.push(`${' '.repeat(w + 14)}${l}`);
      }
    }
    lines.push('');
  }
  const a = report.agreement;
  if (a) {
    lines.push(`== agreement of ${report.backends.map((b) => b.backend).join(' and ')}`);
    lines.push(`${a.agreed} checks passed by every backend`);
    for (const e of a.expected) lines.push(`expected difference: ${e}`);
    for (const d of a.disagreements) lines.push(`DISAGREE: ${d}`);
    lines.push('');
  }
  if (preamble) lines.push('== the op command of the reproductions above (bash)', preamble, '');
  const failed = report.backends.reduce((n, b) => n + b.checks.filter((c) => c.status === 'fail').length, 0);
  lines.push(report.ok ? 'harness: PASS' : `harness: FAIL (${failed} failed checks${a?.disagreements.length ? `, ${a.disagreements.length} disagreements` : ''})`);
  return `${lines.join('\n')}\n`;
}

/** The report as JSON (u64 inode numbers as strings). */
export function formatJson(report: HarnessReport): string {
  return `${JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}
