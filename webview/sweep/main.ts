/**
 * Sweep dashboard (runs in the webview): per trait, Δτ against training progress (tokens seen on a log axis when the
 * revision names carry them, else revisions in training order) with Bonferroni-significant points marked, output
 * coherence on a second chart, the vector's cosine to main and to the previous revision, the table behind them
 * (layer, coef, kept pairs, p-values, the reason where there is no vector) and the transfer rows. The extension
 * reposts the view while the sweep runs; the page redraws in place. Messages: ./protocol.ts.
 */
import type Chart from 'chart.js/auto';
import { kitChart, paintedPixels } from '../kit/charts.js';
import { el, fmt, fmtP, host, onMessage, toCsv } from '../kit/kit.js';
import type { FromWebview, SweepCell, SweepView, ToWebview } from './protocol.js';

const vscode = host<FromWebview, { source: string }>();
let charts: Chart[] = [];
const ALPHA = 0.05;

function fmtTokens(t: number | null): string {
  if (t === null) return '–';
  for (const [u, d] of [['T', 1e12], ['B', 1e9], ['M', 1e6]] as const) if (t >= d) return `${+(t / d).toPrecision(3)}${u}`;
  return String(t);
}

function render(v: SweepView): { charts: number; rows: number; points: number } {
  for (const c of charts) c.destroy();
  charts = [];
  const root = document.getElementById('root')!;
  const scroll = window.scrollY;
  root.replaceChildren();
  root.append(el('h2', {}, v.title));
  const running = v.status === 'running';
  root.append(el('div', { class: 'muted', id: 'status' }, `${v.model ? `model ${v.model} · ` : ''}${v.revisions.length} revisions · status ${v.status}${running ? ' — fills in as each revision finishes' : ''}`));
  const tokensKnown = v.revisions.filter((r) => r.name !== 'main').every((r) => r.tokens !== null) && v.revisions.some((r) => r.tokens !== null);
  // main has no token count in its name: on a log axis it sits one step past the last known revision.
  const maxTokens = Math.max(0, ...v.revisions.map((r) => r.tokens ?? 0));
  const xOf = (rev: string, i: number) => tokensKnown ? (v.revisions.find((r) => r.name === rev)?.tokens ?? maxTokens * 1.5) : i;
  let rows = 0, points = 0;
  for (const t of v.traits) {
    const cells = v.revisions.map((r) => v.cells.find((c) => c.trait === t.trait && c.revision === r.name)!).filter(Boolean);
    const traj = v.trajectories[t.trait] ?? null;
    const cos = (rev: string) => (traj && traj.revisions.includes(rev) ? (rev === traj.main ? 1 : traj.toMain.find((x) => x.revision === rev)?.cosine ?? null) : null);
    const seq = (rev: string) => traj?.sequential.find((x) => x.target === rev)?.cosine ?? null;
    const section = el('section', { 'data-trait': t.trait });
    root.append(section);
    section.append(el('h3', {}, t.trait), el('div', { class: 'muted' }, `steering at layer ℓ = ${t.layer ?? '?'} (hidden_states[ℓ]), coef ${t.coef ?? '?'}; ` +
      `filled points: Bonferroni-corrected p < ${ALPHA} over this trait's ${cells.filter((c) => c.state === 'done').length} tested checkpoints`));
    const few = cells.filter((c) => c.pairsKept !== null && c.pairsKept > 0 && c.pairsKept < v.fewPairs && (c.state === 'done' || c.state === 'vector'));
    if (few.length) section.append(el('div', { class: 'caveat' }, `Vectors from fewer than ${v.fewPairs} kept pairs (${few.map((c) => `${c.revision}: ${c.pairsKept}`).join(', ')}) are noisy averages: read their cosines and Δτ with care.`));
    const grid = el('div', { class: 'grid2' });
    section.append(grid);
    const xy = (f: (c: SweepCell) => number | null) => cells.map((c, i) => ({ x: xOf(c.revision, i), y: f(c), revision: c.revision, cell: c }))
      .filter((p) => p.y !== null);
    const sig = (c: SweepCell) => c.pBonferroni !== null && c.pBonferroni < ALPHA;
    const xScale = tokensKnown
      ? { type: 'logarithmic' as const, title: { display: true, text: 'tokens seen (main at the right)' }, ticks: { callback: (val: number | string) => fmtTokens(Number(val)) } }
      : { type: 'linear' as const, title: { display: true, text: 'revision (training order)' }, ticks: { stepSize: 1, callback: (val: number | string) => v.revisions[Number(val)]?.name ?? '' } };
    const label = (ctx: any) => {
      const p = ctx.raw as { y: number; revision: string; cell: SweepCell };
      return `${ctx.dataset.label}: ${fmt(p.y, 2)}${p.cell.pBonferroni !== null && ctx.dataset.kitP ? ` (p Bonferroni ${fmtP(p.cell.pBonferroni)})` : ''}`;
    };
    const title = (items: any[]) => items.map((i) => { const p = i.raw as { revision: string }; const tok = v.revisions.find((r) => r.name === p.revision)?.tokens ?? null; return `${p.revision}${tok !== null ? ` · ${fmtTokens(tok)} tokens` : ''}`; });
    const delta = xy((c) => (c.state === 'done' ? c.deltaTrait : null));
    points += delta.length;
    const d1 = el('div');
    grid.append(d1);
    charts.push(kitChart(d1, {
      name: `${t.trait}-delta-trait`, height: 240,
      config: { type: 'line', data: { datasets: [{ label: 'Δτ (steered − baseline)', data: delta as any, kitP: true, pointRadius: delta.map((p) => (sig(p.cell) ? 6 : 3)),
        pointStyle: delta.map((p) => (sig(p.cell) ? 'rectRot' : 'circle')), pointBorderWidth: 2 } as any] },
      options: { parsing: false, scales: { x: xScale as any, y: { title: { display: true, text: 'Δτ' } } }, plugins: { tooltip: { callbacks: { title, label } } } } as any },
      csv: () => toCsv(['revision', 'tokens', 'delta_trait_mean', 'p_bonferroni'], delta.map((p) => [p.revision, v.revisions.find((r) => r.name === p.revision)?.tokens ?? '', p.y, p.cell.pBonferroni])),
    }));
    const coh = xy((c) => (c.state === 'done' ? c.coherence : null));
    const d2 = el('div');
    grid.append(d2);
    charts.push(kitChart(d2, {
      name: `${t.trait}-coherence`, height: 240,
      config: { type: 'line', data: { datasets: [{ label: 'coherence of steered answers', data: coh as any, kitColourIndex: 2 } as any] },
        options: { parsing: false, scales: { x: xScale as any, y: { min: 0, max: 100, title: { display: true, text: 'coherence (0–100)' } } }, plugins: { tooltip: { callbacks: { title, label } } } } as any },
      csv: () => toCsv(['revision', 'output_coherence_mean', 'delta_coherence_mean'], coh.map((p) => [p.revision, p.y, p.cell.deltaCoherence])),
    }));
    if (traj) {
      const toMain = xy((c) => cos(c.revision));
      const consecutive = xy((c) => seq(c.revision));
      const d3 = el('div');
      grid.append(d3);
      charts.push(kitChart(d3, {
        name: `${t.trait}-cosines`, height: 240,
        config: { type: 'line', data: { datasets: [{ label: 'cos(v, v_main)', data: toMain as any, kitColourIndex: 1 } as any, { label: 'cos(v, v_previous)', data: consecutive as any, kitColourIndex: 3 } as any] },
          options: { parsing: false, scales: { x: xScale as any, y: { min: -1, max: 1, title: { display: true, text: `cosine at layer ${traj ? (v.traits.find((x) => x.trait === t.trait)?.layer ?? '') : ''}` } } }, plugins: { tooltip: { callbacks: { title, label } } } } as any },
        csv: () => toCsv(['revision', 'cosine_to_main', 'cosine_to_previous'], cells.map((c) => [c.revision, cos(c.revision), seq(c.revision)])),
      }));
    }
    const table = el('table', { class: 'data', 'data-table': 'revisions' });
    table.append(el('thead', {}, el('tr', {}, ...['revision', 'tokens', 'layer', 'coef', 'pairs kept', 'Δτ', 'coherence', 'p', 'p (Bonferroni)', 'cos → main'].map((h) => el('th', {}, h)))));
    const body = el('tbody');
    for (const c of cells) {
      const tok = fmtTokens(v.revisions.find((r) => r.name === c.revision)?.tokens ?? null);
      const pairs = c.pairsKept === null ? '–' : c.pairsTotal !== null ? `${c.pairsKept}/${c.pairsTotal}` : String(c.pairsKept);
      const tr = el('tr', { 'data-state': c.state });
      const lead = [c.revision, tok, String(c.layer ?? '–'), String(c.coef ?? '–'), pairs];
      if (c.state === 'no-vector') {
        tr.append(...lead.map((x) => el('td', {}, x)), el('td', { colSpan: 5, class: 'muted', title: c.reason ?? '' }, `no vector — ${c.reason ?? 'not extractable'}`));
      } else if (c.state === 'pending' || c.state === 'vector') {
        tr.append(...lead.map((x) => el('td', {}, x)), el('td', { colSpan: 4, class: 'muted' }, c.state === 'pending' ? (v.status === 'running' ? 'pending…' : 'not run') : 'extracted; evaluating…'), el('td', {}, fmt(cos(c.revision), 3)));
      } else {
        const cosCell = el('td', {}, fmt(cos(c.revision), 3));
        if (c.pairsKept !== null && c.pairsKept < v.fewPairs) cosCell.title = `from ${c.pairsKept} pair(s): noisy`;
        tr.append(...lead.map((x) => el('td', {}, x)), el('td', {}, fmt(c.deltaTrait)), el('td', {}, fmt(c.coherence)), el('td', {}, fmtP(c.p)), el('td', {}, fmtP(c.pBonferroni)), cosCell);
      }
      body.append(tr);
      rows++;
    }
    table.append(body);
    section.append(table);
    const tr = v.transfer.filter((x) => x.trait === t.trait);
    if (tr.length) {
      section.append(el('h3', {}, `${t.trait}: transfer (each revision's vector on ${tr[0].target})`));
      const tt = el('table', { class: 'data', 'data-table': 'transfer' });
      tt.append(el('thead', {}, el('tr', {}, ...['source revision', 'target', 'Δτ', 'coherence', 'p (Bonferroni)'].map((h) => el('th', {}, h)))));
      const tb = el('tbody');
      for (const x of tr) tb.append(el('tr', {}, ...[x.sourceRevision, x.target, fmt(x.deltaTrait), fmt(x.coherence), fmtP(x.pBonferroni)].map((c) => el('td', {}, c))));
      tt.append(tb);
      section.append(tt);
    }
  }
  if (v.traits.length === 0) root.append(el('div', { class: 'muted' }, 'This sweep has no traits yet.'));
  window.scrollTo(0, scroll);
  vscode.save({ source: v.source });
  return { charts: charts.length, rows, points };
}

onMessage<ToWebview>((m) => {
  if (m?.type !== 'sweep') return;
  const r = render(m.view);
  // Tell the extension what was drawn (counts, and that the canvases hold pixels).
  requestAnimationFrame(() => {
    document.body.dataset.painted = String(charts.filter((c) => paintedPixels(c.canvas) > 0).length);
    vscode.post({ type: 'rendered', ...r });
  });
});
vscode.post({ type: 'ready' });
