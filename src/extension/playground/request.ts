/**
 * The Steering Playground's pure half (no vscode; unit-tested in test/extension/playground-request.test.ts): the
 * form's values checked with messages that name the field, the worker's steering specs for several rows with
 * positions and scaling, the per-token projection heat-map of an answer, column means, and a prompt-file line.
 */
import { encodeF32, type SteerSpec } from '../../engine/protocol.js';
import { checkRowUsable } from '../../core/vectors/file.js';
import {
  MAX_STEER_ROWS, POSITIONS, SCALINGS, type Answer, type Column, type ColumnMeans, type GenerationRequest, type SteerRow, type TokenHeat,
} from '../../../webview/playground/protocol.js';

/** The form's values as numbers in range, or an error that names the field (and the steering row). */
export function validateRequest(r: GenerationRequest, numLayers: number): GenerationRequest {
  // An emptied field arrives as NaN/null (never read as 0: layer 0 is the embeddings, coef 0 no steering).
  const empty = (v: unknown, name: string) => { if (v === null || v === undefined || v === '' || Number.isNaN(v)) throw new Error(`${name} is empty: type a number`); };
  const int = (v: unknown, name: string, lo: number, hi: number) => {
    empty(v, name);
    const x = Number(v);
    if (!Number.isInteger(x) || x < lo || x > hi) throw new Error(`${name} must be a whole number in ${lo}..${hi} (got ${String(v)})`);
    return x;
  };
  const real = (v: unknown, name: string, lo: number, hi: number) => {
    empty(v, name);
    const x = Number(v);
    if (!Number.isFinite(x) || x < lo || x > hi) throw new Error(`${name} must be a number in ${lo}..${hi} (got ${String(v)})`);
    return x;
  };
  const prompt = String(r.prompt ?? '').trim();
  if (!prompt) throw new Error('type a prompt first');
  const rows = r.steer ?? [];
  if (rows.length === 0) throw new Error('add a steering row (vector, layer, coef)');
  if (rows.length > MAX_STEER_ROWS) throw new Error(`at most ${MAX_STEER_ROWS} steering rows (got ${rows.length})`);
  const multi = rows.length > 1;
  const steer: SteerRow[] = rows.map((s, i) => {
    const at = multi ? ` (steering row ${i + 1})` : '';
    if (!s.vector) throw new Error(`pick a persona vector${at}`);
    return {
      vector: String(s.vector),
      layer: int(s.layer, `layer${at} (ℓ = hidden_states[ℓ], 0..L with L = ${numLayers})`, 0, numLayers),
      coef: real(s.coef, `coef${at}`, -1000, 1000),
    };
  });
  if (!(POSITIONS as readonly string[]).includes(r.positions)) throw new Error(`positions must be one of ${POSITIONS.join(', ')} (got ${String(r.positions)})`);
  if (!(SCALINGS as readonly string[]).includes(r.scaling)) throw new Error(`scaling must be one of ${SCALINGS.join(', ')} (got ${String(r.scaling)})`);
  return {
    prompt, steer, positions: r.positions, scaling: r.scaling,
    // The target norm matters only for target-norm scaling; elsewhere an emptied field is not an error.
    targetNorm: r.scaling === 'target-norm' ? real(r.targetNorm, 'target norm', 1e-6, 1e6) : Number.isFinite(r.targetNorm) ? r.targetNorm : 0,
    n: int(r.n, 'n', 1, 32), seed: int(r.seed, 'seed', 0, 2 ** 31 - 1),
    temperature: real(r.temperature, 'temperature', 0, 5), maxTokens: int(r.maxTokens, 'max tokens', 1, 4096),
  };
}

/**
 * The worker's steering specs: one per row (row ℓ of its vector, inline), all with the form's positions and scaling.
 * A zero row is refused for unit/target-norm scaling (no direction), named by file and layer.
 */
export function steerSpecs(req: GenerationRequest, rows: { file: string; values: Float32Array }[]): SteerSpec[] {
  return req.steer.map((s, i) => {
    const { file, values } = rows[i];
    if (req.scaling !== 'raw') checkRowUsable(values, req.scaling, file, s.layer);
    return {
      vector: { values: encodeF32(values) }, layer: s.layer, coef: s.coef, positions: req.positions,
      scaling: req.scaling === 'target-norm' ? { mode: 'target-norm', norm: req.targetNorm } : { mode: req.scaling },
    };
  });
}

/**
 * An answer's heat-map from the worker's per-token projections (`project` over prompt + answer ids): the answer's
 * tokens only (from `promptTokens`), the final EOS dropped (it is not part of the text). `pieces` are the streamed text
 * deltas, one per generated token in order (a token whose text is held back, e.g. an incomplete UTF-8 sequence, has
 * '' and the next one carries it); `projections[r]` are row r's values over prompt + answer.
 */
export function tokenHeat(pieces: string[], generated: number, finishReason: Answer['finishReason'], promptTokens: number, projections: number[][]): TokenHeat {
  const count = finishReason === 'eos' ? generated - 1 : generated;
  const tokens = pieces.slice(0, count);
  while (tokens.length < count) tokens.push('');
  return { tokens, values: projections.map((p) => p.slice(promptTokens, promptTokens + count)) };
}

/** Mean of the defined values; undefined when there are none. */
export function meanOf(xs: (number | undefined)[]): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length ? v.reduce((s, x) => s + x, 0) / v.length : undefined;
}

/** Per column, the mean trait and coherence of its answers. */
export function columnMeans(answers: Pick<Answer, 'column' | 'trait' | 'coherence'>[]): Record<Column, ColumnMeans> {
  const col = (c: Column): ColumnMeans => {
    const as = answers.filter((a) => a.column === c);
    return { trait: meanOf(as.map((a) => a.trait)), coherence: meanOf(as.map((a) => a.coherence)) };
  };
  return { baseline: col('baseline'), steered: col('steered') };
}

/**
 * One line of a prompt file (`{"prompt": …}`, the format the inline prompt-file actions read), with the playground's
 * settings under `persona_lab` (readers ignore other keys): model, revision, steering rows (trait, vector file, layer,
 * coef), positions, scaling and sampling — enough to redo the run.
 */
export function promptFileLine(req: GenerationRequest, meta: { model: string; revision: string; traits: string[]; vectorFile: (id: string) => string }): string {
  return JSON.stringify({
    prompt: req.prompt,
    persona_lab: {
      source: 'steering-playground', model: meta.model, revision: meta.revision,
      steer: req.steer.map((s, i) => ({ trait: meta.traits[i], vector: meta.vectorFile(s.vector), layer: s.layer, coef: s.coef })),
      positions: req.positions, scaling: req.scaling, ...(req.scaling === 'target-norm' ? { target_norm: req.targetNorm } : {}),
      n: req.n, seed: req.seed, temperature: req.temperature, max_tokens: req.maxTokens,
    },
  });
}
