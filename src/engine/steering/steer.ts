/**
 * Per-row steering → the `steer` [B, L+1, H] and `steerMask` [B, S] inputs of one forward step.
 *
 * Layer convention (src/engine/model/types.ts): a spec at layer ℓ adds its delta to the residual stream after
 * ℓ blocks, i.e. to what becomes HF hidden_states[ℓ]; vector files have L+1 rows and row ℓ belongs to layer ℓ.
 *
 * Positions follow upstream's ActivationSteerer under HF generate with a KV cache (upstream-pipelines §5.1).
 * A forward step is in one of three phases, and a spec is active in a phase as follows:
 *               prefix (prompt tokens but the last)   last (last prompt token)   decode (generated tokens)
 *   'all'              yes                                  yes                      yes
 *   'prompt'           yes                                  yes                      no
 *   'response'         no                                   yes                      yes
 * Because rows may mix specs with different positions, the generation loop always runs prefill as two
 * forwards (prefix, then last) so that within one forward every position of a row gets the same sum.
 */
import { ReasonError } from '../errors.js';
import type { SteerPositions, SteerScaling, SteerSpec, VectorRef } from '../protocol.js';
import { decodeF32 } from '../protocol.js';

export type SteerPhase = 'prefix' | 'last' | 'decode';

export interface ResolvedSteer {
  layer: number;
  positions: SteerPositions;
  /** coef · scaled vector, length H. */
  delta: Float32Array;
}

/** Reads one tensor of a stored vector file; supplied by the worker (safetensors reader + cache). */
export type VectorFileReader = (file: string, tensor: string | undefined) => { name: string; shape: number[]; data: Float32Array };

/** A steering spec the model cannot take: a vector of the wrong shape, a layer out of range, a bad field, an unreadable vector file. */
export type SteerSpecErrorReason = 'vector-shape' | 'layer-out-of-range' | 'bad-spec' | 'vector-file';

export class SteerSpecError extends ReasonError<SteerSpecErrorReason> {
  override readonly name = 'SteerSpecError';
}

export function activeIn(positions: SteerPositions, phase: SteerPhase): boolean {
  switch (positions) {
    case 'all': return true;
    case 'prompt': return phase !== 'decode';
    case 'response': return phase !== 'prefix';
  }
}

/** The raw direction for a spec: inline values, or row `row ?? layer` of a [L+1, H] tensor in a vector file. */
export function resolveVector(ref: VectorRef, layer: number, numLayers: number, hiddenSize: number, read: VectorFileReader): Float32Array {
  if ('values' in ref) {
    const v = typeof ref.values === 'string' ? decodeF32(ref.values) : Float32Array.from(ref.values);
    if (v.length !== hiddenSize) throw new SteerSpecError('vector-shape', `inline steering vector has ${v.length} values but the model's hidden size is ${hiddenSize}; pass one row of H=${hiddenSize} floats`);
    return v;
  }
  const t = read(ref.file, ref.tensor);
  const row = ref.row ?? layer;
  if (t.shape.length === 1) {
    if (t.shape[0] !== hiddenSize) throw new SteerSpecError('vector-shape', `vector file ${ref.file} tensor '${t.name}' has shape [${t.shape}] but the model's hidden size is ${hiddenSize}`);
    return t.data.slice();
  }
  if (t.shape.length !== 2 || t.shape[0] !== numLayers + 1 || t.shape[1] !== hiddenSize) {
    throw new SteerSpecError('vector-shape', `vector file ${ref.file} tensor '${t.name}' has shape [${t.shape}], expected [L+1=${numLayers + 1}, H=${hiddenSize}] for this model (was it extracted from a different model?)`);
  }
  if (!Number.isInteger(row) || row < 0 || row > numLayers) throw new SteerSpecError('layer-out-of-range', `vector row ${row} is out of range 0..${numLayers} for ${ref.file}`);
  return t.data.slice(row * hiddenSize, (row + 1) * hiddenSize);
}

export function scaleVector(v: Float32Array, coef: number, scaling: SteerScaling | undefined): Float32Array {
  const mode = scaling?.mode ?? 'raw';
  let factor = coef;
  if (mode !== 'raw') {
    let ss = 0;
    for (let i = 0; i < v.length; i++) ss += v[i] * v[i];
    const norm = Math.sqrt(ss);
    if (!(norm > 0)) throw new SteerSpecError('bad-spec', `cannot use '${mode}' scaling on a zero vector`);
    const target = mode === 'target-norm' ? (scaling as { norm: number }).norm : 1;
    if (!Number.isFinite(target)) throw new SteerSpecError('bad-spec', `target-norm scaling needs a finite 'norm', got ${target}`);
    factor = (coef * target) / norm;
  }
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * factor;
  return out;
}

export function resolveSteer(spec: SteerSpec, numLayers: number, hiddenSize: number, read: VectorFileReader): ResolvedSteer {
  if (!Number.isInteger(spec.layer) || spec.layer < 0 || spec.layer > numLayers) {
    throw new SteerSpecError('layer-out-of-range', `steering layer ${spec.layer} is out of range: this model has hidden states 0..${numLayers} (layer ℓ = after ℓ blocks)`);
  }
  if (!Number.isFinite(spec.coef)) throw new SteerSpecError('bad-spec', `steering coef must be a finite number, got ${spec.coef}`);
  const positions = spec.positions ?? 'response';
  if (positions !== 'all' && positions !== 'prompt' && positions !== 'response') throw new SteerSpecError('bad-spec', `unknown steering positions '${String(positions)}' (use all, prompt or response)`);
  const v = resolveVector(spec.vector, spec.layer, numLayers, hiddenSize, read);
  const where = 'values' in spec.vector ? 'the inline vector' : `row ${spec.vector.row ?? spec.layer} of ${spec.vector.file}`;
  if (v.some((x) => !Number.isFinite(x))) throw new SteerSpecError('bad-spec', `${where} holds NaN or infinite values; re-extract the vector`);
  const delta = scaleVector(v, spec.coef, spec.scaling);
  // A spec that adds nothing is the silent no-op steering bugs hide behind; coef 0 is the one deliberate way to add nothing.
  if (spec.coef !== 0 && !delta.some((x) => x !== 0)) {
    throw new SteerSpecError('bad-spec', `steering at layer ${spec.layer} with coef ${spec.coef} would add nothing: ${where} is all zeros${v.some((x) => x !== 0) ? ' after scaling (coef too small for float32)' : ''}; pick a layer whose vector row is non-zero, or use coef 0 to run unsteered on purpose`);
  }
  return { layer: spec.layer, positions, delta };
}

export interface StepSteer {
  steer: Float32Array;
  steerMask: Float32Array;
}

/** The last step tensors built for one request, kept under its first steered row's spec list (see buildStepSteer). */
interface StepSteerEntry {
  rows: readonly (readonly ResolvedSteer[] | undefined)[];
  phase: SteerPhase;
  numLayers: number;
  hiddenSize: number;
  result: StepSteer;
}
const lastBuilt = new WeakMap<readonly ResolvedSteer[], StepSteerEntry>();

/**
 * Builds the step tensors for a batch. `rows[b]` are row b's resolved specs; `real(b, s)` says whether
 * column s of this step holds a real token of row b (left pads get mask 0 so pads stay unsteered).
 * Returns null when no row steers in this phase (the graph then runs exactly as unsteered).
 *
 * The tensors only change between phases (and when finished rows leave the batch): every decode step of a
 * request has the same rows and an all-real mask. So the last result is kept per request (under the first
 * steered row's spec list, in a WeakMap that lets it go with the request) and returned again — the same
 * Float32Arrays — when the spec lists (by reference), phase, shape and mask are the same; a decode step then
 * costs B·S `real` calls instead of allocating and filling B·(L+1)·H floats. Resolved specs are never mutated
 * after resolveSteer, and neither the graph feed nor recordApplied writes into the tensors.
 */
export function buildStepSteer(
  rows: readonly (readonly ResolvedSteer[] | undefined)[],
  phase: SteerPhase,
  seqLen: number,
  numLayers: number,
  hiddenSize: number,
  real: (b: number, s: number) => boolean,
): StepSteer | null {
  const B = rows.length;
  // Which rows steer in this phase, and the mask (cheap: B·S): the reuse check needs both anyway.
  let key: readonly ResolvedSteer[] | undefined;
  let mask: Float32Array | null = null;
  for (let b = 0; b < B; b++) {
    const specs = rows[b];
    if (!specs || !specs.some((s) => activeIn(s.positions, phase))) continue;
    key ??= specs;
    mask ??= new Float32Array(B * seqLen);
    for (let s = 0; s < seqLen; s++) if (real(b, s)) mask[b * seqLen + s] = 1;
  }
  if (!key || !mask) return null;
  const prev = lastBuilt.get(key);
  if (prev && prev.phase === phase && prev.numLayers === numLayers && prev.hiddenSize === hiddenSize
    && prev.rows.length === B && prev.rows.every((r, b) => r === rows[b]) && sameValues(prev.result.steerMask, mask)) {
    return prev.result;
  }
  const rowStride = (numLayers + 1) * hiddenSize;
  const steer = new Float32Array(B * rowStride);
  for (let b = 0; b < B; b++) {
    for (const s of rows[b] ?? []) {
      if (!activeIn(s.positions, phase)) continue;
      const base = b * rowStride + s.layer * hiddenSize;
      for (let i = 0; i < hiddenSize; i++) steer[base + i] += s.delta[i];
    }
  }
  const result = { steer, steerMask: mask };
  lastBuilt.set(key, { rows: [...rows], phase, numLayers, hiddenSize, result });
  return result;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
