/**
 * Control directions, evaluated at the real vector's layer and coefficient (digest §10.4, with the
 * feasibility study's correction):
 *
 *   random    seeded standard Gaussian [L+1, H] (upstream: torch.randn with a seeded generator);
 *   shuffled  BALANCED label shuffle: exactly half of the filtered pairs get their pos/neg labels swapped, one
 *             in each block of two pairs of similar trait strength at the control's layer (see balancedShuffle; with an
 *             odd count one pair is left out), v = mean_i(s_i · d_i) over the per-pair response_avg
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
 * Balanced, strength-stratified shuffle over per-pair differences d [P, L+1, H]; returns [L+1, H] and the
 * signs (+1 kept, −1 swapped, 0 left out).
 *
 * Exactly half of the pairs are swapped, so Σ s_i = 0 and a direction shared by all pairs cancels exactly.
 * That alone is not enough: pairs differ in how strongly the pos answer shows the trait, d_i ≈ a_i·v̂ + e_i,
 * and a random balanced swap keeps Σ s_i·a_i ≠ 0 — a share of the true direction that does not shrink with
 * more pairs (measured on the toy organism: |cos(shuffled, v)| up to 0.34 at L4, giving +12 Δτ once
 * norm-matched). So the swap is stratified, a matched-pairs design: pairs are sorted by their trait strength
 * a_i = d_i·m̄ at the `strata` slice (the control's layer; m̄ = the mean difference there) and, in each
 * consecutive block of two, exactly one — chosen by the seed — is swapped. The labels are still shuffled
 * (which pair of each block flips is random); only the imbalance in trait strength is removed, which is what
 * the control must not carry (measured: mean |cos| with v 0.18 → 0.02).
 * With an odd P one pair (chosen by the seed) is left out: keeping it would leave a 1/P share of the true
 * direction, which norm-matching amplifies.
 */
export function balancedShuffle(d: Float32Array, pairs: number, rowLen: number, seed: number,
  strata?: { offset: number; length: number }): { vector: Float32Array; signs: number[] } {
  if (pairs < 2) throw new PipelineError('not-extractable', `the shuffle control needs at least 2 filtered pairs (have ${pairs})`);
  const perm = permutation(pairs, seed);
  const signs = new Array<number>(pairs).fill(0);
  const leftOut = pairs % 2 === 1 ? perm[pairs - 1] : -1;
  const { offset, length } = strata ?? { offset: 0, length: rowLen };
  const m = new Float64Array(length);
  for (let p = 0; p < pairs; p++) for (let x = 0; x < length; x++) m[x] += d[p * rowLen + offset + x];
  const strength = Array.from({ length: pairs }, (_, p) => { let s = 0; for (let x = 0; x < length; x++) s += d[p * rowLen + offset + x] * m[x]; return s; });
  const order = Array.from({ length: pairs }, (_, p) => p).filter((p) => p !== leftOut)
    .sort((a, b) => strength[a] - strength[b] || a - b);
  for (let b = 0; b + 1 < order.length; b += 2) {
    const swapFirst = perm[b] % 2 === 0;
    signs[order[b]] = swapFirst ? -1 : 1;
    signs[order[b + 1]] = swapFirst ? 1 : -1;
  }
  const used = order.length;
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
        : balancedShuffle(diffs!.data, diffs!.pairs, vec.layers * vec.hidden, seed, { offset: o.layer * vec.hidden, length: vec.hidden }).vector;
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
