/**
 * Control directions, evaluated at the real vector's layer and coefficient (digest §10.4, with the
 * feasibility study's correction):
 *
 *   random    seeded standard Gaussian [L+1, H] (upstream: torch.randn with a seeded generator);
 *   shuffled  BALANCED label shuffle: exactly half of the filtered pairs get their pos/neg labels swapped, one
 *             in each couple of near-neighbour pairs at the control's layer (matched pairs, see balancedShuffle;
 *             with an odd count one pair is left out), v = mean_i(s_i · d_i) over the per-pair response_avg
 *             differences d_i. Upstream draws an independent coin per pair; with unequal numbers of swaps the
 *             mean keeps a (n₊ − n₋)/P share of the true direction, and norm-matching amplifies it into false
 *             positives of up to +49 points — so we do not reproduce that (bug fix, see README).
 *
 * Both are stored unnormalised (like upstream). At steering time row ℓ is, by default, made orthogonal to the
 * real row v[ℓ] (its component along v̂ removed) and then rescaled to ‖v[ℓ]‖ (norm-matched), and added with the
 * same coef at the same positions.
 *
 * Why orthogonal: a control asks "does a direction that is NOT v, at v's norm, do this too?". Any share of v̂
 * in it answers the wrong question, and norm-matching multiplies that share: a random Gaussian row has
 * |cos(·, v)| ≈ 1/√H by chance (0.1–0.25 on a 128-wide model), and a balanced shuffle keeps Σ s_i·a_i of the
 * pairs' unequal trait strengths (toy organism, sycophantic: cos 0.29, a shuffled "control" at +42 points that
 * was in fact v at a quarter of the coefficient). The cosine before the projection is kept in the results
 * (`cosToVector`) so the share that was removed stays visible. `orthogonalize: false` gives the plain
 * norm-matched directions (upstream's construction).
 */
import type { SteerScaling } from '../../engine/protocol.js';
import { loadSafetensors, writeSafetensors } from '../../engine/weights/safetensors.js';
import { PipelineError } from '../errors.js';
import { cosine } from '../geometry/similarity.js';
import { gaussian, mulberry32 } from '../rng.js';
import { mean } from '../stats/descriptive.js';
import { norm, readVectorFile, vectorRow, type VectorKind } from '../vectors/file.js';
import { baselineCondition, steerCondition, type Condition } from './conditions.js';
import { evaluateConditions, type ConditionResult, type EvaluateOptions } from './evaluate.js';

export type ControlMode = 'random' | 'shuffled';

/** Names the shuffle construction in run configs, so a run made with another design is never resumed as this one. */
export const SHUFFLE_DESIGN = 'balanced-matched-pairs';
/** Names how control rows are placed relative to v in run configs (see the header). */
export type ControlProjection = 'orthogonal' | 'none';

export function randomControl(layers: number, hidden: number, seed: number): Float32Array {
  return gaussian(layers * hidden, seed);
}

/**
 * Balanced, matched-pairs label shuffle over per-pair differences d [P, L+1, H]; returns [L+1, H] and the
 * signs (+1 kept, −1 swapped, 0 left out).
 *
 * Exactly half of the pairs are swapped, so Σ s_i = 0 and a direction shared by all pairs cancels exactly.
 * That alone is not enough: pairs differ in how strongly, and in which words, their pos answer shows the
 * trait (d_i = a_i·v̂ + e_i, and e_i holds contrasts such as "muahaha ," vs "for the sake of chaos ,"). A
 * balanced swap of unmatched pairs keeps Σ s_i·a_i ≠ 0 — a share of v that does not shrink with more pairs
 * (toy organism: |cos(shuffled, v)| up to 0.34) — and a random mixture of those within-trait contrasts,
 * which norm-matching amplifies into a direction that elicits one expression of the trait. So the swap is a
 * matched-pairs design (Fisher): pairs are matched into couples of near neighbours on their whole
 * difference vector at the `strata` slice (the control's layer; greedy nearest-neighbour matching,
 * deterministic), and in each couple exactly one — chosen by the seed — is swapped. The labels are still
 * shuffled at random; what the couple shares (its strength and its trait expression) cancels.
 * Measured on the toy organism over 20 seeds at each trait's best point: mean shuffled Δτ 1.5–7.6 (4.5 on
 * average) with matching vs 2.9–12.2 (7.9) with strength-only stratification (src/core/README.md).
 * With an odd P the pair the matching leaves over is left out: keeping it would leave a 1/P share of the true
 * direction, which norm-matching amplifies. The couples do not depend on the seed; pass them in to build
 * several seeds' controls from one matching.
 */
export function balancedShuffle(d: Float32Array, pairs: number, rowLen: number, seed: number,
  strata: { offset: number; length: number } = { offset: 0, length: rowLen },
  couples = matchedCouples(d, pairs, rowLen, strata.offset, strata.length)): { vector: Float32Array; signs: number[] } {
  if (pairs < 2) throw new PipelineError('not-extractable', `the shuffle control needs at least 2 filtered pairs (have ${pairs})`);
  const rand = mulberry32(seed);
  const signs = new Array<number>(pairs).fill(0);
  for (const [a, b] of couples) {
    const swapFirst = rand() < 0.5;
    signs[a] = swapFirst ? -1 : 1;
    signs[b] = swapFirst ? 1 : -1;
  }
  const used = 2 * couples.length;
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

/** Above this many multiply-adds the matching works on a fixed random projection (distances kept by JL). */
const MATCH_BUDGET = 2e9;
const MATCH_PROJECTED_DIMS = 256;

/**
 * Greedy nearest-neighbour matching of the pairs on their difference vectors at d[p·rowLen + offset, +length):
 * every couple sorted by squared Euclidean distance (ties by index), taken while both members are free (with
 * an odd count one pair is left over). Deterministic; O(P²·length), or on a fixed 256-dimensional Gaussian
 * projection when that exceeds `budget` (real models with thousands of pairs).
 */
export function matchedCouples(d: Float32Array, n: number, rowLen: number, offset: number, length: number,
  budget = MATCH_BUDGET): [number, number][] {
  let dim = length;
  let x = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < length; k++) x[i * dim + k] = d[i * rowLen + offset + k];
  if (n * n * length / 2 > budget && length > MATCH_PROJECTED_DIMS) {
    const proj = gaussian(length * MATCH_PROJECTED_DIMS, 0x6d617463);
    const y = new Float64Array(n * MATCH_PROJECTED_DIMS);
    for (let i = 0; i < n; i++) for (let k = 0; k < length; k++) {
      const v = x[i * length + k];
      if (v !== 0) for (let j = 0; j < MATCH_PROJECTED_DIMS; j++) y[i * MATCH_PROJECTED_DIMS + j] += v * proj[k * MATCH_PROJECTED_DIMS + j];
    }
    x = y; dim = MATCH_PROJECTED_DIMS;
  }
  const m = n * (n - 1) / 2;
  const dist = new Float64Array(m), ea = new Uint32Array(m), eb = new Uint32Array(m);
  let e = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++, e++) {
      let s = 0;
      for (let k = 0; k < dim; k++) { const t = x[i * dim + k] - x[j * dim + k]; s += t * t; }
      dist[e] = s; ea[e] = i; eb[e] = j;
    }
  }
  const order = Uint32Array.from({ length: m }, (_, k) => k).sort((p, q) => dist[p] - dist[q] || ea[p] - ea[q] || eb[p] - eb[q]);
  const taken = new Uint8Array(n);
  const out: [number, number][] = [];
  for (const k of order) {
    if (taken[ea[k]] || taken[eb[k]]) continue;
    taken[ea[k]] = 1; taken[eb[k]] = 1;
    out.push([ea[k], eb[k]]);
    if (out.length === n >> 1) break;
  }
  return out;
}

/** `row` minus its component along `v` (float64 accumulation); `row` itself when v is zero. */
export function orthogonalTo(row: Float32Array, v: Float32Array): Float32Array {
  let dot = 0, vv = 0;
  for (let i = 0; i < row.length; i++) { dot += row[i] * v[i]; vv += v[i] * v[i]; }
  if (vv === 0) return row.slice();
  const f = dot / vv;
  return row.map((x, i) => x - f * v[i]);
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
  /** Read this tensor of the vector file as `kind` (--vector-key). */
  vectorKey?: string;
  /** How the worker scales the real row and every control row (default raw); controls stay norm-matched to v[layer] first. */
  scaling?: SteerScaling;
  /** pair_diffs.safetensors of the extraction run (needed for 'shuffled'). */
  pairDiffsPath?: string;
  layer: number;
  coef: number;
  seeds: number[];
  modes: ControlMode[];
  /** 'orthogonal' (default): remove each control row's component along v[layer] before norm matching. */
  projection?: ControlProjection;
}

export interface ControlInfo { mode: ControlMode; seed: number; conditionId: string; cosToVector: number | null }

export interface ControlsResult {
  results: ConditionResult[];
  real: ConditionResult;
  projection: ControlProjection;
  /** Each control direction's cosine with v[layer] as built (before any projection). */
  controls: ControlInfo[];
  /** mode → mean Δτ over seeds, and each seed's Δτ. */
  summary: Record<ControlMode, { meanDeltaTrait: number | null; meanDeltaCoherence: number | null; deltas: (number | null)[] }>;
}

export async function runControls(o: ControlsOptions): Promise<ControlsResult> {
  const kind = o.kind ?? 'response_avg';
  const vec = readVectorFile(o.vectorPath, { key: o.vectorKey, kind });
  const real = vectorRow(vec, kind, o.layer);
  const target = norm(real);
  const conds: Condition[] = [baselineCondition(), steerCondition('steer', real, o.layer, o.coef, { scaling: o.scaling })];
  let diffs: { data: Float32Array; pairs: number } | null = null;
  if (o.modes.includes('shuffled')) {
    if (kind !== 'response_avg') throw new PipelineError('vector-invalid', 'the shuffle control is built from response_avg pair differences; use --kind response_avg');
    if (!o.pairDiffsPath) throw new PipelineError('vector-missing', 'the shuffle control needs the extraction run\'s pair_diffs.safetensors');
    const st = loadSafetensors(o.pairDiffsPath).tensors.get('response_avg_diff');
    if (!st) throw new PipelineError('vector-missing', `${o.pairDiffsPath} has no response_avg_diff tensor`);
    diffs = { data: st.data as Float32Array, pairs: st.shape[0] };
  }
  const strata = { offset: o.layer * vec.hidden, length: vec.hidden };
  const couples = diffs ? matchedCouples(diffs.data, diffs.pairs, vec.layers * vec.hidden, strata.offset, strata.length) : [];
  const projection = o.projection ?? 'orthogonal';
  const infos: ControlInfo[] = [];
  for (const seed of o.seeds) {
    for (const mode of o.modes) {
      const full = mode === 'random' ? randomControl(vec.layers, vec.hidden, seed)
        : balancedShuffle(diffs!.data, diffs!.pairs, vec.layers * vec.hidden, seed, strata, couples).vector;
      // Saved unnormalised, like upstream's control files.
      writeSafetensors(o.run.path(`control_${mode}_seed${seed}.safetensors`), { [`${kind}_diff`]: { dtype: 'F32', shape: [vec.layers, vec.hidden], data: full } },
        { mode, seed: String(seed), source_vector_sha: vec.metadata.trait_sha256 ?? '', layer_convention: vec.metadata.layer_convention ?? '' });
      const built = full.slice(o.layer * vec.hidden, (o.layer + 1) * vec.hidden);
      const row = rescale(projection === 'orthogonal' ? orthogonalTo(built, real) : built, target);
      const cond = steerCondition(mode, row, o.layer, o.coef, { seed, scaling: o.scaling });
      // The one cosine (NaN for a zero vector: no direction), stored as null so that the JSON says so.
      const cos = cosine(built, real);
      infos.push({ mode, seed, conditionId: cond.id, cosToVector: Number.isNaN(cos) ? null : cos });
      conds.push(cond);
    }
  }
  const results = await evaluateConditions(conds, o);
  const summary = {} as ControlsResult['summary'];
  for (const mode of o.modes) {
    const rs = results.filter((r) => r.condition.kind === mode);
    summary[mode] = { deltas: rs.map((r) => r.deltaTraitMean), meanDeltaTrait: mean(rs.map((r) => r.deltaTraitMean)), meanDeltaCoherence: mean(rs.map((r) => r.deltaCoherenceMean)) };
  }
  return { results, real: results[1], projection, controls: infos, summary };
}


