/**
 * Grid panel (runs in the webview): layer × coef heat-maps of Δτ and of coherence, the prompting baseline as a
 * reference row, the chosen best point outlined; Δτ against coef per layer as a chart. Messages: ./protocol.ts.
 */
import type Chart from 'chart.js/auto';
import { kitChart } from '../kit/charts.js';
import { heatMap } from '../kit/heatmap.js';
import { el, fmt, host, onMessage, toCsv } from '../kit/kit.js';
import type { FromWebview, GridView, ToWebview } from './protocol.js';

const vscode = host<FromWebview, { source: string }>();
let charts: Chart[] = [];

function render(v: GridView) {
  for (const c of charts) c.destroy();
  charts = [];
  const root = document.getElementById('root')!;
  root.replaceChildren(el('h2', {}, v.title));
  const b = v.best;
  root.append(el('div', { class: 'muted' }, `trait ${v.trait} · status ${v.status} · baseline trait ${fmt(v.baseline?.trait)}, coherence ${fmt(v.baseline?.coherence)}` +
    (b ? ` · best: layer ${b.layer}, coef ${b.coef} (Δτ ${fmt(b.deltaTrait)}, coherence ${fmt(b.coherence)}; outlined)` : ' · no point met the coherence floor')));
  if (v.points.length === 0) { root.append(el('div', { class: 'muted' }, 'No grid points yet.')); return { maps: 0, charts: 0, cells: 0, points: 0 }; }
  const at = (l: number, c: number) => v.points.find((p) => p.layer === l && p.coef === c);
  const rows = [...v.layers.map((l) => `layer ${l}`), ...(v.prompt ? ['prompting baseline'] : [])];
  const marks: [number, number][] = b ? [[v.layers.indexOf(b.layer), v.coefs.indexOf(b.coef)]] : [];
  let cells = 0;
  for (const [metric, label, promptValue] of [['deltaTrait', 'Δτ (steered − baseline)', v.prompt?.deltaTrait ?? null], ['coherence', 'coherence of steered answers', v.prompt?.coherence ?? null]] as const) {
    const section = el('section', { 'data-map': metric });
    root.append(section, );
    section.append(el('h3', {}, label));
    const values = [...v.layers.map((l) => v.coefs.map((c) => at(l, c)?.[metric] ?? null)), ...(v.prompt ? [v.coefs.map(() => promptValue)] : [])];
    cells += values.flat().filter((x) => x !== null).length;
    heatMap(section, {
      name: `${v.trait}-grid-${metric}`, rows, cols: v.coefs.map(String), values, marks, rowTitle: 'layer', colTitle: 'coef', digits: 1,
      ...(metric === 'coherence' ? { min: 0, max: 100, mid: v.minCoherence ?? 50 } : {}),
      title: (r, c) => r < v.layers.length ? `layer ${v.layers[r]}, coef ${v.coefs[c]}: ${label} ${fmt(values[r][c], 2)}` : `prompting baseline (system prompt, no steering): ${fmt(promptValue, 2)}`,
    });
  }
  const box = el('section');
  root.append(el('h3', {}, 'Δτ against coef, per layer'), box);
  charts.push(kitChart(box, {
    name: `${v.trait}-grid-delta-by-coef`, height: 260,
    config: { type: 'line', data: { datasets: v.layers.map((l, i) => ({ label: `layer ${l}`, kitColourIndex: i, data: v.coefs.map((c) => ({ x: c, y: at(l, c)?.deltaTrait ?? null })).filter((p) => p.y !== null) } as any)) },
      options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'coef' } }, y: { title: { display: true, text: 'Δτ' } } } } as any },
    csv: () => toCsv(['layer', 'coef', 'delta_trait_mean', 'coherence_mean', 'delta_coherence_mean', 'rows'], v.points.map((p) => [p.layer, p.coef, p.deltaTrait, p.coherence, p.deltaCoherence, p.rows])),
  }));
  vscode.save({ source: v.source });
  return { maps: 2, charts: charts.length, cells, points: v.points.filter((p) => p.deltaTrait !== null).length };
}

onMessage<ToWebview>((m) => {
  if (m?.type !== 'grid') return;
  const r = render(m.view);
  requestAnimationFrame(() => vscode.post({ type: 'rendered', ...r }));
});
vscode.post({ type: 'ready' });
