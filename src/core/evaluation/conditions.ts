/**
 * Evaluation conditions: what one set of answers to the eval questions is generated under.
 *   baseline  no steering, no system prompt (upstream eval: the question alone)
 *   prompt    the prompting baseline: the eliciting (pos) instruction as system prompt, no steering
 *   steer     coef · v[layer] added at 'response' positions (upstream default); by default the raw, unnormalised
 *             vector, or scaled by the worker (`scaling`: unit coef·v̂, target-norm coef·N·v̂; --scaling)
 *   random / shuffled   control directions norm-matched to v[layer], same layer, coef and scaling (./controls.ts)
 */
import { encodeF32, type SteerPositions, type SteerScaling, type SteerSpec } from '../../engine/protocol.js';

export type ConditionKind = 'baseline' | 'prompt' | 'steer' | 'random' | 'shuffled';

export interface Condition {
  id: string;
  kind: ConditionKind;
  layer?: number;
  coef?: number;
  /** Control seed. */
  seed?: number;
  steer?: SteerSpec[];
  /** ‖row‖ of the added direction (before coef and scaling). */
  vectorNorm?: number;
  /** How the worker scales the row; absent = raw (so raw results read as they always did). */
  scaling?: SteerScaling;
}

/** The scaling a steered condition's CSV rows name in `scaling_mode` (upstream's underscores: target_norm). */
export function scalingModeLabel(s: SteerScaling | undefined): string {
  return s?.mode === 'target-norm' ? 'target_norm' : s?.mode ?? 'raw';
}

/** True for scalings other than raw: those are recorded (run configs, conditions); raw is the default and left out. */
export const isScaled = (s: SteerScaling | undefined): s is Exclude<SteerScaling, { mode: 'raw' }> => !!s && s.mode !== 'raw';

export const fmtCoef = (c: number) => String(c).replace('-', 'm').replace('.', 'p');

export function baselineCondition(): Condition { return { id: 'baseline', kind: 'baseline' }; }
export function promptCondition(): Condition { return { id: 'prompt', kind: 'prompt' }; }

export function steerCondition(kind: 'steer' | 'random' | 'shuffled', row: Float32Array, layer: number, coef: number,
  options: { seed?: number; positions?: SteerPositions; scaling?: SteerScaling } = {}): Condition {
  const id = kind === 'steer' ? `steer_L${layer}_c${fmtCoef(coef)}` : `${kind}_s${options.seed}_L${layer}_c${fmtCoef(coef)}`;
  let n = 0;
  for (const x of row) n += x * x;
  return {
    id, kind, layer, coef, seed: options.seed, vectorNorm: Math.sqrt(n), ...(isScaled(options.scaling) ? { scaling: options.scaling } : {}),
    steer: [{ vector: { values: encodeF32(row) }, layer, coef, positions: options.positions ?? 'response', scaling: options.scaling ?? { mode: 'raw' } }],
  };
}
