/**
 * The one typed message protocol of the Steering Playground, between the extension side
 * (src/extension/playground.ts) and the webview (webview/playground/main.ts). Both sides import it; the guard
 * `parseFromWebview` is the extension's only way to read a message from the webview (untrusted input).
 *
 * Conversation: the webview says 'ready'; the extension answers 'status' while it loads the model, then 'init'
 * (model, vectors, form defaults, an optional preset). 'generate' starts a run: 'started', 'tokens' (text deltas),
 * then 'finished' (final texts, applied norms, the per-token projection heat-map, and judge scores for the toy
 * model) or 'error'. 'stop' cancels the run in flight. 'judge' scores the last run's answers with the configured
 * judge ('judged' or 'error'); 'save-prompts' writes the prompt to a JSONL prompt file ('saved' or 'error').
 * After drawing 'init' the webview answers 'initialized'; after drawing 'finished' it answers 'done' with what it
 * rendered, after 'judged' it answers 'judge-drawn' — the extension's command returns these, so tests know the
 * panel really showed them. The webview saves { source, form } with setState, so a window reload reopens the
 * same checkpoint with the same form (the extension's WebviewPanelSerializer reads it).
 *
 * Layer convention: layer ℓ is the residual stream after ℓ decoder blocks (HF hidden_states[ℓ], 0..L).
 */
import { isRecord, num } from '../kit/protocol.js';

/** One vector file the panel can steer with. `id` is the file's path (unique). */
export interface PlaygroundVector { id: string; trait: string; label: string }

/** One steering row: add coef · v[ℓ] (scaled) of one vector file at one layer. Rows add up. */
export interface SteerRow {
  /** A PlaygroundVector id. */
  vector: string;
  layer: number;
  coef: number;
}

/** The worker's steering positions (src/engine/protocol.ts SteerPositions). */
export type Positions = 'all' | 'prompt' | 'response';
export const POSITIONS: readonly Positions[] = ['response', 'prompt', 'all'];
/** The worker's scaling modes: raw adds coef·v, unit coef·v/‖v‖, target-norm coef·norm·v/‖v‖. */
export type Scaling = 'raw' | 'unit' | 'target-norm';
export const SCALINGS: readonly Scaling[] = ['raw', 'unit', 'target-norm'];
/** At most this many steering rows (the server allows 16 specs per request; a form needs far fewer). */
export const MAX_STEER_ROWS = 8;

/** Everything one generation needs; the form's fields. */
export interface GenerationRequest {
  prompt: string;
  /** One or more rows, applied together to every steered answer. */
  steer: SteerRow[];
  positions: Positions;
  scaling: Scaling;
  /** The norm for 'target-norm' scaling (ignored otherwise). */
  targetNorm: number;
  /** Answers per column; baseline row i and steered row i share seed + i. */
  n: number;
  seed: number;
  temperature: number;
  maxTokens: number;
}

export type Column = 'baseline' | 'steered';

/**
 * The monitor's view of an answer: per response token, its text and the scalar projection of hidden_states[ℓ] at
 * that token onto unit(v[ℓ]) for each steering row's vector and layer (an unsteered forward over prompt + answer,
 * like `persona-lab monitor`). values[r][t] is row r's projection of token t.
 */
export interface TokenHeat {
  tokens: string[];
  values: number[][];
}

export interface Answer {
  column: Column;
  index: number;
  seed: number;
  text: string;
  finishReason: 'eos' | 'stop' | 'length' | 'cancelled';
  tokens: number;
  /**
   * Steered answers: what the engine actually added at each steered layer (L2 norm per token, and on how many
   * tokens), read back from the tensors the model was fed — the "was the vector applied?" check. Rows at the same
   * layer add up into one entry.
   */
  applied?: { layer: number; norm: number; tokens: number }[];
  heat?: TokenHeat;
  /** Judge scores (0–100); trait is absent when the judge cannot score the trait. */
  trait?: number;
  coherence?: number;
}

export interface ColumnMeans { trait?: number; coherence?: number }

export interface PlaygroundModel {
  name: string;
  revision: string;
  path: string;
  /** L: layers run 0..L. */
  numLayers: number;
  /** The embedded toy model: answers are scored by the offline rubric judge as they finish. */
  toy: boolean;
}

/** Per steering row of a run: which vector and layer the heat-map of that row projects onto. */
export interface HeatRow { trait: string; layer: number; vector: string }

/** One judged answer. */
export interface Score { column: Column; index: number; trait?: number; coherence?: number }

// ---------------------------------------------------------------- extension → webview
export type ToWebview =
  | { type: 'status'; text: string }
  | {
      type: 'init';
      model: PlaygroundModel;
      vectors: PlaygroundVector[];
      /** Where vector files for this model are read from (shown when there are none). */
      vectorDir: string;
      defaults: GenerationRequest;
      /** Fields to set over the defaults (the command's arguments, a vector picked in the Vectors view, a restored form). */
      preset?: Partial<GenerationRequest>;
      /** Start a generation with the form as set (the command was given a prompt). */
      autoRun?: boolean;
      /** Shown instead of the form's hint, e.g. "no vectors yet". */
      notice?: string;
      /** What the webview saves as its state's source (the serializer reopens this checkpoint). */
      source: string;
    }
  | { type: 'started'; runId: string; request: GenerationRequest; traits: string[]; scored: boolean }
  /** Streamed text, batched: each delta is appended to one answer. */
  | { type: 'tokens'; runId: string; deltas: { column: Column; index: number; text: string }[] }
  | {
      type: 'finished'; runId: string; cancelled: boolean; answers: Answer[]; heatRows: HeatRow[];
      means?: Record<Column, ColumnMeans>; judge?: string; tokensPerSecond: number; elapsedMs: number;
    }
  | { type: 'judging'; runId: string; judge: string }
  | { type: 'judged'; runId: string; judge: string; scores: Score[]; means: Record<Column, ColumnMeans> }
  | { type: 'saved'; file: string; relative: string; lines: number }
  /** `keep`: an action on the shown answers failed (judge, save): they stay; otherwise a refused run clears them. */
  | { type: 'error'; runId?: string; message: string; keep?: boolean };

// ---------------------------------------------------------------- webview → extension
export interface RenderedCounts {
  /** Answer cards with text in each column. */
  baseline: number;
  steered: number;
  /** Column means shown. */
  means: number;
  /** Answers whose streamed tokens added up to exactly the final text. */
  streamed: number;
  /** Steered answers that show a non-zero applied steering norm. */
  applied: number;
  /** Answers drawn as a per-token heat-map, and the coloured token spans in them. */
  heatAnswers: number;
  heatTokens: number;
}

export type FromWebview =
  | { type: 'ready' }
  /** The form as drawn after 'init' (defaults, then the preset). */
  | { type: 'initialized'; vectors: number; form: GenerationRequest }
  | { type: 'generate'; request: GenerationRequest }
  | { type: 'stop' }
  | { type: 'extract' }
  | { type: 'judge'; runId: string }
  | { type: 'save-prompts'; request: GenerationRequest }
  | { type: 'done'; runId: string; cancelled: boolean; rendered: RenderedCounts }
  | { type: 'judge-drawn'; runId: string; scored: number; means: number }
  | { type: 'error'; message: string };

/** The webview's saved state (getState/setState): the checkpoint shown and the form as last edited. */
export interface PlaygroundState { source: string; form?: Partial<GenerationRequest> }

// ---------------------------------------------------------------- guards (extension side)
const str = (v: unknown, max = 1_000_000): string | undefined => (typeof v === 'string' && v.length <= max ? v : undefined);
/** A number field as the form sent it: a number, or NaN/null for an emptied field (refused later by name, never read as 0). */
const field = (v: unknown): number => (typeof v === 'number' ? v : v === null ? Number.NaN : Number.NaN);

/** A form from the webview, shape-checked (values are range-checked later, with messages naming the field). */
export function parseRequest(v: unknown): GenerationRequest | undefined {
  if (!isRecord(v) || !Array.isArray(v.steer) || v.steer.length > 64) return undefined;
  const steer: SteerRow[] = [];
  for (const r of v.steer) {
    if (!isRecord(r)) return undefined;
    steer.push({ vector: str(r.vector, 4096) ?? '', layer: field(r.layer), coef: field(r.coef) });
  }
  const prompt = str(v.prompt);
  if (prompt === undefined) return undefined;
  return {
    prompt, steer,
    positions: (POSITIONS as readonly unknown[]).includes(v.positions) ? v.positions as Positions : 'response',
    scaling: (SCALINGS as readonly unknown[]).includes(v.scaling) ? v.scaling as Scaling : 'raw',
    targetNorm: field(v.targetNorm), n: field(v.n), seed: field(v.seed), temperature: field(v.temperature), maxTokens: field(v.maxTokens),
  };
}

function parseCounts(v: unknown): RenderedCounts | undefined {
  if (!isRecord(v)) return undefined;
  const keys = ['baseline', 'steered', 'means', 'streamed', 'applied', 'heatAnswers', 'heatTokens'] as const;
  const out: Partial<RenderedCounts> = {};
  for (const k of keys) { const x = num(v[k]); if (x === undefined) return undefined; out[k] = x; }
  return out as RenderedCounts;
}

/** Every message the webview may send, parsed; undefined for anything malformed. */
export function parseFromWebview(m: unknown): FromWebview | undefined {
  if (!isRecord(m)) return undefined;
  switch (m.type) {
    case 'ready': case 'stop': case 'extract': return { type: m.type };
    case 'error': return { type: 'error', message: str(m.message, 4000) ?? 'unknown error' };
    case 'initialized': { const form = parseRequest(m.form), vectors = num(m.vectors); return form && vectors !== undefined ? { type: 'initialized', vectors, form } : undefined; }
    case 'generate': case 'save-prompts': { const request = parseRequest(m.request); return request ? { type: m.type, request } : undefined; }
    case 'judge': { const runId = str(m.runId, 100); return runId ? { type: 'judge', runId } : undefined; }
    case 'done': {
      const runId = str(m.runId, 100), rendered = parseCounts(m.rendered);
      return runId && rendered && typeof m.cancelled === 'boolean' ? { type: 'done', runId, cancelled: m.cancelled, rendered } : undefined;
    }
    case 'judge-drawn': {
      const runId = str(m.runId, 100), scored = num(m.scored), means = num(m.means);
      return runId && scored !== undefined && means !== undefined ? { type: 'judge-drawn', runId, scored, means } : undefined;
    }
    default: return undefined;
  }
}

/** The saved state, parsed (the serializer's input). */
export function parseState(s: unknown): PlaygroundState | undefined {
  if (!isRecord(s) || typeof s.source !== 'string') return undefined;
  const form = isRecord(s.form) ? parseRequest({ prompt: '', steer: [], ...s.form }) : undefined;
  return { source: s.source, form: form ? { ...form } : undefined };
}
