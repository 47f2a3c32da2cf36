/**
 * Control directions, evaluated at the real vector's layer and coefficient (digest §10.4, with the
 * feasibility study's correction):
 *
 *   random    seeded standard Gaussian [L+1, H] (upstream: torch.randn with a seeded generator);
 *   shuffled  BALANCED label shuffle: exactly half of the filtered pairs get their pos/neg labels swapped
 *             (a seeded permutation picks which; with an odd count one pair is left out), v = mean_i(s_i · d_i) over the per-pair response_avg
 *             differences d_i. Upstream draws an independent coin per pair; with unequal numbers of swaps the
 *             mean keeps a (n₊ − n₋)/P share of the true direction, and norm-matching amplifies it into false
 *             positives of up to +49 points — so we do not reproduce that (bug fix, see README).
 *
 * Both are stored unnormalised (like upstream) and, at steering time, rescaled so that row ℓ has the real
 * vector's norm ‖v[ℓ]‖ (norm-matched), then added with the same coef at the same positions.
 */
import { loadSafetensors, writeSafetensors } from '../../engine/weights/safetensors.js';
import { PipelineError } from '../errors.js';
import { gaussian, permutation } from '../rng.js';
import { mean } from '../stats/descriptive.js';
import { norm, readVectorFile, vectorRow, type VectorKind } from '../vectors/file.js';
import { baselineCondition, steerCondition, type Condition } from './conditions.js';
import { evaluateConditions, type ConditionResult, type EvaluateOptions } from './evaluate.js';

export type ControlMode = 'random' | 'shuffled';

export function randomControl(layers: number, hidden: number, seed: number): Float32Array {
  return gaussian(layers * hidden, seed);
}

/**
 * Balanced shuffle over per-pair differences d [P, L+1, H]; returns [L+1, H] and the signs (+1 kept,
 * −1 swapped, 0 left out). Exactly half of the pairs are swapped, so Σ s_i = 0 and a direction shared by all
 * pairs cancels exactly. With an odd P one pair (chosen by the same seeded permutation) is left out: keeping it
 * would leave a 1/P share of the true direction, which norm-matching amplifies (with ~50 pairs the shuffled
 * vector's own norm is only ~15% of ‖v‖, so a 1/P share is a cosine of ~0.14 with v).
 */
export function balancedShuffle(d: Float32Array, pairs: number, rowLen: number, seed: number): { vector: Float32Array; signs: number[] } {
  if (pairs < 2) throw new PipelineError('not-extractable', `the shuffle control needs at least 2 filtered pairs (have ${pairs})`);
  const perm = permutation(pairs, seed);
  const half = Math.floor(pairs / 2);
  const signs = new Array<number>(pairs).fill(1);
  for (let i = 0; i < half; i++) signs[perm[i]] = -1;
  if (pairs % 2 === 1) signs[perm[pairs - 1]] = 0;
  const used = 2 * half;
  const acc = new Float64Array(rowLen);
  for (let p = 0; p < pairs; p++) {
    const s = signs[p], off = p * rowLen;
    if (s === 0) continue;
    for (let x = 0; x < rowLen; x++) acc[x] += s * d[off + x];
  }
  const out = new Float32Array(rowLen);
  for (let x = 0; x < rowLen; x++) out[x] = acc[x] / used;
  return { vector: out, signs };
}

/** Rescales `row` to the given norm (norm matching). */
export function rescale(row: Float32Array, target: number): Float32Array {
  const n = norm(row);
  const f = n === 0 ? 0 : target / n;
  return row.map((x) => x * f);
}

export interface ControlsOptions extends EvaluateOptions {
  vectorPath: string;
  kind?: VectorKind;
  /** pair_diffs.safetensors of the extraction run (needed for 'shuffled'). */
  pairDiffsPath?: string;
  layer: number;
  coef: number;
  seeds: number[];
  modes: ControlMode[];
}

export interface ControlsResult {
  results: ConditionResult[];
  real: ConditionResult;
  /** mode → mean Δτ over seeds, and each seed's Δτ. */
  summary: Record<ControlMode, { meanDeltaTrait: number | null; meanDeltaCoherence: number | null; deltas: (number | null)[] }>;
}

export async function runControls(o: ControlsOptions): Promise<ControlsResult> {
  const kind = o.kind ?? 'response_avg';
  const vec = readVectorFile(o.vectorPath);
  const real = vectorRow(vec, kind, o.layer);
  const target = norm(real);
  const conds: Condition[] = [baselineCondition(), steerCondition('steer', real, o.layer, o.coef)];
  let diffs: { data: Float32Array; pairs: number } | null = null;
  if (o.modes.includes('shuffled')) {
    if (kind !== 'response_avg') throw new PipelineError('vector-invalid', 'the shuffle control is built from response_avg pair differences; use --kind response_avg');
    if (!o.pairDiffsPath) throw new PipelineError('vector-missing', 'the shuffle control needs the extraction run\'s pair_diffs.safetensors');
    const st = loadSafetensors(o.pairDiffsPath).tensors.get('response_avg_diff');
    if (!st) throw new PipelineError('vector-missing', `${o.pairDiffsPath} has no response_avg_diff tensor`);
    diffs = { data: st.data as Float32Array, pairs: st.shape[0] };
  }
  for (const seed of o.seeds) {
    for (const mode of o.modes) {
      const full = mode === 'random' ? randomControl(vec.layers, vec.hidden, seed)
        : balancedShuffle(diffs!.data, diffs!.pairs, vec.layers * vec.hidden, seed).vector;
      // Saved unnormalised, like upstream's control files.
      writeSafetensors(o.run.path(`control_${mode}_seed${seed}.safetensors`), { [`${kind}_diff`]: { dtype: 'F32', shape: [vec.layers, vec.hidden], data: full } },
        { mode, seed: String(seed), source_vector_sha: vec.metadata.trait_sha256 ?? '', layer_convention: vec.metadata.layer_convention ?? '' });
      const row = rescale(full.slice(o.layer * vec.hidden, (o.layer + 1) * vec.hidden), target);
      conds.push(steerCondition(mode, row, o.layer, o.coef, { seed }));
    }
  }
  const results = await evaluateConditions(conds, o);
  const summary = {} as ControlsResult['summary'];
  for (const mode of o.modes) {
    const rs = results.filter((r) => r.condition.kind === mode);
    summary[mode] = { deltas: rs.map((r) => r.deltaTraitMean), meanDeltaTrait: mean(rs.map((r) => r.deltaTraitMean)), meanDeltaCoherence: mean(rs.map((r) => r.deltaCoherenceMean)) };
  }
  return { results, real: results[1], summary };
}
