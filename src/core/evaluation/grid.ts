/**
 * Layer × coefficient grid for one vector, with the baseline and a prompting baseline in the same run, and
 * an optional coarse-then-fine pass: the useful coefficients sit in a narrow band just below the point where
 * coherence collapses (toy-organism-feasibility.md: "a grid with steps of 1 misses the window"), so after the
 * coarse pass each layer gets extra points at `refine.step` between its last coherent coefficient and the
 * first incoherent one (after extending, one coarse step at a time, layers that never lost coherence).
 *
 * Best (layer, coef): the largest Δτ among steered conditions whose mean coherence is ≥ minCoherence (50).
 */
import type { SteerScaling } from '../../engine/protocol.js';
import { readVectorFile, vectorRow, type VectorKind } from '../vectors/file.js';
import { baselineCondition, promptCondition, steerCondition, type Condition } from './conditions.js';
import { evaluateConditions, type ConditionResult, type EvaluateOptions } from './evaluate.js';

export interface GridOptions extends EvaluateOptions {
  vectorPath: string;
  kind?: VectorKind;
  /** Read this tensor of the vector file as `kind` (--vector-key). */
  vectorKey?: string;
  /** How the worker scales each steered row (default raw). */
  scaling?: SteerScaling;
  layers: number[];
  coefs: number[];
  /**
   * Coarse-then-fine: `step` is the fine spacing at the knee; `extendRounds` (default 2) first extends a layer
   * whose every coarse coefficient is still coherent by one coarse step per round until coherence breaks.
   */
  refine?: { step: number; extendRounds?: number };
  promptBaseline?: boolean;
  minCoherence?: number;
}

export interface GridResult {
  results: ConditionResult[];
  baseline: ConditionResult;
  prompt?: ConditionResult;
  best: ConditionResult | null;
  /** Coefficients added by the fine pass, per layer. */
  refined: Record<number, number[]>;
}

export function bestSteering(results: ConditionResult[], minCoherence = 50): ConditionResult | null {
  let best: ConditionResult | null = null;
  for (const r of results) {
    if (r.condition.kind !== 'steer' || r.deltaTraitMean === null || (r.coherence.mean ?? -1) < minCoherence) continue;
    if (!best || r.deltaTraitMean > best.deltaTraitMean!) best = r;
  }
  return best;
}

/** Fine coefficients between the last coherent and the first incoherent coarse coefficient of one layer. */
export function kneeCoefs(points: { coef: number; coherence: number | null }[], step: number, minCoherence = 50): number[] {
  const sorted = [...points].filter((p) => p.coef > 0).sort((a, b) => a.coef - b.coef);
  let prev = 0;
  for (const p of sorted) {
    if ((p.coherence ?? -1) < minCoherence) {
      const out: number[] = [];
      for (let c = prev + step; c < p.coef - 1e-9; c += step) out.push(Math.round(c * 1e6) / 1e6);
      return out.filter((c) => !sorted.some((q) => Math.abs(q.coef - c) < 1e-9));
    }
    prev = p.coef;
  }
  return [];
}

export async function runGrid(o: GridOptions): Promise<GridResult> {
  const kind = o.kind ?? 'response_avg';
  const vec = readVectorFile(o.vectorPath, { key: o.vectorKey, kind });
  const steer = (layer: number, coef: number) => steerCondition('steer', vectorRow(vec, kind, layer), layer, coef, { scaling: o.scaling });
  const conds: Condition[] = [baselineCondition()];
  if (o.promptBaseline !== false) conds.push(promptCondition());
  for (const layer of o.layers) for (const coef of o.coefs) conds.push(steer(layer, coef));
  let results = await evaluateConditions(conds, o);
  const refined: Record<number, number[]> = {};
  const minCoh = o.minCoherence ?? 50;
  const steerPoints = (layer: number) => results.filter((r) => r.condition.kind === 'steer' && r.condition.layer === layer)
    .map((r) => ({ coef: r.condition.coef!, coherence: r.coherence.mean }));
  if (o.refine) {
    // Extend layers that never lost coherence: the knee lies above the coarse grid.
    const sortedCoefs = [...o.coefs].filter((c) => c > 0).sort((a, b) => a - b);
    const coarseStep = sortedCoefs.length > 1 ? sortedCoefs.at(-1)! - sortedCoefs.at(-2)! : sortedCoefs[0] ?? 1;
    for (let round = 0; round < (o.refine.extendRounds ?? 2); round++) {
      const extra: Condition[] = [];
      for (const layer of o.layers) {
        const pts = steerPoints(layer).filter((p) => p.coef > 0);
        if (pts.length === 0 || pts.some((p) => (p.coherence ?? -1) < minCoh)) continue;
        const next = Math.round((Math.max(...pts.map((p) => p.coef)) + coarseStep) * 1e6) / 1e6;
        (refined[layer] ??= []).push(next);
        extra.push(steer(layer, next));
      }
      if (extra.length === 0) break;
      conds.push(...extra);
      results = await evaluateConditions(conds, o);
    }
    const extra: Condition[] = [];
    for (const layer of o.layers) {
      const add = kneeCoefs(steerPoints(layer), o.refine.step, minCoh);
      if (add.length) (refined[layer] ??= []).push(...add);
      for (const coef of add) extra.push(steer(layer, coef));
    }
    if (extra.length) results = await evaluateConditions([...conds, ...extra], o);
  }
  const sorted = [results[0], ...results.slice(1).sort((a, b) => orderKey(a) - orderKey(b))];
  return {
    results: sorted, baseline: results.find((r) => r.condition.kind === 'baseline')!, prompt: results.find((r) => r.condition.kind === 'prompt'),
    best: bestSteering(results, minCoh), refined,
  };
}

const orderKey = (r: ConditionResult) => r.condition.kind === 'prompt' ? -1 : (r.condition.layer ?? 0) * 1e6 + (r.condition.coef ?? 0);
