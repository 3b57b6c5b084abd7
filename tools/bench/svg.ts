// Grouped bar chart as hand-written SVG: one group per matrix row, one bar
// per path, log-scale y axis (DAX and FUSE_READ differ by an order of
// magnitude or more), value on each bar, legend, no dependency.

import { PATH_LABEL } from './job';
import type { MatrixLine } from './matrix';
import { fmtNum, fmtRatio } from './report';

export interface BarSeries { name: string; color: string }
export interface BarGroup { label: string; values: (number | undefined)[]; note?: string }
export interface BarChart { title: string; subtitle?: string; yLabel: string; series: BarSeries[]; groups: BarGroup[] }

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const BAR = 22;
const GROUP_GAP = 26;
const LEFT = 74;
const TOP = 70;
const PLOT_H = 300;
const BOTTOM = 70;

export function barChartSvg(c: BarChart): string {
  const values = c.groups.flatMap((g) => g.values).filter((v): v is number => v !== undefined && v > 0 && Number.isFinite(v));
  const lo = Math.pow(10, Math.floor(Math.log10(values.length ? Math.min(...values) : 1)));
  const hi = Math.pow(10, Math.max(Math.ceil(Math.log10(values.length ? Math.max(...values) : 10)), Math.log10(lo) + 1));
  const y = (v: number) => TOP + PLOT_H - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT_H;
  const groupW = c.series.length * BAR + GROUP_GAP;
  const width = LEFT + c.groups.length * groupW + 30;
  const height = TOP + PLOT_H + BOTTOM;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${escapeXml(c.title)}</text>`);
  if (c.subtitle) out.push(`<text x="${LEFT}" y="40" fill="#555555">${escapeXml(c.subtitle)}</text>`);
  // Grid and y axis: one line per decade, labelled.
  out.push('<g class="y-axis">');
  for (let d = Math.log10(lo); d <= Math.log10(hi) + 1e-9; d++) {
    const v = Math.pow(10, d);
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${LEFT}" y1="${yy}" x2="${width - 20}" y2="${yy}" stroke="#dddddd"/>`);
    out.push(`<text x="${LEFT - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${escapeXml(fmtNum(v))}</text>`);
  }
  out.push(`<line x1="${LEFT}" y1="${TOP}" x2="${LEFT}" y2="${TOP + PLOT_H}" stroke="#333333"/>`);
  out.push(`<line x1="${LEFT}" y1="${TOP + PLOT_H}" x2="${width - 20}" y2="${TOP + PLOT_H}" stroke="#333333"/>`);
  out.push(`<text transform="translate(18 ${TOP + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(c.yLabel)}</text>`);
  out.push('</g>');
  // Bars.
  c.groups.forEach((g, gi) => {
    const x0 = LEFT + GROUP_GAP / 2 + gi * groupW;
    out.push(`<g class="group" data-label="${escapeXml(g.label)}">`);
    g.values.forEach((v, si) => {
      if (v === undefined || !(v > 0)) return;
      const s = c.series[si]!;
      const x = x0 + si * BAR;
      const top = y(v);
      out.push(`<rect class="bar" data-series="${escapeXml(s.name)}" x="${x}" y="${top.toFixed(1)}" width="${BAR - 2}" height="${(TOP + PLOT_H - top).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${g.label} ${s.name}: ${fmtNum(v)}`)}</title></rect>`);
      out.push(`<text x="${x + (BAR - 2) / 2}" y="${(top - 3).toFixed(1)}" text-anchor="middle" font-size="8">${escapeXml(fmtNum(v))}</text>`);
    });
    const cx = x0 + (c.series.length * BAR) / 2;
    const [first, ...rest] = g.label.split('-');
    out.push(`<text x="${cx}" y="${TOP + PLOT_H + 16}" text-anchor="middle">${escapeXml(first ?? '')}</text>`);
    if (rest.length) out.push(`<text x="${cx}" y="${TOP + PLOT_H + 29}" text-anchor="middle">${escapeXml(rest.join('-'))}</text>`);
    if (g.note) out.push(`<text x="${cx}" y="${TOP + PLOT_H + 44}" text-anchor="middle" fill="#555555" font-size="10">${escapeXml(g.note)}</text>`);
    out.push('</g>');
  });
  // Legend, top right.
  out.push('<g class="legend">');
  c.series.forEach((s, i) => {
    const x = width - 20 - (c.series.length - i) * 100;
    out.push(`<rect x="${x}" y="50" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${x + 16}" y="60">${escapeXml(s.name)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export const SERIES: BarSeries[] = [
  { name: PATH_LABEL.dax, color: '#1f77b4' },
  { name: PATH_LABEL.fuse, color: '#ff7f0e' },
  { name: PATH_LABEL.host, color: '#7f7f7f' },
];

export function matrixSvg(lines: readonly MatrixLine[], subtitle?: string): string {
  return barChartSvg({
    title: 'virtio-fs, 4 KiB blocks: DAX vs FUSE_READ/FUSE_WRITE vs host pread/pwrite (seed 002 rows)',
    subtitle,
    yLabel: 'MiB/s (log scale)',
    series: SERIES,
    groups: lines.map((l) => ({
      label: l.name,
      values: [l.dax?.mibps, l.fuse?.mibps, l.host?.mibps],
      note: l.daxVsFuse === undefined ? undefined : `DAX/FUSE ${fmtRatio(l.daxVsFuse)}`,
    })),
  });
}
