/**
 * Geometry panel (runs in the webview): revision × revision cosine heat-map (training order), trait × trait
 * heat-map, 2-D MDS scatter of the unit vectors, norms per layer and per revision (raw and ÷ the calibrated
 * activation norm), cosine to main and between consecutive revisions over training. Messages: ./protocol.ts.
 */
import type Chart from 'chart.js/auto';
import { kitChart } from '../kit/charts.js';
import { heatMap } from '../kit/heatmap.js';
import { el, fmt, host, onMessage, toCsv } from '../kit/kit.js';
import type { FromWebview, GeometryView, ToWebview } from './protocol.js';

const vscode = host<FromWebview, { source: string }>();
let charts: Chart[] = [];

function render(v: GeometryView) {
  for (const c of charts) c.destroy();
  charts = [];
  const root = document.getElementById('root')!;
  root.replaceChildren(el('h2', {}, v.title),
    el('div', { class: 'muted' }, `${v.root} · ${v.kind} · layer ℓ = ${v.layer} of 0..${v.layers - 1} (row = hidden_states[ℓ]) · reference ${v.revisions.at(-1)?.name ?? ''}` +
      ` · activation norms: ${v.normsDir ?? 'none found (÷ norm columns empty)'}`));
  const names = v.revisions.map((r) => r.name);
  const short = (n: string) => n.replace(/^stage(\d)-step/, 's$1-');
  let points = 0;
  const section = (title: string, attr: string) => { const s = el('section', { 'data-part': attr }); root.append(el('h3', {}, title), s); return s; };
  // Cosine to main and to the previous revision, in training order.
  const byOrder = section('Cosine to the reference and to the previous revision (training order)', 'trajectory');
  const toMain = names.map((n, i) => ({ x: i, y: n === names.at(-1) ? 1 : v.toMain.find((t) => t.revision === n)?.cosine ?? null, revision: n }));
  const seq = names.map((n, i) => ({ x: i, y: v.sequential.find((t) => t.target === n)?.cosine ?? null, revision: n })).filter((p) => p.y !== null);
  points += toMain.length + seq.length;
  const xRev = { type: 'linear', title: { display: true, text: v.revisions.some((r) => r.tokens !== null) ? 'revision (training order; tokens on hover)' : 'revision (training order)' },
    ticks: { stepSize: 1, autoSkip: false, maxRotation: 60, callback: (val: number | string) => short(names[Number(val)] ?? '') } };
  const revTitle = (items: any[]) => items.map((i) => { const r = v.revisions[i.raw.x]; return r ? `${r.name}${r.tokens !== null ? ` · ${r.tokens.toExponential(2)} tokens` : ''}` : ''; });
  charts.push(kitChart(byOrder, {
    name: `${v.trait}-cosine-trajectory-layer${v.layer}`, height: 260,
    config: { type: 'line', data: { datasets: [{ label: `cos(v, v_${names.at(-1)})`, data: toMain as any, kitColourIndex: 1 } as any, { label: 'cos(v, v_previous)', data: seq as any, kitColourIndex: 3 } as any] },
      options: { parsing: false, scales: { x: xRev as any, y: { min: -1, max: 1, title: { display: true, text: 'cosine' } } }, plugins: { tooltip: { callbacks: { title: revTitle } } } } as any },
    csv: () => toCsv(['revision', 'cosine_to_main', 'cosine_to_previous'], names.map((n, i) => [n, toMain[i].y, seq.find((p) => p.revision === n)?.y ?? null])),
  }));
  // Revision × revision heat-map.
  heatMap(section(`Revision × revision cosine at layer ${v.layer}`, 'revision-matrix'), {
    name: `${v.trait}-revision-cosine-layer${v.layer}`, rows: names.map(short), cols: names.map(short), values: v.matrix, digits: 2, min: -1, max: 1, mid: 0,
    title: (r, c) => `${names[r]} · ${names[c]}: ${fmt(v.matrix[r][c], 4)}`,
  });
  // Trait × trait.
  heatMap(section(`Trait × trait cosine at ${names.at(-1)}, layer ${v.layer}`, 'trait-matrix'), {
    name: `trait-cosine-layer${v.layer}`, rows: v.traits, cols: v.traits, values: v.traitMatrix, digits: 2, min: -1, max: 1, mid: 0,
  });
  // MDS.
  const m = section('2-D MDS of the unit vectors (distance √(2 − 2·cos))', 'mds');
  const revPts = v.mds.filter((p) => p.group === 'revision'), traitPts = v.mds.filter((p) => p.group === 'trait');
  points += v.mds.length;
  charts.push(kitChart(m, {
    name: `${v.trait}-mds-layer${v.layer}`, height: 320,
    config: { type: 'scatter', data: { datasets: [{ label: `${v.trait}, by revision`, data: revPts as any, pointRadius: 4, kitColourIndex: 0 } as any,
      ...(traitPts.length ? [{ label: 'other traits', data: traitPts as any, pointRadius: 6, pointStyle: 'rectRot', kitColourIndex: 1 } as any] : [])] },
      options: { parsing: false, scales: { x: { title: { display: true, text: 'MDS 1' } }, y: { title: { display: true, text: 'MDS 2' } } },
        plugins: { tooltip: { callbacks: { label: (c: any) => `${c.raw.label}: (${fmt(c.raw.x, 3)}, ${fmt(c.raw.y, 3)})` } } } } as any },
    csv: () => toCsv(['label', 'group', 'x', 'y'], v.mds.map((p) => [p.label, p.group, p.x, p.y])),
  }));
  // Norms per revision and per layer.
  const n = section(`Norms per revision at layer ${v.layer}`, 'norms');
  const normPts = v.norms.map((x, i) => ({ x: i, y: x.norm, revision: x.revision }));
  const ratioPts = v.norms.map((x, i) => ({ x: i, y: x.ratio, revision: x.revision })).filter((p) => p.y !== null);
  points += normPts.length + ratioPts.length;
  charts.push(kitChart(n, {
    name: `${v.trait}-norms-layer${v.layer}`, height: 240,
    config: { type: 'line', data: { datasets: [{ label: '‖v‖', data: normPts as any, yAxisID: 'y', kitColourIndex: 0 } as any, { label: '‖v‖ ÷ mean ‖h‖', data: ratioPts as any, yAxisID: 'y1', kitColourIndex: 2 } as any] },
      options: { parsing: false, scales: { x: xRev as any, y: { title: { display: true, text: '‖v‖' } }, y1: { position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: '‖v‖ ÷ mean ‖h‖' } } },
        plugins: { tooltip: { callbacks: { title: revTitle } } } } as any },
    csv: () => toCsv(['revision', 'norm', 'mean_l2', 'ratio'], v.norms.map((x) => [x.revision, x.norm, x.meanL2, x.ratio])),
  }));
  const pl = section('Norm per layer (each revision)', 'per-layer');
  const hasRatio = v.perLayer.some((r) => r.ratio.some((x) => x !== null));
  const perLayerData = v.perLayer.map((r, i) => ({ label: r.revision, data: (hasRatio ? r.ratio : r.raw).map((y, l) => ({ x: l, y })).filter((p) => p.y !== null), kitColourIndex: i, pointRadius: 1 }));
  points += perLayerData.reduce((s, d) => s + d.data.length, 0);
  charts.push(kitChart(pl, {
    name: `${v.trait}-norm-per-layer`, height: 280,
    config: { type: 'line', data: { datasets: perLayerData as any },
      options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'layer ℓ (hidden_states[ℓ])' }, ticks: { stepSize: 1 } }, y: { title: { display: true, text: hasRatio ? '‖v_ℓ‖ ÷ mean ‖h_ℓ‖' : '‖v_ℓ‖' } } },
        plugins: { legend: { display: v.perLayer.length <= 8 } } } as any },
    csv: () => toCsv(['revision', 'layer', 'norm', 'ratio'], v.perLayer.flatMap((r) => r.raw.map((x, l) => [r.revision, l, x, r.ratio[l]]))),
  }));
  vscode.save({ source: v.source });
  return { charts: charts.length, maps: 2, points };
}

onMessage<ToWebview>((m) => {
  if (m?.type !== 'geometry') return;
  const r = render(m.view);
  requestAnimationFrame(() => vscode.post({ type: 'rendered', ...r }));
});
vscode.post({ type: 'ready' });
