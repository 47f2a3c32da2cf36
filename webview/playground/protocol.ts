/**
 * The one typed message protocol of the Steering Playground, between the extension side
 * (src/extension/playground.ts) and the webview (webview/playground/main.ts). Types only: both sides import it,
 * and nothing here ends up in either bundle.
 *
 * Conversation: the webview says 'ready'; the extension answers 'status' while it loads the model, then 'init'
 * (model, vectors, form defaults, an optional preset). 'generate' starts a run: 'started', 'tokens' (text deltas),
 * then 'finished' (final texts, and judge scores for the toy model) or 'error'. 'stop' cancels the run in flight.
 * After drawing 'init' the webview answers 'initialized'; after drawing 'finished' it answers 'done' with what it
 * rendered — the extension's command returns these, so tests know the panel really showed the answers.
 *
 * Layer convention: layer ℓ is the residual stream after ℓ decoder blocks (HF hidden_states[ℓ], 0..L).
 */

/** One vector file the panel can steer with. `id` is the file's path (unique). */
export interface PlaygroundVector { id: string; trait: string; label: string }

/** Everything one generation needs; the form's fields. */
export interface GenerationRequest {
  prompt: string;
  /** A PlaygroundVector id. */
  vector: string;
  layer: number;
  coef: number;
  /** Answers per column; baseline row i and steered row i share seed + i. */
  n: number;
  seed: number;
  temperature: number;
  maxTokens: number;
}

export type Column = 'baseline' | 'steered';

export interface Answer {
  column: Column;
  index: number;
  seed: number;
  text: string;
  finishReason: 'eos' | 'stop' | 'length' | 'cancelled';
  tokens: number;
  /**
   * Steered answers: what the engine actually added at each steered layer (L2 norm per token, and on how many
   * tokens), read back from the tensors the model was fed — the "was the vector applied?" check.
   */
  applied?: { layer: number; norm: number; tokens: number }[];
  /** Offline rubric judge, toy model only (0–100); trait is absent when the rubric does not know the trait. */
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
  /** The embedded toy model: answers are scored by the offline rubric judge. */
  toy: boolean;
}

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
      /** Fields to set over the defaults (the command's arguments, a vector picked in the Vectors view). */
      preset?: Partial<GenerationRequest>;
      /** Start a generation with the form as set (the command was given a prompt). */
      autoRun?: boolean;
      /** Shown instead of the form's hint, e.g. "no vectors yet". */
      notice?: string;
    }
  | { type: 'started'; runId: string; request: GenerationRequest; trait: string; scored: boolean }
  /** Streamed text, batched: each delta is appended to one answer. */
  | { type: 'tokens'; runId: string; deltas: { column: Column; index: number; text: string }[] }
  | {
      type: 'finished'; runId: string; cancelled: boolean; answers: Answer[];
      means?: Record<Column, ColumnMeans>; tokensPerSecond: number; elapsedMs: number;
    }
  | { type: 'error'; runId?: string; message: string };

// ---------------------------------------------------------------- webview → extension
export interface RenderedCounts {
  /** Answer cards with text in each column. */
  baseline: number;
  steered: number;
  /** Column means shown (toy model only). */
  means: number;
  /** Answers whose streamed tokens added up to exactly the final text. */
  streamed: number;
  /** Steered answers that show a non-zero applied steering norm. */
  applied: number;
}

export type FromWebview =
  | { type: 'ready' }
  /** The form as drawn after 'init' (defaults, then the preset). */
  | { type: 'initialized'; vectors: number; form: GenerationRequest }
  | { type: 'generate'; request: GenerationRequest }
  | { type: 'stop' }
  | { type: 'extract' }
  | { type: 'done'; runId: string; cancelled: boolean; rendered: RenderedCounts }
  | { type: 'error'; message: string };
