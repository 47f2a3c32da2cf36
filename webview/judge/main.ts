/**
 * Judge Results (runs in the webview): a virtualised table of every answer (only the visible rows exist in the
 * DOM, so 20 000 rows scroll and filter without delay), sort by any column, filters (condition, kept/dropped,
 * score ranges, free text), grouping by question, a detail pane with "Open raw record", per-condition histograms
 * of trait and coherence, the paired filter's statistics and Δτ per question. Messages: ./protocol.ts.
 */
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type Chart from 'chart.js/auto';
import { kitChart } from '../kit/charts.js';
import { heatMap } from '../kit/heatmap.js';
import { el, fmt, host, onMessage, toCsv } from '../kit/kit.js';
import type { FromWebview, JudgeRow, JudgeView, ToWebview, TokenDistribution } from './protocol.js';
import './judge.css';

type SortKey = 'question' | 'label' | 'answer' | 'trait' | 'coherence' | 'kept';
interface UiState { source: string; condition: string; kept: string; text: string; traitMin: string; traitMax: string; cohMin: string; cohMax: string; group: boolean; sort: SortKey; desc: boolean }
const vscode = host<FromWebview, UiState>();
const ROW_H = 24;
const COLUMNS: [SortKey, string][] = [['question', 'question'], ['label', 'condition'], ['answer', 'answer'], ['trait', 'trait'], ['coherence', 'coherence'], ['kept', 'paired filter']];

let view: JudgeView | undefined;
let ui: UiState;
let shown: (JudgeRow | { group: string; n: number; delta: number | null })[] = [];
let selected: JudgeRow | undefined;
let charts: Chart[] = [];

const defaults = (source: string): UiState => ({ source, condition: '', kept: '', text: '', traitMin: '', traitMax: '', cohMin: '', cohMax: '', group: false, sort: 'question', desc: false });
const mean = (xs: (number | null)[]) => { let s = 0, n = 0; for (const x of xs) if (x !== null) { s += x; n++; } return n ? s / n : null; };
const keptText = (r: JudgeRow) => (r.kept === null ? '' : r.kept ? 'kept' : `dropped: ${r.why ?? ''}`);

// ------------------------------------------------------------------ page skeleton
const root = document.getElementById('root')!;
const title = el('h2');
const sub = el('div', { class: 'muted' });
const filterStats = el('div');
const count = el('div', { id: 'count', class: 'muted', 'aria-live': 'polite' });
const cond = el('vscode-single-select', { id: 'condition' }) as HTMLElement & { value: string };
const kept = el('vscode-single-select', { id: 'kept' }) as HTMLElement & { value: string };
const text = el('vscode-textfield', { id: 'search', placeholder: 'search question, answer, key' }) as HTMLElement & { value: string };
const num = (id: string, ph: string) => el('vscode-textfield', { id, type: 'number', placeholder: ph, min: 0, max: 100 }) as HTMLElement & { value: string };
const tMin = num('trait-min', 'min'), tMax = num('trait-max', 'max'), cMin = num('coh-min', 'min'), cMax = num('coh-max', 'max');
const group = el('vscode-checkbox', { id: 'group', label: 'group by question' }) as HTMLElement & { checked: boolean };
const field = (label: string, ...c: Node[]) => el('label', {}, label, ...c);
const toolbar = el('div', { class: 'toolbar' }, field('condition', cond), field('paired filter', kept), field('trait ≥', tMin), field('trait ≤', tMax),
  field('coherence ≥', cMin), field('coherence ≤', cMax), field('text', text), group);
const head = el('div', { class: 'vrow head', role: 'row' });
const spacer = el('div', { class: 'spacer' });
const scroller = el('div', { class: 'vtable', role: 'table', tabIndex: 0 }, spacer);
const detail = el('div', { class: 'detail', hidden: true, id: 'detail' });
const histos = el('div', { class: 'grid2' });
const perQuestion = el('div');
root.replaceChildren(title, sub, filterStats, toolbar, count, head, scroller, detail, el('h3', {}, 'Score distributions per condition'), histos, el('h3', {}, 'Δτ per question'), perQuestion);

for (const [k, label] of COLUMNS) {
  const h = el('span', { role: 'columnheader', 'data-key': k, title: `sort by ${label}` }, label);
  if (k === 'trait' || k === 'coherence') h.classList.add('num');
  h.addEventListener('click', () => { ui.desc = ui.sort === k ? !ui.desc : k === 'trait' || k === 'coherence'; ui.sort = k; apply(); });
  head.append(h);
}

function options(select: HTMLElement, values: [string, string][], current: string): void {
  select.replaceChildren(...values.map(([v, l]) => el('vscode-option', { value: v, selected: v === current }, l)));
  (select as HTMLElement & { value: string }).value = current;
}

// ------------------------------------------------------------------ filter, sort, group
function apply(): void {
  if (!view) return;
  const t0 = performance.now();
  const q = ui.text.trim().toLowerCase();
  const rng = (s: string, d: number) => (s.trim() === '' || !Number.isFinite(Number(s)) ? d : Number(s));
  const tlo = rng(ui.traitMin, -Infinity), thi = rng(ui.traitMax, Infinity), clo = rng(ui.cohMin, -Infinity), chi = rng(ui.cohMax, Infinity);
  const bounded = (x: number | null, lo: number, hi: number) => (lo === -Infinity && hi === Infinity) || (x !== null && x >= lo && x <= hi);
  const rows = view.rows.filter((r) =>
    (!ui.condition || r.label === ui.condition || r.condition === ui.condition)
    && (!ui.kept || (ui.kept === 'kept' ? r.kept === true : ui.kept === 'dropped' ? r.kept === false : r.kept === null))
    && bounded(r.trait, tlo, thi) && bounded(r.coherence, clo, chi)
    && (!q || r.question.toLowerCase().includes(q) || r.answer.toLowerCase().includes(q) || r.key.toLowerCase().includes(q)));
  const dir = ui.desc ? -1 : 1;
  const key = ui.sort;
  const val = (r: JudgeRow): string | number => (key === 'trait' || key === 'coherence' ? r[key] ?? -1 : key === 'kept' ? keptText(r) : key === 'question' ? r.qid * 1e6 + r.line : r[key]);
  rows.sort((a, b) => { const x = val(a), y = val(b); return (x < y ? -1 : x > y ? 1 : a.src - b.src || a.line - b.line) * dir; });
  if (ui.group) {
    const groups = new Map<string, JudgeRow[]>();
    for (const r of rows) { const g = groups.get(r.question); if (g) g.push(r); else groups.set(r.question, [r]); }
    shown = [];
    for (const [question, rs] of groups) {
      const base = mean(rs.filter((r) => r.condition === 'baseline' || r.condition === 'neg').map((r) => r.trait));
      const other = mean(rs.filter((r) => r.condition !== 'baseline' && r.condition !== 'neg').map((r) => r.trait));
      shown.push({ group: question, n: rs.length, delta: base !== null && other !== null ? other - base : null }, ...rs);
    }
  } else shown = rows;
  const ms = performance.now() - t0;
  count.textContent = `${rows.length} of ${view.rows.length} answers (${view.jsonlLines} records in ${view.sources.length} run${view.sources.length === 1 ? '' : 's'})`;
  count.dataset.shown = String(rows.length);
  count.dataset.total = String(view.rows.length);
  count.dataset.ms = ms.toFixed(1);
  for (const h of head.children) (h as HTMLElement).textContent = COLUMNS.find(([k]) => k === (h as HTMLElement).dataset.key)![1] + ((h as HTMLElement).dataset.key === ui.sort ? (ui.desc ? ' ▼' : ' ▲') : '');
  spacer.style.height = `${shown.length * ROW_H}px`;
  scroller.scrollTop = 0;
  draw();
  vscode.save(ui);
  vscode.post({ type: 'filtered', shown: rows.length, ms });
}

// Only the rows in view (plus a margin) are in the DOM.
function draw(): void {
  const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_H) - 10);
  const last = Math.min(shown.length, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW_H) + 10);
  const nodes: HTMLElement[] = [];
  for (let i = first; i < last; i++) {
    const r = shown[i];
    let row: HTMLElement;
    if ('group' in r) {
      row = el('div', { class: 'vrow group', role: 'row', title: r.group }, el('span', {}, `${r.group}`), el('span', {}, `${r.n} answers`), el('span', {}, r.delta === null ? '' : `Δτ ${fmt(r.delta)}`));
    } else {
      row = el('div', { class: 'vrow', role: 'row', 'data-line': r.line, title: r.answer.slice(0, 400) },
        el('span', {}, r.question), el('span', {}, r.label), el('span', {}, r.answer.replace(/\s+/g, ' ')),
        el('span', { class: 'num' }, fmt(r.trait)), el('span', { class: 'num' }, fmt(r.coherence)), el('span', { title: r.why ?? '' }, keptText(r) || '–'));
      if (r === selected) row.classList.add('selected');
      row.addEventListener('click', () => select(r));
    }
    row.style.top = `${i * ROW_H}px`;
    row.style.height = `${ROW_H}px`;
    nodes.push(row);
  }
  spacer.replaceChildren(...nodes);
}
scroller.addEventListener('scroll', () => requestAnimationFrame(draw), { passive: true });
window.addEventListener('resize', () => requestAnimationFrame(draw));

function select(r: JudgeRow): void {
  selected = r;
  draw();
  const open = el('a', { class: 'link', id: 'open-record', role: 'button', tabIndex: 0 }, 'Open raw record');
  open.addEventListener('click', () => vscode.post({ type: 'openRecord', src: r.src, line: r.line }));
  detail.replaceChildren(
    el('div', { class: 'muted' }, `${r.key} · ${r.label}${r.layer !== null ? ` (layer ${r.layer}, coef ${r.coef})` : ''} · trait ${fmt(r.trait)} · coherence ${fmt(r.coherence)}${r.kept === null ? '' : ` · ${keptText(r)}`} · `, open),
    el('b', {}, 'Question'), el('pre', {}, r.question), el('b', {}, 'Answer'), el('pre', {}, r.answer),
    ...(['trait', 'coherence'] as const).flatMap((m) => (r.logprobs?.[m] ? [logprobTable(m, r[m], r.logprobs[m])] : [])));
  detail.hidden = false;
}

/**
 * The LLM judge's first-token distribution behind one score: each candidate token (quoted, so whitespace shows), its
 * probability as a bar, and the number it reads as; the score is the probability-weighted mean over the numbers.
 */
function logprobTable(metric: 'trait' | 'coherence', score: number | null, d: TokenDistribution): HTMLElement {
  const max = Math.max(1e-9, ...d.tokens.map((t) => t.p));
  const body = el('tbody', {}, ...d.tokens.map((t) => {
    const bar = el('span', { class: 'pbar' });
    bar.style.width = `${Math.max(1, Math.round(100 * t.p / max))}%`;
    return el('tr', { class: t.value === null ? 'muted' : '' }, el('td', { class: 'tok' }, JSON.stringify(t.token)), el('td', { class: 'num' }, `${(100 * t.p).toFixed(t.p < 0.001 ? 3 : 1)} %`),
      el('td', { class: 'pcell' }, bar), el('td', { class: 'num' }, t.value === null ? 'not a number' : String(t.value)));
  }));
  const caption = el('caption', {}, `${metric} ${fmt(score)}: judge's top-${d.tokens.length} first-token logprobs · numeric mass ${(100 * d.mass).toFixed(1)} %` +
    (d.mass < 0.25 ? ' (under 25 %, so no score)' : ' · score = Σ p·n / Σ p over the numbers'));
  return el('table', { class: 'data logprobs', 'data-logprobs': metric }, caption,
    el('thead', {}, el('tr', {}, el('th', {}, 'token'), el('th', {}, 'p'), el('th', {}, ''), el('th', {}, 'reads as'))), body);
}

// ------------------------------------------------------------------ static parts: filter stats, histograms, Δτ per question
function drawStatic(v: JudgeView): number {
  for (const c of charts) c.destroy();
  charts = [];
  filterStats.replaceChildren();
  for (const f of v.filters) {
    const t = el('table', { class: 'data', 'data-table': 'filter' });
    const keys = ['pairs_total', 'pairs_kept', 'pos_trait_pass', 'neg_trait_pass', 'pos_coherence_pass', 'neg_coherence_pass', 'missing_scores', 'empty_answers'].filter((k) => k in f.stats);
    t.append(el('thead', {}, el('tr', {}, el('th', {}, `paired filter (${f.run}, threshold ${f.stats.threshold ?? 50})`), ...keys.map((k) => el('th', {}, k.replace(/_/g, ' '))))),
      el('tbody', {}, el('tr', {}, el('td', {}, 'pairs'), ...keys.map((k) => el('td', {}, `${f.stats[k] ?? '–'}${k !== 'pairs_total' && f.stats.pairs_total ? ` (${Math.round(100 * Number(f.stats[k]) / Number(f.stats.pairs_total))} %)` : ''}`)))));
    filterStats.append(t);
  }
  histos.replaceChildren();
  const conditions = [...new Set(v.rows.map((r) => r.condition))];
  const bins = Array.from({ length: 10 }, (_, i) => `${i * 10}–${i * 10 + 10}`);
  const hist = (metric: 'trait' | 'coherence') => conditions.map((c) => {
    const h = new Array<number>(10).fill(0);
    for (const r of v.rows) if (r.condition === c && r[metric] !== null) h[Math.min(9, Math.max(0, Math.floor(r[metric]! / 10)))]++;
    return { c, h };
  });
  for (const metric of ['trait', 'coherence'] as const) {
    const data = hist(metric);
    const box = el('div', { 'data-chart': metric });
    histos.append(box);
    charts.push(kitChart(box, {
      name: `${v.title.replace(/^Judge Results: /, '')}-${metric}-histogram`, height: 220,
      config: { type: 'bar', data: { labels: bins, datasets: data.map((d, i) => ({ label: d.c, data: d.h, kitColourIndex: i, kitFill: true } as any)) },
        options: { scales: { x: { title: { display: true, text: `${metric} score` } }, y: { title: { display: true, text: 'answers' }, beginAtZero: true } } } as any },
      csv: () => toCsv(['condition', ...bins], data.map((d) => [d.c, ...d.h])),
    }));
  }
  // Δτ per question: each condition's mean trait minus the reference's (baseline; neg for an extraction).
  perQuestion.replaceChildren();
  const ref = v.rows.some((r) => r.condition === 'baseline') ? 'baseline' : v.rows.some((r) => r.condition === 'neg') ? 'neg' : undefined;
  if (!ref) { perQuestion.append(el('div', { class: 'muted' }, 'No baseline rows in this run.')); return charts.length; }
  const labels = [...new Set(v.rows.filter((r) => r.condition !== ref).map((r) => r.label))].slice(0, 40);
  const qids = [...new Set(v.rows.map((r) => r.qid))].sort((a, b) => a - b);
  const questionOf = new Map(v.rows.map((r) => [r.qid, r.question]));
  const acc = new Map<string, { s: number; n: number }>();
  for (const r of v.rows) {
    if (r.trait === null) continue;
    const k = `${r.qid}|${r.condition === ref ? ref : r.label}`;
    const a = acc.get(k) ?? { s: 0, n: 0 };
    a.s += r.trait; a.n++;
    acc.set(k, a);
  }
  const m = (qid: number, l: string) => { const a = acc.get(`${qid}|${l}`); return a ? a.s / a.n : null; };
  heatMap(perQuestion, {
    name: `${v.title.replace(/^Judge Results: /, '')}-delta-trait-per-question`, rowTitle: 'question', colTitle: `condition − ${ref}`,
    rows: qids.map((q) => `${q}: ${(questionOf.get(q) ?? '').slice(0, 40)}`), cols: labels, digits: 1,
    values: qids.map((q) => labels.map((l) => { const a = m(q, l), b = m(q, ref); return a !== null && b !== null ? a - b : null; })),
    title: (r, c) => `${questionOf.get(qids[r])}\n${labels[c]} − ${ref}: ${fmt((() => { const a = m(qids[r], labels[c]), b = m(qids[r], ref); return a !== null && b !== null ? a - b : null; })(), 2)}`,
  });
  return charts.length;
}

// ------------------------------------------------------------------ wiring
const bind = (e: HTMLElement, k: keyof UiState, event = 'input') => e.addEventListener(event, () => { (ui as unknown as Record<string, unknown>)[k] = (e as HTMLElement & { value: string }).value; apply(); });
bind(cond, 'condition', 'change'); bind(kept, 'kept', 'change'); bind(text, 'text'); bind(tMin, 'traitMin'); bind(tMax, 'traitMax'); bind(cMin, 'cohMin'); bind(cMax, 'cohMax');
group.addEventListener('change', () => { ui.group = group.checked; apply(); });

onMessage<ToWebview>((m) => {
  if (m?.type !== 'judge') return;
  const t0 = performance.now();
  view = m.view;
  const saved = vscode.state();
  ui = !m.update && saved && saved.source === view.source ? { ...defaults(view.source), ...saved } : ui && ui.source === view.source ? ui : defaults(view.source);
  title.textContent = view.title;
  sub.textContent = `${view.kind} run · ${view.rows.length} answers${view.sources.length > 1 ? ` from ${view.sources.length} stage runs` : ''}`;
  const labels = [...new Set(view.rows.map((r) => r.condition))].map((c) => [c, c] as [string, string]);
  const fine = [...new Set(view.rows.map((r) => r.label))].filter((l) => !labels.some(([c]) => c === l)).map((l) => [l, l] as [string, string]);
  options(cond, [['', 'all'], ...labels, ...fine], ui.condition);
  options(kept, [['', 'all'], ['kept', 'kept'], ['dropped', 'dropped'], ['none', 'not filtered']], ui.kept);
  text.value = ui.text; tMin.value = ui.traitMin; tMax.value = ui.traitMax; cMin.value = ui.cohMin; cMax.value = ui.cohMax; group.checked = ui.group;
  const nCharts = drawStatic(view);
  apply();
  const ms = performance.now() - t0;
  requestAnimationFrame(() => vscode.post({ type: 'rendered', rows: view!.rows.length, charts: nCharts, ms }));
});
vscode.post({ type: 'ready' });
