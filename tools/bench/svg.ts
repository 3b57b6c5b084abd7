// Grouped bar chart as hand-written SVG: one group per matrix row, one bar
// per path, log-scale y axis (DAX and FUSE_READ differ by an order of
// magnitude or more), value on each bar, legend, no dependency. A bar may
// carry a reference mark: a published figure for the same row, drawn as a
// dashed line across the bar with its value beside it, so the gap to the
// reference shows at a glance.

import { PATH_LABEL } from './job';
import type { MatrixLine } from './matrix';
import { fmtNum, fmtRatio } from './report';

export interface BarSeries { name: string; color: string }
export interface BarGroup {
  /** One line per entry, under the group. */
  label: string | string[];
  values: (number | undefined)[];
  /** Reference figures, one per series (undefined: no mark on that bar). */
  refs?: (number | undefined)[];
  note?: string;
}
export interface BarChart {
  title: string;
  subtitle?: string;
  yLabel: string;
  series: BarSeries[];
  groups: BarGroup[];
  /** The legend entry of the reference marks. */
  refLabel?: string;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const BAR = 34;
const GROUP_GAP = 30;
const LEFT = 80;
const TOP = 88;
const PLOT_H = 340;
const BOTTOM = 92;

/** A bar's value in at most five characters (the bar's width at 11 px): 8.2, 95.1, 643, 1.29k. */
export function shortNum(v: number): string {
  if (v >= 9995) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(2).replace(/0$/, '')}k`;
  if (v >= 100) return String(Math.round(v));
  return v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function barChartSvg(c: BarChart): string {
  const values = c.groups.flatMap((g) => [...g.values, ...(g.refs ?? [])])
    .filter((v): v is number => v !== undefined && v > 0 && Number.isFinite(v));
  const lo = Math.pow(10, Math.floor(Math.log10(values.length ? Math.min(...values) : 1)));
  const hi = Math.pow(10, Math.max(Math.ceil(Math.log10(values.length ? Math.max(...values) : 10)), Math.log10(lo) + 1));
  const y = (v: number) => TOP + PLOT_H - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT_H;
  const groupW = c.series.length * BAR + GROUP_GAP;
  const width = LEFT + c.groups.length * groupW + 30;
  const height = TOP + PLOT_H + BOTTOM;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${LEFT}" y="24" font-size="17" font-weight="bold">${escapeXml(c.title)}</text>`);
  if (c.subtitle) out.push(`<text x="${LEFT}" y="44" fill="#444444">${escapeXml(c.subtitle)}</text>`);
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
    const name = Array.isArray(g.label) ? g.label.join(' ') : g.label;
    out.push(`<g class="group" data-label="${escapeXml(name)}">`);
    g.values.forEach((v, si) => {
      if (v === undefined || !(v > 0)) return;
      const s = c.series[si]!;
      const x = x0 + si * BAR;
      const top = y(v);
      const ref = g.refs?.[si];
      const yRef = ref !== undefined && ref > 0 ? y(ref) : undefined;
      // The value above the bar, or inside its top when a reference line sits just above it.
      const inside = yRef !== undefined && yRef < top && top - yRef < 15 && TOP + PLOT_H - top > 18;
      out.push(`<rect class="bar" data-series="${escapeXml(s.name)}" x="${x}" y="${top.toFixed(1)}" width="${BAR - 2}" height="${(TOP + PLOT_H - top).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${name} ${s.name}: ${fmtNum(v)}`)}</title></rect>`);
      out.push(`<text x="${x + (BAR - 2) / 2}" y="${(inside ? top + 13 : top - 4).toFixed(1)}" text-anchor="middle" font-size="11"${inside ? ' fill="#ffffff"' : ''}>${escapeXml(shortNum(v))}</text>`);
      if (yRef === undefined) return;
      // Dashed across the bar; its figure above the line, or below it when the bar's own value is there.
      const below = yRef > top && yRef - top < 15;
      const ly = below ? yRef + 12 : yRef - 4;
      const onBar = ly - 8 > top;
      out.push(`<line class="ref" data-series="${escapeXml(s.name)}" x1="${x - 3}" y1="${yRef.toFixed(1)}" x2="${x + BAR + 1}" y2="${yRef.toFixed(1)}" stroke="#111111" stroke-width="2" stroke-dasharray="4 2"><title>${escapeXml(`${c.refLabel ?? 'reference'}: ${fmtNum(ref!)}`)}</title></line>`);
      out.push(`<text x="${x + (BAR - 2) / 2}" y="${ly.toFixed(1)}" text-anchor="middle" font-size="10" font-style="italic" fill="${onBar ? '#ffffff' : '#111111'}">${escapeXml(shortNum(ref!))}</text>`);
    });
    const cx = x0 + (c.series.length * BAR) / 2;
    const dash = name.indexOf('-');
    const label = Array.isArray(g.label) ? g.label : dash < 0 ? [name] : [name.slice(0, dash), name.slice(dash + 1)];
    label.forEach((l, i) => out.push(`<text x="${cx}" y="${TOP + PLOT_H + 18 + i * 15}" text-anchor="middle"${i === 0 ? ' font-weight="bold"' : ''}>${escapeXml(l)}</text>`));
    (g.note ?? '').split('\n').filter(Boolean).forEach((n, i) => out.push(
      `<text x="${cx}" y="${TOP + PLOT_H + 20 + (label.length + i) * 15}" text-anchor="middle" fill="#333333" font-size="11">${escapeXml(n)}</text>`));
    out.push('</g>');
  });
  // Legend, under the title: the series, then the reference marks.
  out.push('<g class="legend">');
  let lx = LEFT;
  for (const s of c.series) {
    out.push(`<rect x="${lx}" y="58" width="14" height="14" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 19}" y="70">${escapeXml(s.name)}</text>`);
    lx += 40 + s.name.length * 8;
  }
  if (c.refLabel && c.groups.some((g) => g.refs?.some((v) => v !== undefined))) {
    out.push(`<line x1="${lx}" y1="65" x2="${lx + 24}" y2="65" stroke="#111111" stroke-width="2" stroke-dasharray="4 2"/>`);
    out.push(`<text x="${lx + 30}" y="70">${escapeXml(c.refLabel)}</text>`);
  }
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export const SERIES: BarSeries[] = [
  { name: PATH_LABEL.dax, color: '#1f77b4' },
  { name: PATH_LABEL.fuse, color: '#ff7f0e' },
  { name: PATH_LABEL.host, color: '#7f7f7f' },
];

/** The matrix, each DAX and FUSE_READ bar marked with the Linux virtiofs DAX
 *  series' figure for its row (cache=none+dax and cache=none). */
export function matrixSvg(lines: readonly MatrixLine[], subtitle?: string): string {
  return barChartSvg({
    title: 'virtio-fs, 4 KiB blocks: DAX vs FUSE_READ/FUSE_WRITE vs host pread/pwrite',
    subtitle,
    yLabel: 'MiB/s (log scale)',
    series: SERIES,
    refLabel: 'Linux virtiofs DAX series (Goyal et al., 2020): cache=none+dax, cache=none',
    groups: lines.map((l) => {
      const [rw, engine, multi] = l.name.split('-');
      return {
        label: [rw ?? l.name, `${engine ?? ''}${multi ? ', 4 jobs' : ', 1 job'}`],
        values: [l.dax?.mibps, l.fuse?.mibps, l.host?.mibps],
        refs: [l.seed.dax, l.seed.none, undefined],
        note: l.daxVsFuse === undefined ? undefined : `DAX/FUSE ${fmtRatio(l.daxVsFuse)}\nLinux: ${fmtRatio(l.seed.ratio)}`,
      };
    }),
  });
}
