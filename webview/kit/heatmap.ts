/**
 * Heat-maps as tables (readable by screen readers, every value on the cell and in its tooltip), coloured from the
 * theme's chart colours (diverging: blue below the midpoint, red above), re-coloured on a theme change (its own watcher:
 * no chart needed on the page, and no chart.js in the bundle), with the
 * same PNG/CSV export as the charts (the PNG is drawn from the cells).
 */
import { divergingColour, offTheme, onTheme, theme, type Theme } from './theme.js';
import { el, fmt, host, toCsv } from './kit.js';

export interface HeatMap {
  name: string;
  rows: string[];
  cols: string[];
  /** values[r][c]; null = no value. */
  values: (number | null)[][];
  /** Colour scale; default symmetric around 0 over the largest |value|. */
  min?: number; max?: number; mid?: number;
  digits?: number;
  rowTitle?: string; colTitle?: string;
  /** Cells to outline (e.g. the chosen best point), as [row, col]. */
  marks?: [number, number][];
  /** Tooltip of a cell. */
  title?: (r: number, c: number) => string;
}

function colourOf(h: HeatMap, v: number, t: Theme): { bg: string; fg: string } {
  const vals = h.values.flat().filter((x): x is number => x !== null && Number.isFinite(x));
  const mid = h.mid ?? 0;
  const span = Math.max(1e-12, ...vals.map((x) => Math.abs(x - mid)));
  const lo = h.min ?? mid - span, hi = h.max ?? mid + span;
  const f = v >= mid ? Math.min(1, (v - mid) / Math.max(1e-12, hi - mid)) : -Math.min(1, (mid - v) / Math.max(1e-12, mid - lo));
  return divergingColour(f, t);
}

/** Draws the heat-map into `parent`; returns the table. */
export function heatMap(parent: HTMLElement, h: HeatMap): HTMLTableElement {
  const d = h.digits ?? 2;
  const table = el('table', { class: 'heatmap', 'data-name': h.name, 'aria-label': h.name });
  const head = el('tr', {}, el('th', {}, `${h.rowTitle ?? ''}${h.rowTitle && h.colTitle ? ' \\ ' : ''}${h.colTitle ?? ''}`), ...h.cols.map((c) => el('th', { scope: 'col' }, c)));
  table.append(el('thead', {}, head));
  const body = el('tbody');
  const cells: { td: HTMLTableCellElement; v: number | null }[] = [];
  h.rows.forEach((rname, r) => {
    const tr = el('tr', {}, el('th', { scope: 'row' }, rname));
    h.cols.forEach((_, c) => {
      const v = h.values[r]?.[c] ?? null;
      const td = el('td', { title: h.title?.(r, c) ?? `${rname}, ${h.cols[c]}: ${fmt(v, d + 2)}`, class: v === null ? 'empty' : '' }, v === null ? '·' : fmt(v, d));
      if (h.marks?.some(([mr, mc]) => mr === r && mc === c)) td.classList.add('mark');
      cells.push({ td, v });
      tr.append(td);
    });
    body.append(tr);
  });
  table.append(body);
  const paint = (t: Theme) => { for (const { td, v } of cells) if (v !== null) { const c = colourOf(h, v, t); td.style.background = c.bg; td.style.color = c.fg; } };
  paint(theme());
  // Re-coloured on every theme change while the table is on the page (a redrawn panel drops the old tables).
  const follow = (t: Theme) => { if (table.isConnected) paint(t); else offTheme(follow); };
  onTheme(follow);
  const png = el('button', { title: 'Save this heat-map as a PNG image' }, 'PNG');
  const csv = el('button', { title: 'Save the values of this heat-map as CSV' }, 'CSV');
  csv.addEventListener('click', () => host().post({ type: 'export', format: 'csv', name: h.name,
    data: toCsv([h.rowTitle ?? 'row', ...h.cols], h.rows.map((r, i) => [r, ...h.cols.map((_, c) => h.values[i]?.[c] ?? null)])) }));
  png.addEventListener('click', () => host().post({ type: 'export', format: 'png', name: h.name, data: drawPng(h) }));
  parent.append(table, el('div', { class: 'chart-tools' }, png, csv));
  return table;
}

function drawPng(h: HeatMap): string {
  const t = theme();
  const cw = 64, ch = 24, left = 140, top = 28;
  const out = document.createElement('canvas');
  out.width = left + cw * h.cols.length + 8; out.height = top + ch * h.rows.length + 8;
  const g = out.getContext('2d')!;
  g.fillStyle = t.bg; g.fillRect(0, 0, out.width, out.height);
  g.font = '12px sans-serif'; g.textAlign = 'center'; g.textBaseline = 'middle';
  g.fillStyle = t.fg;
  h.cols.forEach((c, i) => g.fillText(c.slice(0, 10), left + cw * i + cw / 2, top / 2));
  h.rows.forEach((r, j) => {
    g.textAlign = 'right'; g.fillStyle = t.fg; g.fillText(r.slice(0, 20), left - 6, top + ch * j + ch / 2); g.textAlign = 'center';
    h.cols.forEach((_, i) => {
      const v = h.values[j]?.[i] ?? null;
      if (v === null) return;
      const c = colourOf(h, v, t);
      g.fillStyle = c.bg; g.fillRect(left + cw * i, top + ch * j, cw - 1, ch - 1);
      g.fillStyle = c.fg; g.fillText(fmt(v, h.digits ?? 2), left + cw * i + cw / 2, top + ch * j + ch / 2);
    });
  });
  return out.toDataURL('image/png');
}
