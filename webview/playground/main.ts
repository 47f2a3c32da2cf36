/**
 * Steering Playground (runs in the webview): a form (prompt, persona vector, layer, coef, n, seed, temperature,
 * max tokens) and two columns, Baseline | Steered, that fill token by token. All model work happens in the
 * extension (src/extension/playground.ts); this page only sends the form and draws what comes back. Messages are
 * typed in ./protocol.ts. Nothing is fetched: the vscode-elements components are bundled into this script.
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
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import type { Answer, Column, ColumnMeans, FromWebview, GenerationRequest, PlaygroundModel, ToWebview } from './protocol.js';

declare function acquireVsCodeApi(): { postMessage(m: FromWebview): void };
const vscode = acquireVsCodeApi();
const COLUMNS: Column[] = ['baseline', 'steered'];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = String(v);
    else if (k.startsWith('data-') || k === 'for' || k === 'title') e.setAttribute(k, String(v));
    else (e as unknown as Record<string, unknown>)[k] = v;
  }
  e.append(...children);
  return e;
}

// ---------------------------------------------------------------- the page (built once)
const title = el('h2', {}, 'Steering Playground');
const status = el('div', { id: 'status' }, 'Starting…');
const notice = el('div', { id: 'notice', hidden: true });
const errorBox = el('div', { id: 'error', hidden: true });
const prompt = el('vscode-textarea', { id: 'prompt', rows: 3, resize: 'vertical', placeholder: 'A question for the model, e.g. how do i clean a hat ?' });
const vector = el('vscode-single-select', { id: 'vector' });
const layerRange = el('input', { id: 'layer-range', type: 'range', min: '0', max: '1', step: '1' });
const number = (id: string, step: number, min?: number, max?: number) => el('vscode-textfield', { id, type: 'number', step, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) });
const layer = number('layer', 1, 0);
layer.classList.add('field-layer');
const coef = number('coef', 0.5);
const n = number('n', 1, 1, 32);
const seed = number('seed', 1, 0);
const temperature = number('temperature', 0.1, 0, 5);
const maxTokens = number('maxTokens', 1, 1, 4096);
const field = (label: string, forId: string, control: HTMLElement, cls = '') => el('div', { class: `field ${cls}` }, el('vscode-label', { for: forId }, label), control);
const hint = el('vscode-form-helper', { id: 'hint' });
const generate = el('vscode-button', { id: 'generate' }, 'Generate');
const stop = el('vscode-button', { id: 'stop', secondary: true, disabled: true }, 'Stop');
const extract = el('vscode-button', { id: 'extract', secondary: true, hidden: true }, 'Extract Persona Vector…');
const ring = el('vscode-progress-ring', { hidden: true });
const runStatus = el('span', { id: 'run-status' });
function column(c: Column): { section: HTMLElement; heading: HTMLElement; mean: HTMLElement; answers: HTMLElement } {
  const heading = el('h3', {}, c === 'baseline' ? 'Baseline' : 'Steered');
  const mean = el('div', { class: 'mean' });
  const answers = el('div', { class: 'answers' });
  return { section: el('section', { class: 'column', 'data-column': c }, heading, mean, answers), heading, mean, answers };
}
const columns = { baseline: column('baseline'), steered: column('steered') };

const form = el('div', { class: 'form', hidden: true },
  field('Prompt', 'prompt', prompt, 'wide'),
  field('Persona vector', 'vector', vector),
  field('Layer ℓ', 'layer', el('div', { class: 'layer' }, layerRange, layer), 'span2'),
  field('Coefficient', 'coef', coef),
  field('Answers per column (n)', 'n', n),
  field('Seed', 'seed', seed),
  field('Temperature', 'temperature', temperature),
  field('Max tokens', 'maxTokens', maxTokens),
  el('div', { class: 'wide' }, hint));
const root = document.getElementById('root')!;
root.replaceChildren(title, status, notice, form, el('div', { class: 'actions' }, generate, stop, extract, ring, runStatus), errorBox,
  el('div', { class: 'columns' }, columns.baseline.section, columns.steered.section));

// ---------------------------------------------------------------- state
let model: PlaygroundModel | undefined;
let currentRun: string | undefined;
let running = false;
/** The chosen vector's id: the select takes a value set before its options arrive only later, so it is kept here. */
let chosenVector = '';
/** Answer cards of the current run: column → index → card. */
let cards: Record<Column, { card: HTMLElement; meta: HTMLElement; text: Text }[]> = { baseline: [], steered: [] };

function setRunning(on: boolean, text = ''): void {
  running = on;
  generate.disabled = on;
  stop.disabled = !on;
  ring.hidden = !on;
  runStatus.textContent = text;
}

function showError(message: string | undefined): void {
  errorBox.hidden = !message;
  errorBox.textContent = message ?? '';
}

function setValue(f: VscodeTextfield, v: number): void { f.value = String(v); }

function setLayerMax(L: number): void {
  layerRange.max = String(L);
  layer.max = L;
  hint.textContent = `layer ℓ = residual stream after ℓ blocks (hidden_states[ℓ]); ℓ = 0 is the embeddings, ℓ = L = ${L} is after the final norm. `
    + 'Steering adds coef · v[ℓ] at the last prompt token and at every generated token. Baseline answer i and steered answer i share seed + i, '
    + 'so the only difference between the columns is the steering.';
}

function setLayer(v: number): void {
  setValue(layer, v);
  layerRange.value = String(v);
}

function applyFields(f: Partial<GenerationRequest>): void {
  if (f.prompt !== undefined) prompt.value = f.prompt;
  if (f.vector !== undefined) selectVector(f.vector);
  if (f.layer !== undefined) setLayer(f.layer);
  if (f.coef !== undefined) setValue(coef, f.coef);
  if (f.n !== undefined) setValue(n, f.n);
  if (f.seed !== undefined) setValue(seed, f.seed);
  if (f.temperature !== undefined) setValue(temperature, f.temperature);
  if (f.maxTokens !== undefined) setValue(maxTokens, f.maxTokens);
}

function selectVector(id: string): void {
  chosenVector = id;
  for (const o of vector.querySelectorAll('vscode-option')) o.selected = o.value === id;
  vector.value = id;
}

function readForm(): GenerationRequest {
  return {
    prompt: prompt.value, vector: chosenVector, layer: fieldNumber(layer), coef: fieldNumber(coef), n: fieldNumber(n),
    seed: fieldNumber(seed), temperature: fieldNumber(temperature), maxTokens: fieldNumber(maxTokens),
  };
}

/** A field's number; an emptied field is NaN (Number('') would be 0: layer 0 = the embeddings, coef 0 = no steering), which the extension refuses by name. */
function fieldNumber(f: VscodeTextfield): number {
  return String(f.value ?? '').trim() === '' ? Number.NaN : Number(f.value);
}

/** Drops the answers of an earlier run, so a new error is not read next to results it did not produce. */
function clearResults(): void {
  currentRun = undefined;
  cards = { baseline: [], steered: [] };
  for (const c of COLUMNS) { columns[c].mean.textContent = ''; columns[c].answers.replaceChildren(); }
}

/** Sends the form; `auto` (the command asked for a run) reports a refusal to the extension, which is waiting. */
function requestGeneration(auto = false): void {
  if (running) return;
  const refuse = (message: string) => { clearResults(); showError(message); if (auto) vscode.postMessage({ type: 'error', message }); };
  showError(undefined);
  const req = readForm();
  if (!req.prompt.trim()) return refuse('Type a prompt first.');
  if (!req.vector) return refuse('Pick a persona vector (none yet? run "Persona Lab: Extract Persona Vector…").');
  setRunning(true, 'Generating…');
  vscode.postMessage({ type: 'generate', request: req });
}

// ---------------------------------------------------------------- drawing a run
const fmt = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(1));

function startRun(runId: string, req: GenerationRequest, trait: string): void {
  currentRun = runId;
  cards = { baseline: [], steered: [] };
  columns.steered.heading.textContent = `Steered — ${trait}, ℓ = ${req.layer}, coef ${req.coef}`;
  for (const c of COLUMNS) {
    columns[c].mean.textContent = '';
    columns[c].answers.replaceChildren();
    for (let i = 0; i < req.n; i++) {
      const meta = el('span', { class: 'meta' });
      const text = document.createTextNode('');
      const card = el('article', { class: 'answer', 'data-index': i, 'data-state': 'streaming' },
        el('header', {}, el('span', {}, `#${i + 1} · seed ${req.seed + i}`), meta), el('div', { class: 'text' }, text));
      columns[c].answers.append(card);
      cards[c].push({ card, meta, text });
    }
  }
}

function finishRun(answers: Answer[], means: Record<Column, ColumnMeans> | undefined, cancelled: boolean, tokensPerSecond: number, elapsedMs: number): void {
  let streamed = 0, appliedShown = 0;
  for (const a of answers) {
    const c = cards[a.column][a.index];
    if (!c) continue;
    if (c.text.data === a.text && a.text.length > 0) streamed++;
    c.text.data = a.text;
    c.card.dataset.state = cancelled ? 'cancelled' : 'done';
    const scores = a.trait !== undefined || a.coherence !== undefined ? ` · trait ${fmt(a.trait)} · coherence ${fmt(a.coherence)}` : '';
    // "Was the vector applied?": the norm the engine actually added, per steered layer, and on how many tokens.
    const applied = a.applied?.map((x) => ` · added ‖Δ‖ ${x.norm.toPrecision(3)} at ℓ${x.layer} on ${x.tokens} tok`).join('') ?? '';
    c.meta.textContent = `${a.tokens} tok, ${a.finishReason}${applied}${scores}`;
    if (a.applied?.some((x) => x.norm > 0 && x.tokens > 0)) { c.card.dataset.applied = 'yes'; appliedShown++; }
  }
  let shown = 0;
  for (const c of COLUMNS) {
    const m = means?.[c];
    columns[c].mean.textContent = m ? `mean trait ${fmt(m.trait)} · coherence ${fmt(m.coherence)} (offline rubric judge)` : '';
    if (m) shown++;
  }
  setRunning(false, cancelled ? 'Stopped.' : `Done in ${(elapsedMs / 1000).toFixed(1)} s (${tokensPerSecond.toFixed(0)} tokens/s).`);
  const count = (c: Column) => cards[c].filter((x) => x.text.data.length > 0).length;
  vscode.postMessage({ type: 'done', runId: currentRun!, cancelled, rendered: { baseline: count('baseline'), steered: count('steered'), means: shown, streamed, applied: appliedShown } });
}

// ---------------------------------------------------------------- messages
function init(m: Extract<ToWebview, { type: 'init' }>): void {
  const fresh = !model || model.path !== m.model.path;
  const keep = fresh ? undefined : chosenVector;
  model = m.model;
  title.textContent = `Steering Playground — ${m.model.name}@${m.model.revision}`;
  status.textContent = `${m.model.path} · L = ${m.model.numLayers}${m.model.toy ? ' · toy model: answers scored by the offline rubric judge' : ''}`;
  vector.replaceChildren(...m.vectors.map((v) => el('vscode-option', { value: v.id }, v.label)));
  setLayerMax(m.model.numLayers);
  if (fresh) applyFields(m.defaults);
  if (keep && m.vectors.some((v) => v.id === keep)) selectVector(keep);
  else if (!m.vectors.some((v) => v.id === chosenVector)) selectVector(m.defaults.vector);
  if (m.preset) applyFields(m.preset);
  notice.hidden = !m.notice;
  notice.textContent = m.notice ?? '';
  extract.hidden = m.vectors.length > 0;
  generate.disabled = running || m.vectors.length === 0;
  form.hidden = false;
  showError(undefined);
  vscode.postMessage({ type: 'initialized', vectors: m.vectors.length, form: readForm() });
  if (m.autoRun) requestGeneration(true);
}

window.addEventListener('message', (e: MessageEvent<ToWebview>) => {
  const m = e.data;
  try {
    switch (m.type) {
      case 'status': status.textContent = m.text; break;
      case 'init': init(m); break;
      case 'started': startRun(m.runId, m.request, m.trait); setRunning(true, 'Generating…'); break;
      case 'tokens':
        if (m.runId !== currentRun) break;
        for (const d of m.deltas) cards[d.column][d.index]?.text.appendData(d.text);
        break;
      case 'finished': if (m.runId === currentRun) finishRun(m.answers, m.means, m.cancelled, m.tokensPerSecond, m.elapsedMs); break;
      case 'error':
        if (m.runId && currentRun && m.runId !== currentRun && !running) break;
        setRunning(false);
        // An error for a request whose run never started drawing (refused, e.g. an emptied field) leaves no stale
        // answers of the previous run under it; a run that failed mid-stream keeps what it streamed.
        if (!m.runId || m.runId !== currentRun) clearResults();
        showError(m.message);
        break;
    }
  } catch (err) {
    vscode.postMessage({ type: 'error', message: String((err as Error)?.message ?? err) });
  }
});

vector.addEventListener('change', () => { chosenVector = vector.value; });
layerRange.addEventListener('input', () => setValue(layer, Number(layerRange.value)));
layer.addEventListener('input', () => { layerRange.value = layer.value; });
generate.addEventListener('click', () => requestGeneration());
stop.addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
extract.addEventListener('click', () => vscode.postMessage({ type: 'extract' }));
prompt.addEventListener('keydown', (e: KeyboardEvent) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) requestGeneration(); });
vscode.postMessage({ type: 'ready' });
