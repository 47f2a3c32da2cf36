/**
 * Steering Playground (runs in the webview): a form (prompt; steering rows of vector, layer and coef; positions;
 * scaling; n, seed, temperature, max tokens) and two columns, Baseline | Steered, that fill token by token. After a
 * run each answer is drawn as a per-token heat-map of the monitor's projection (diverging colours from the theme,
 * a legend, the value on hover), and the columns get judge scores. All model work happens in the extension
 * (src/extension/playground.ts); this page only sends the form and draws what comes back. Messages are typed in
 * ./protocol.ts; the kit (../kit) gives the VS Code API, state across reloads, the theme and the stylesheet.
 */
import '../kit/kit.css';
import './style.css';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-form-helper/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import { divergingColour, onTheme, theme, type Theme } from '../kit/theme.js';
import { el, host, onMessage } from '../kit/kit.js';
import {
  MAX_STEER_ROWS, type Answer, type Column, type ColumnMeans, type FromWebview, type GenerationRequest, type HeatRow, type PlaygroundModel,
  type PlaygroundState, type PlaygroundVector, type Positions, type Scaling, type Score, type SteerRow, type ToWebview,
} from './protocol.js';

const vscode = host<FromWebview, PlaygroundState>();
const COLUMNS: Column[] = ['baseline', 'steered'];

// ---------------------------------------------------------------- the page (built once)
const title = el('h2', {}, 'Steering Playground');
const status = el('div', { id: 'status' }, 'Starting…');
const notice = el('div', { id: 'notice', hidden: true });
const errorBox = el('div', { id: 'error', role: 'alert', hidden: true });
const savedBox = el('div', { id: 'saved', hidden: true });
const prompt = el('vscode-textarea', { id: 'prompt', rows: 3, resize: 'vertical', placeholder: 'A question for the model, e.g. how do i clean a hat ?' });
const number = (id: string, step: number, min?: number, max?: number) => el('vscode-textfield', { id, type: 'number', step, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) });
const n = number('n', 1, 1, 32);
const seed = number('seed', 1, 0);
const temperature = number('temperature', 0.1, 0, 5);
const maxTokens = number('maxTokens', 1, 1, 4096);
const targetNorm = number('targetNorm', 0.5, 0);
const select = (id: string, options: [string, string][]) => el('vscode-single-select', { id }, ...options.map(([v, label]) => el('vscode-option', { value: v }, label)));
const positions = select('positions', [['response', 'response (last prompt token + answer)'], ['prompt', 'prompt (prefill only)'], ['all', 'all (prompt + answer)']]);
const scaling = select('scaling', [['raw', 'raw: coef · v'], ['unit', 'unit: coef · v / ‖v‖'], ['target-norm', 'target-norm: coef · N · v / ‖v‖']]);
const field = (label: string, forId: string, control: HTMLElement, cls = '') => el('div', { class: `field ${cls}` }, el('vscode-label', { for: forId }, label), control);
const hint = el('vscode-form-helper', { id: 'hint' });
const steerRows = el('div', { id: 'steer-rows' });
const addRow = el('vscode-button', { id: 'add-row', secondary: true, title: 'Steer with one more vector (rows add up)' }, '+ Add vector');
const generate = el('vscode-button', { id: 'generate' }, 'Generate');
const stop = el('vscode-button', { id: 'stop', secondary: true, disabled: true }, 'Stop');
const judge = el('vscode-button', { id: 'judge', secondary: true, disabled: true, title: 'Score every answer with the configured judge' }, 'Judge these answers');
const save = el('vscode-button', { id: 'save-prompts', secondary: true, title: 'Append the prompt, with these settings, to a JSONL prompt file in the workspace' }, 'Save as prompt file');
const extract = el('vscode-button', { id: 'extract', secondary: true, hidden: true }, 'Extract Persona Vector…');
const ring = el('vscode-progress-ring', { hidden: true });
const runStatus = el('span', { id: 'run-status' });
const heatBy = el('vscode-single-select', { id: 'heat-by' });
const legend = el('div', { class: 'legend', id: 'legend' });
const heatBar = el('div', { class: 'heat-bar', hidden: true }, el('vscode-label', { for: 'heat-by' }, 'Token colours: projection onto'), heatBy, legend);
function column(c: Column): { section: HTMLElement; heading: HTMLElement; mean: HTMLElement; answers: HTMLElement } {
  const heading = el('h3', {}, c === 'baseline' ? 'Baseline' : 'Steered');
  const mean = el('div', { class: 'mean' });
  const answers = el('div', { class: 'answers' });
  return { section: el('section', { class: 'column', 'data-column': c }, heading, mean, answers), heading, mean, answers };
}
const columns = { baseline: column('baseline'), steered: column('steered') };

const form = el('div', { class: 'form', hidden: true },
  field('Prompt', 'prompt', prompt, 'wide'),
  el('div', { class: 'wide steer' }, el('vscode-label', {}, 'Steering (vector · layer ℓ · coefficient; rows add up)'), steerRows, el('div', {}, addRow)),
  field('Positions', 'positions', positions, 'span2'),
  field('Scaling', 'scaling', scaling, 'span2'),
  field('Target norm N', 'targetNorm', targetNorm),
  field('Answers per column (n)', 'n', n),
  field('Seed', 'seed', seed),
  field('Temperature', 'temperature', temperature),
  field('Max tokens', 'maxTokens', maxTokens),
  el('div', { class: 'wide' }, hint));
const root = document.getElementById('root')!;
root.replaceChildren(title, status, notice, form, el('div', { class: 'actions' }, generate, stop, judge, save, extract, ring, runStatus), errorBox, savedBox, heatBar,
  el('div', { class: 'columns' }, columns.baseline.section, columns.steered.section));

// ---------------------------------------------------------------- state
let model: PlaygroundModel | undefined;
let source = '';
let vectors: PlaygroundVector[] = [];
let currentRun: string | undefined;
/** The last finished (not cancelled) run: what "Judge these answers" scores. */
let judgeable: string | undefined;
let running = false;

interface Card { card: HTMLElement; meta: HTMLElement; body: HTMLElement; text: Text; answer?: Answer }
let cards: Record<Column, Card[]> = { baseline: [], steered: [] };
let heatRows: HeatRow[] = [];

function setRunning(on: boolean, text = ''): void {
  running = on;
  generate.disabled = on || vectors.length === 0;
  stop.disabled = !on;
  judge.disabled = on || !judgeable;
  ring.hidden = !on;
  runStatus.textContent = text;
}

function showError(message: string | undefined): void {
  errorBox.hidden = !message;
  errorBox.textContent = message ?? '';
}

/** A number into a field; NaN (an emptied field saved in the state) leaves it empty. */
function setValue(f: VscodeTextfield, v: number): void { f.value = Number.isFinite(v) ? String(v) : ''; }
/** A field's number; an emptied field is NaN (Number('') would be 0: layer 0 = the embeddings, coef 0 = no steering), which the extension refuses by name. */
function fieldNumber(f: VscodeTextfield): number { return String(f.value ?? '').trim() === '' ? Number.NaN : Number(f.value); }
function setSelect(s: VscodeSingleSelect, value: string): void {
  for (const o of s.querySelectorAll('vscode-option')) o.selected = o.value === value;
  s.value = value;
}

// ---------------------------------------------------------------- steering rows
interface RowControls { row: HTMLElement; vector: VscodeSingleSelect; range: HTMLInputElement; layer: VscodeTextfield; coef: VscodeTextfield; remove: HTMLElement; chosen: string }
let rows: RowControls[] = [];

function addSteerRow(r: SteerRow): void {
  const i = rows.length;
  const vector = el('vscode-single-select', { class: 'vector', 'aria-label': `persona vector, row ${i + 1}` }, ...vectors.map((v) => el('vscode-option', { value: v.id }, v.label)));
  const range = el('input', { class: 'layer-range', type: 'range', min: '0', max: String(model?.numLayers ?? 1), step: '1', 'aria-label': `layer, row ${i + 1}` });
  const layer = el('vscode-textfield', { class: 'layer', type: 'number', step: 1, min: 0, max: model?.numLayers ?? 1, 'aria-label': `layer ℓ, row ${i + 1}` });
  const coef = el('vscode-textfield', { class: 'coef', type: 'number', step: 0.5, 'aria-label': `coefficient, row ${i + 1}` });
  const remove = el('vscode-button', { class: 'remove', secondary: true, title: 'Remove this steering row' }, 'Remove');
  const row = el('div', { class: 'steer-row', 'data-row': i },
    el('div', { class: 'field' }, el('vscode-label', {}, 'Vector'), vector),
    el('div', { class: 'field' }, el('vscode-label', {}, 'Layer ℓ'), el('div', { class: 'layer-box' }, range, layer)),
    el('div', { class: 'field' }, el('vscode-label', {}, 'Coef'), coef),
    remove);
  const c: RowControls = { row, vector, range, layer, coef, remove, chosen: '' };
  const setLayer = (v: number) => { setValue(layer, v); range.value = String(v); };
  setLayer(r.layer);
  setValue(coef, r.coef);
  c.chosen = r.vector;
  setSelect(vector, r.vector);
  vector.addEventListener('change', () => { c.chosen = vector.value; persist(); });
  range.addEventListener('input', () => { setValue(layer, Number(range.value)); persist(); });
  // The slider follows a typed value (an emptied field leaves it where it was; the run is refused by name).
  layer.addEventListener('input', () => { if (String(layer.value).trim() !== '') range.value = String(layer.value); persist(); });
  coef.addEventListener('input', persist);
  remove.addEventListener('click', () => { rows = rows.filter((x) => x !== c); row.remove(); renumber(); persist(); });
  rows.push(c);
  steerRows.append(row);
  renumber();
}

function renumber(): void {
  rows.forEach((r, i) => { r.row.dataset.row = String(i); r.remove.hidden = rows.length === 1; });
  addRow.disabled = rows.length >= MAX_STEER_ROWS;
}

function setSteer(steer: SteerRow[]): void {
  rows = [];
  steerRows.replaceChildren();
  for (const r of steer) addSteerRow(r);
}

function readForm(): GenerationRequest {
  return {
    prompt: prompt.value,
    steer: rows.map((r) => ({ vector: r.chosen, layer: fieldNumber(r.layer), coef: fieldNumber(r.coef) })),
    positions: (positions.value || 'response') as Positions, scaling: (scaling.value || 'raw') as Scaling, targetNorm: fieldNumber(targetNorm),
    n: fieldNumber(n), seed: fieldNumber(seed), temperature: fieldNumber(temperature), maxTokens: fieldNumber(maxTokens),
  };
}

function applyFields(f: Partial<GenerationRequest>): void {
  if (f.prompt !== undefined) prompt.value = f.prompt;
  if (f.steer !== undefined && f.steer.length) setSteer(f.steer);
  if (f.positions !== undefined) setSelect(positions, f.positions);
  if (f.scaling !== undefined) setSelect(scaling, f.scaling);
  if (f.targetNorm !== undefined) setValue(targetNorm, f.targetNorm);
  if (f.n !== undefined) setValue(n, f.n);
  if (f.seed !== undefined) setValue(seed, f.seed);
  if (f.temperature !== undefined) setValue(temperature, f.temperature);
  if (f.maxTokens !== undefined) setValue(maxTokens, f.maxTokens);
  targetNorm.disabled = scaling.value !== 'target-norm';
}

/** Saves the checkpoint and the form (getState/setState): a window reload reopens both. */
function persist(): void {
  if (source) vscode.save({ source, form: readForm() });
}

function setHint(L: number): void {
  hint.textContent = `layer ℓ = residual stream after ℓ blocks (hidden_states[ℓ]); ℓ = 0 is the embeddings, ℓ = L = ${L} is after the final norm. `
    + 'Positions: response adds coef · v[ℓ] at the last prompt token and at every generated token; prompt at every prompt token only; all everywhere. '
    + 'Baseline answer i and steered answer i share seed + i, so the only difference between the columns is the steering.';
}

/** Drops the answers of an earlier run, so a new error is not read next to results it did not produce. */
function clearResults(): void {
  currentRun = undefined;
  judgeable = undefined;
  judge.disabled = true;
  cards = { baseline: [], steered: [] };
  heatBar.hidden = true;
  for (const c of COLUMNS) { columns[c].mean.textContent = ''; columns[c].answers.replaceChildren(); }
}

/** Sends the form; `auto` (the command asked for a run) reports a refusal to the extension, which is waiting. */
function requestGeneration(auto = false): void {
  if (running) return;
  const refuse = (message: string) => { clearResults(); showError(message); if (auto) vscode.post({ type: 'error', message }); };
  showError(undefined);
  savedBox.hidden = true;
  const req = readForm();
  if (!req.prompt.trim()) return refuse('Type a prompt first.');
  if (req.steer.length === 0 || req.steer.some((r) => !r.vector)) return refuse('Pick a persona vector in every steering row (none yet? run "Persona Lab: Extract Persona Vector…").');
  setRunning(true, 'Generating…');
  vscode.post({ type: 'generate', request: req });
}

// ---------------------------------------------------------------- drawing a run
const fmt = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(1));
const traitOf = (id: string) => vectors.find((v) => v.id === id)?.trait ?? id;

function startRun(runId: string, req: GenerationRequest, traits: string[]): void {
  currentRun = runId;
  judgeable = undefined;
  cards = { baseline: [], steered: [] };
  heatBar.hidden = true;
  const what = req.steer.map((s, i) => `${traits[i] ?? traitOf(s.vector)} ℓ = ${s.layer}, coef ${s.coef}`).join(' + ');
  columns.steered.heading.textContent = `Steered — ${what} (${req.positions}, ${req.scaling}${req.scaling === 'target-norm' ? ` N = ${req.targetNorm}` : ''})`;
  for (const c of COLUMNS) {
    columns[c].mean.textContent = '';
    columns[c].answers.replaceChildren();
    for (let i = 0; i < req.n; i++) {
      const meta = el('span', { class: 'meta' });
      const text = document.createTextNode('');
      const body = el('div', { class: 'text' }, text);
      const card = el('article', { class: 'answer', 'data-index': i, 'data-state': 'streaming' },
        el('header', {}, el('span', {}, `#${i + 1} · seed ${req.seed + i}`), meta), body);
      columns[c].answers.append(card);
      cards[c].push({ card, meta, body, text });
    }
  }
}

function metaText(a: Answer): string {
  const scores = a.trait !== undefined || a.coherence !== undefined ? ` · trait ${fmt(a.trait)} · coherence ${fmt(a.coherence)}` : '';
  // "Was the vector applied?": the norm the engine actually added, per steered layer, and on how many tokens.
  const applied = a.applied?.map((x) => ` · added ‖Δ‖ ${x.norm.toPrecision(3)} at ℓ${x.layer} on ${x.tokens} tok`).join('') ?? '';
  return `${a.tokens} tok, ${a.finishReason}${applied}${scores}`;
}

function showMeans(means: Record<Column, ColumnMeans> | undefined, judgeId: string | undefined): number {
  let shown = 0;
  for (const c of COLUMNS) {
    const m = means?.[c];
    const by = judgeId ? (judgeId.startsWith('rubric:') ? 'offline rubric judge' : judgeId) : '';
    columns[c].mean.textContent = m && (m.trait !== undefined || m.coherence !== undefined) ? `mean trait ${fmt(m.trait)} · coherence ${fmt(m.coherence)} (${by})` : '';
    if (columns[c].mean.textContent) shown++;
  }
  return shown;
}

function finishRun(m: Extract<ToWebview, { type: 'finished' }>): void {
  let streamed = 0, appliedShown = 0;
  for (const a of m.answers) {
    const c = cards[a.column][a.index];
    if (!c) continue;
    if (c.text.data === a.text && a.text.length > 0) streamed++;
    c.text.data = a.text;
    c.answer = a;
    c.card.dataset.state = m.cancelled ? 'cancelled' : 'done';
    c.meta.textContent = metaText(a);
    if (a.applied?.some((x) => x.norm > 0 && x.tokens > 0)) { c.card.dataset.applied = 'yes'; appliedShown++; }
  }
  heatRows = m.heatRows;
  const shown = showMeans(m.means, m.judge);
  const heat = drawHeat();
  judgeable = m.cancelled ? undefined : m.runId;
  setRunning(false, m.cancelled ? 'Stopped.' : `Done in ${(m.elapsedMs / 1000).toFixed(1)} s (${m.tokensPerSecond.toFixed(0)} tokens/s).`);
  const count = (c: Column) => cards[c].filter((x) => (x.answer?.text ?? x.text.data).length > 0).length;
  vscode.post({ type: 'done', runId: m.runId, cancelled: m.cancelled, rendered: { baseline: count('baseline'), steered: count('steered'), means: shown, streamed, applied: appliedShown, ...heat } });
}

function showJudged(m: Extract<ToWebview, { type: 'judged' }>): void {
  if (m.runId !== currentRun) return;
  let scored = 0;
  for (const s of m.scores as Score[]) {
    const c = cards[s.column][s.index];
    if (!c?.answer) continue;
    c.answer.trait = s.trait;
    c.answer.coherence = s.coherence;
    c.meta.textContent = metaText(c.answer);
    if (s.trait !== undefined || s.coherence !== undefined) scored++;
  }
  const means = showMeans(m.means, m.judge);
  setRunning(false, `Judged by ${m.judge.startsWith('rubric:') ? 'the offline rubric judge' : m.judge}.`);
  vscode.post({ type: 'judge-drawn', runId: m.runId, scored, means });
}

// ---------------------------------------------------------------- the per-token heat-map
/** Diverging colour of f ∈ [−1, 1] from the theme (the kit's, as its heat-maps): red toward the trait, blue away. */
const colour = (f: number, t: Theme) => divergingColour(f, t);

let heatScale = 1;
/** Draws every answer of the run as coloured token spans for the chosen row; returns what it drew. */
function drawHeat(): { heatAnswers: number; heatTokens: number } {
  const withHeat = COLUMNS.flatMap((c) => cards[c]).filter((c) => c.answer?.heat && c.answer.heat.tokens.length > 0);
  if (withHeat.length === 0 || heatRows.length === 0) { heatBar.hidden = true; return { heatAnswers: 0, heatTokens: 0 }; }
  const keep = Number(heatBy.value || 0);
  heatBy.replaceChildren(...heatRows.map((h, i) => el('vscode-option', { value: String(i) }, `${h.trait} at ℓ ${h.layer}`)));
  const row = keep < heatRows.length ? keep : 0;
  setSelect(heatBy, String(row));
  // One scale for both columns (so they compare): symmetric around 0 over the largest |projection| of the run.
  heatScale = Math.max(1e-9, ...withHeat.flatMap((c) => c.answer!.heat!.values[row].map((v) => Math.abs(v))));
  let heatTokens = 0;
  const t = theme();
  for (const c of withHeat) {
    const h = c.answer!.heat!;
    const spans = h.tokens.map((tok, k) => {
      const v = h.values[row][k];
      const s = el('span', { class: 'tok', title: `${JSON.stringify(tok)} · projection ${v >= 0 ? '+' : ''}${v.toFixed(3)} (${heatRows[row].trait} at ℓ ${heatRows[row].layer})`, 'data-v': v.toFixed(4) }, tok);
      const col = colour(v / heatScale, t);
      s.style.background = col.bg;
      s.style.color = col.fg;
      if (tok.length > 0) heatTokens++;
      return s;
    });
    // Text the tokens do not cover (held-back deltas, a stop string) stays plain after them.
    const covered = h.tokens.join('');
    const rest = c.answer!.text.startsWith(covered) ? c.answer!.text.slice(covered.length) : '';
    const mean = h.values[row].reduce((s, v) => s + v, 0) / Math.max(1, h.values[row].length);
    c.body.replaceChildren(...spans, rest);
    c.body.dataset.heat = 'yes';
    c.meta.textContent = `${metaText(c.answer!)} · mean proj ${mean >= 0 ? '+' : ''}${mean.toFixed(2)}`;
  }
  drawLegend(row, t);
  heatBar.hidden = false;
  return { heatAnswers: withHeat.length, heatTokens };
}

function drawLegend(row: number, t: Theme): void {
  const steps = 11;
  const swatches = Array.from({ length: steps }, (_, i) => {
    const f = -1 + (2 * i) / (steps - 1);
    const s = el('span', { class: 'swatch', title: `${(f * heatScale).toFixed(3)}` });
    s.style.background = colour(f, t).bg;
    return s;
  });
  const h = heatRows[row];
  legend.replaceChildren(el('span', { class: 'lo' }, `−${heatScale.toFixed(2)}`), ...swatches, el('span', { class: 'hi' }, `+${heatScale.toFixed(2)}`),
    el('span', { class: 'muted' }, ` scalar projection of hidden_states[${h.layer}] at each token onto unit(${h.trait}[${h.layer}]) — an unsteered forward over prompt + answer, as \`persona-lab monitor\` reads it; red: toward the trait`));
}

/** Re-colours the heat-map from the new theme's colours (the kit's theme watcher calls it). */
function rethemeHeat(t: Theme): void {
  if (heatBar.hidden) return;
  const row = Number(heatBy.value || 0);
  for (const s of root.querySelectorAll<HTMLElement>('.answer .tok')) {
    const col = colour(Number(s.dataset.v) / heatScale, t);
    s.style.background = col.bg;
    s.style.color = col.fg;
  }
  drawLegend(row, t);
}
onTheme(rethemeHeat);

// ---------------------------------------------------------------- messages
function init(m: Extract<ToWebview, { type: 'init' }>): void {
  const fresh = !model || model.path !== m.model.path;
  const keep = fresh ? undefined : readForm();
  model = m.model;
  source = m.source;
  vectors = m.vectors;
  title.textContent = `Steering Playground — ${m.model.name}@${m.model.revision}`;
  status.textContent = `${m.model.path} · L = ${m.model.numLayers}${m.model.toy ? ' · toy model: answers scored by the offline rubric judge' : ''}`;
  setHint(m.model.numLayers);
  if (fresh) applyFields(m.defaults);
  else if (keep) {
    // The vector list changed (an extraction finished): keep the rows, and give rows whose vector is gone the default.
    applyFields({ ...keep, steer: keep.steer.map((r) => (m.vectors.some((v) => v.id === r.vector) ? r : { ...r, vector: m.defaults.steer[0].vector })) });
  }
  if (m.preset) applyFields(m.preset);
  notice.hidden = !m.notice;
  notice.textContent = m.notice ?? '';
  extract.hidden = m.vectors.length > 0;
  addRow.disabled = m.vectors.length === 0 || rows.length >= MAX_STEER_ROWS;
  generate.disabled = running || m.vectors.length === 0;
  form.hidden = false;
  showError(undefined);
  persist();
  vscode.post({ type: 'initialized', vectors: m.vectors.length, form: readForm() });
  if (m.autoRun) requestGeneration(true);
}

onMessage<ToWebview>((m) => {
  switch (m.type) {
    case 'status': status.textContent = m.text; break;
    case 'init': init(m); break;
    case 'started': startRun(m.runId, m.request, m.traits); setRunning(true, 'Generating…'); break;
    case 'tokens':
      if (m.runId !== currentRun) break;
      for (const d of m.deltas) cards[d.column][d.index]?.text.appendData(d.text);
      break;
    case 'finished': if (m.runId === currentRun) finishRun(m); break;
    case 'judging': if (m.runId === currentRun) setRunning(true, `Judging with ${m.judge.startsWith('rubric:') ? 'the offline rubric judge' : m.judge}…`); stop.disabled = true; break;
    case 'judged': showJudged(m); break;
    case 'saved':
      savedBox.hidden = false;
      savedBox.textContent = `Saved to ${m.relative} (${m.lines} prompt${m.lines === 1 ? '' : 's'}).`;
      break;
    case 'error':
      if (m.runId && currentRun && m.runId !== currentRun && !running) break;
      setRunning(false);
      // An error for a request whose run never started drawing (refused, e.g. an emptied field) leaves no stale
      // answers of the previous run under it; a run that failed mid-stream, or a failed judge, keeps what it drew.
      if (!m.keep && (!m.runId || m.runId !== currentRun)) clearResults();
      judge.disabled = !judgeable;
      showError(m.message);
      break;
  }
});

addRow.addEventListener('click', () => {
  const last = rows[rows.length - 1];
  addSteerRow({ vector: vectors[0]?.id ?? '', layer: last ? fieldNumber(last.layer) : 0, coef: last ? fieldNumber(last.coef) : 1 });
  persist();
});
for (const f of [n, seed, temperature, maxTokens, targetNorm]) f.addEventListener('input', persist);
prompt.addEventListener('input', persist);
positions.addEventListener('change', persist);
scaling.addEventListener('change', () => { targetNorm.disabled = scaling.value !== 'target-norm'; persist(); });
heatBy.addEventListener('change', () => { if (!heatBar.hidden) drawHeat(); });
generate.addEventListener('click', () => requestGeneration());
stop.addEventListener('click', () => vscode.post({ type: 'stop' }));
judge.addEventListener('click', () => { if (judgeable) { showError(undefined); vscode.post({ type: 'judge', runId: judgeable }); } });
save.addEventListener('click', () => {
  const req = readForm();
  if (!req.prompt.trim()) { showError('Type a prompt first.'); return; }
  showError(undefined);
  vscode.post({ type: 'save-prompts', request: req });
});
extract.addEventListener('click', () => vscode.post({ type: 'extract' }));
prompt.addEventListener('keydown', (e: KeyboardEvent) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) requestGeneration(); });
vscode.post({ type: 'ready' });
