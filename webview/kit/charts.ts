/**
 * chart.js, themed from the editor (./theme.ts): every colour comes from a --vscode-* variable, read again whenever the
 * theme changes, and every chart is redrawn in the new colours. High-contrast themes get solid grid lines in the contrast border
 * colour. Each chart has hover values (tooltips on by default) and PNG/CSV export buttons; the export goes to
 * the extension, which asks where to save it (webview/kit/protocol.ts ExportMessage).
 */
import Chart from 'chart.js/auto';
import type { ChartConfiguration, ChartType } from 'chart.js';
import { el, host } from './kit.js';
import { onTheme, seriesColour, theme, type Theme } from './theme.js';

export type { Theme } from './theme.js';

interface Managed { chart: Chart; recolour?: (chart: Chart, t: Theme) => void }
const charts = new Set<Managed>();

function applyTheme(m: Managed, t: Theme): void {
  const c = m.chart;
  const o = c.options as any;
  o.color = t.fg;
  o.borderColor = t.grid;
  if (o.plugins?.legend?.labels) o.plugins.legend.labels.color = t.fg;
  if (o.plugins?.title) o.plugins.title.color = t.fg;
  if (o.plugins?.tooltip) Object.assign(o.plugins.tooltip, { backgroundColor: t.bg, titleColor: t.fg, bodyColor: t.fg, borderColor: t.grid, borderWidth: 1 });
  for (const s of Object.values(o.scales ?? {}) as any[]) {
    s.ticks = { ...s.ticks, color: t.fg };
    if (s.title) s.title.color = t.fg;
    s.grid = { ...s.grid, color: t.grid, lineWidth: t.highContrast ? 1 : s.grid?.lineWidth ?? 1 };
    s.border = { ...s.border, color: t.grid };
  }
  c.data.datasets.forEach((d: any, i: number) => {
    if (d.kitColour === false) return;
    const col = seriesColour(d.kitColourIndex ?? i, t);
    d.borderColor = col;
    d.backgroundColor = d.kitFill ? col + '66' : col;
    d.pointBackgroundColor = col;
    d.pointBorderColor = col;
  });
  m.recolour?.(c, t);
}

/** Re-themes every chart on the page (registered with the theme watcher by the first chart). */
function rethemeCharts(t: Theme): void {
  for (const m of charts) { if (!m.chart.canvas.isConnected) { m.chart.destroy(); charts.delete(m); continue; } applyTheme(m, t); m.chart.update('none'); }
}
let watching = false;

export interface KitChart<T extends ChartType> {
  /** Chart config without colours (the kit fills them from the theme; a dataset may set kitColourIndex / kitFill). */
  config: ChartConfiguration<T>;
  /** File name stem of the exports. */
  name: string;
  /** The CSV behind the chart. */
  csv: () => string;
  height?: number;
  recolour?: (chart: Chart, t: Theme) => void;
}

/** Draws a themed chart with PNG/CSV export into `parent`; returns the chart. */
export function kitChart<T extends ChartType>(parent: HTMLElement, k: KitChart<T>): Chart {
  if (!watching) { watching = true; onTheme(rethemeCharts); }
  const canvas = el('canvas', { 'aria-label': k.name, role: 'img' });
  const box = el('div', { class: 'chart-box' }, canvas);
  box.style.height = `${k.height ?? 260}px`;
  const png = el('button', { title: 'Save this chart as a PNG image' }, 'PNG');
  const csv = el('button', { title: 'Save the data behind this chart as CSV' }, 'CSV');
  parent.append(box, el('div', { class: 'chart-tools' }, png, csv));
  const opts = (k.config.options ??= {} as any) as any;
  opts.animation = false;
  opts.maintainAspectRatio = false;
  opts.responsive = true;
  // chart.js/auto's Colors plugin would paint its own palette over the theme's: off.
  opts.plugins = { ...opts.plugins, colors: { enabled: false }, legend: { ...opts.plugins?.legend, labels: { ...opts.plugins?.legend?.labels } }, tooltip: { enabled: true, ...opts.plugins?.tooltip } };
  opts.interaction ??= { mode: 'nearest', intersect: false };
  const chart = new Chart(canvas, k.config as ChartConfiguration);
  const m: Managed = { chart, recolour: k.recolour };
  charts.add(m);
  applyTheme(m, theme());
  chart.update('none');
  // What the chart holds, for the UI suite (points drawn must equal the data behind them).
  canvas.dataset.points = String(chart.data.datasets.reduce((s, d) => s + (d.data as unknown[]).filter((x) => x !== null && (typeof x !== 'object' || (x as { y?: unknown }).y !== null)).length, 0));
  png.addEventListener('click', () => {
    // The canvas is transparent: paint the editor background under it so the PNG reads like the panel.
    const out = document.createElement('canvas');
    out.width = canvas.width; out.height = canvas.height;
    const g = out.getContext('2d')!;
    g.fillStyle = theme().bg; g.fillRect(0, 0, out.width, out.height); g.drawImage(canvas, 0, 0);
    host().post({ type: 'export', format: 'png', name: k.name, data: out.toDataURL('image/png') });
  });
  csv.addEventListener('click', () => host().post({ type: 'export', format: 'csv', name: k.name, data: k.csv() }));
  return chart;
}

/** Number of non-transparent pixels on a chart's canvas (the UI suite's "did it draw" check reads it from the DOM too). */
export function paintedPixels(canvas: HTMLCanvasElement): number {
  const g = canvas.getContext('2d');
  if (!g || canvas.width === 0 || canvas.height === 0) return 0;
  const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
  return n;
}
