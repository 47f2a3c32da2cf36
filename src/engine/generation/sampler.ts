/**
 * Next-token selection with Hugging Face `generate` semantics (logits processors/warpers in HF order):
 *   1. repetition penalty  (RepetitionPenaltyLogitsProcessor: every distinct token already in the row,
 *                           prompt included, score<0 ? score·p : score/p — applied once per distinct id)
 *   2. min new tokens      (MinNewTokensLengthLogitsProcessor: EOS ids → −∞ until minNewTokens generated)
 *   3. greedy              (temperature ≤ 0: argmax, first maximum wins like torch.argmax)
 *   or
 *   3. temperature         (TemperatureLogitsWarper: scores / T)
 *   4. top-k               (TopKLogitsWarper: drop scores < k-th largest; ties with it are kept)
 *   5. top-p               (TopPLogitsWarper: sort ascending, drop the prefix with cumulative prob ≤ 1−p,
 *                           always keep the most likely token)
 *   6. sample              softmax over the kept tokens, inverse-CDF walk in token-id order with one
 *                           uniform draw from the row's counter-based stream (prng.ts).
 * Everything runs in float64 on one row's logits, so the result depends only on those logits, the row's
 * history and its (seed, step): identical alone or batched.
 */
import { uniformAt } from './prng.js';

export interface SamplerConfig {
  temperature: number;
  topK: number;          // 0 = disabled
  topP: number;          // 1 = disabled
  repetitionPenalty: number; // 1 = disabled
  minNewTokens: number;
  eosTokenIds: readonly number[];
}

export interface RowSamplingState {
  seed: number;
  /** Distinct token ids seen so far in this row (prompt + generated, pads excluded). */
  seen: Set<number>;
  generated: number;
}

/** Apply steps 1–2 in place on a float64 copy of the logits and return it. */
export function processLogits(logits: ArrayLike<number>, cfg: SamplerConfig, state: RowSamplingState): Float64Array {
  const scores = Float64Array.from(logits as ArrayLike<number>);
  const p = cfg.repetitionPenalty;
  if (p !== 1) {
    for (const id of state.seen) {
      if (id < 0 || id >= scores.length) continue;
      const s = scores[id];
      scores[id] = s < 0 ? s * p : s / p;
    }
  }
  if (state.generated < cfg.minNewTokens) {
    for (const id of cfg.eosTokenIds) if (id >= 0 && id < scores.length) scores[id] = -Infinity;
  }
  return scores;
}

export function argmax(scores: ArrayLike<number>): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] > bestV) { bestV = scores[i]; best = i; }
  }
  return best;
}

/** Steps 3–5: returns the warped scores (−∞ = removed). Exported for unit tests. */
export function warpScores(scores: Float64Array, cfg: SamplerConfig): Float64Array {
  const n = scores.length;
  const t = cfg.temperature;
  if (t !== 1) for (let i = 0; i < n; i++) scores[i] = scores[i] / t;
  if (cfg.topK > 0 && cfg.topK < n) {
    const sorted = Float64Array.from(scores).sort(); // ascending
    const kth = sorted[n - cfg.topK];
    for (let i = 0; i < n; i++) if (scores[i] < kth) scores[i] = -Infinity;
  }
  if (cfg.topP < 1) {
    // Ascending by score; ties broken by id so the order is deterministic.
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (scores[i] !== -Infinity) idx.push(i);
    idx.sort((a, b) => (scores[a] - scores[b]) || (a - b));
    let max = -Infinity;
    for (const i of idx) if (scores[i] > max) max = scores[i];
    let total = 0;
    for (const i of idx) total += Math.exp(scores[i] - max);
    let cum = 0;
    const cut = 1 - cfg.topP;
    for (let j = 0; j < idx.length - 1; j++) { // the last (most likely) token is always kept
      cum += Math.exp(scores[idx[j]] - max) / total;
      if (cum <= cut) scores[idx[j]] = -Infinity;
      else break;
    }
  }
  return scores;
}

/** Inverse-CDF sample from softmax(scores) with the uniform u ∈ [0, 1). */
export function sampleFrom(scores: Float64Array, u: number): number {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  if (max === -Infinity) throw new Error('sampler: every token was filtered out (all logits are -inf)');
  let total = 0;
  for (let i = 0; i < scores.length; i++) total += Math.exp(scores[i] - max);
  const target = u * total;
  let cum = 0;
  let last = -1;
  for (let i = 0; i < scores.length; i++) {
    const w = Math.exp(scores[i] - max);
    if (w === 0) continue;
    cum += w;
    last = i;
    if (cum > target) return i;
  }
  return last; // rounding: u·total can equal the full sum
}

/** Choose the next token of one row. `logits` is that row's [V] slice. */
export function nextToken(logits: ArrayLike<number>, cfg: SamplerConfig, state: RowSamplingState): number {
  const scores = processLogits(logits, cfg, state);
  if (!(cfg.temperature > 0)) return argmax(scores);
  warpScores(scores, cfg);
  return sampleFrom(scores, uniformAt(state.seed, state.generated));
}
