/**
 * Capture reductions over the hidden states of one batched forward (upstream `get_hidden_p_and_r`).
 * Hidden states follow the HF convention (src/engine/model/types.ts): L+1 arrays, each [B, S, H], where
 * index 0 is the embedding output and index L is after the final norm. Rows are left-padded: row b's real
 * tokens occupy columns [pad_b, S). Means accumulate in float64 and are stored as float32.
 */
import type { Reduction } from '../protocol.js';

export interface RowSpan {
  /** Left-pad columns before the row's first real token. */
  pad: number;
  /** Real tokens of the prompt (prompt_len). */
  promptTokens: number;
  /** Real tokens in total (prompt + response). */
  totalTokens: number;
}

/** The token range [from, to) of a reduction, in the row's real tokens (0 = its first real token). */
export function reductionRange(red: Reduction, span: RowSpan): [number, number] {
  switch (red) {
    case 'prompt_avg': return [0, span.promptTokens];
    case 'response_avg': return [span.promptTokens, span.totalTokens];
    case 'prompt_last': return [Math.max(0, span.promptTokens - 1), span.promptTokens];
  }
}

/**
 * One row's reductions from full hidden states, in JS (the reference for the in-graph reduction of
 * capture.ts; float64 sums): each a [L+1, H] Float32Array. An empty range gives NaN (mean of nothing, as torch).
 */
export function reduceRow(
  hidden: readonly Float32Array[],
  b: number,
  seqLen: number,
  hiddenSize: number,
  span: RowSpan,
  reductions: readonly Reduction[],
): Partial<Record<Reduction, Float32Array>> {
  const layers = hidden.length;
  const out: Partial<Record<Reduction, Float32Array>> = {};
  const ranges: Record<Reduction, [number, number]> = {
    prompt_avg: [0, span.promptTokens],
    response_avg: [span.promptTokens, span.totalTokens],
    prompt_last: [span.promptTokens - 1, span.promptTokens],
  };
  const acc = new Float64Array(hiddenSize);
  for (const red of reductions) {
    const [from, to] = ranges[red];
    const res = new Float32Array(layers * hiddenSize);
    for (let l = 0; l < layers; l++) {
      const hs = hidden[l];
      acc.fill(0);
      for (let t = Math.max(0, from); t < to; t++) {
        const off = (b * seqLen + span.pad + t) * hiddenSize;
        for (let i = 0; i < hiddenSize; i++) acc[i] += hs[off + i];
      }
      const n = to - Math.max(0, from);
      for (let i = 0; i < hiddenSize; i++) res[l * hiddenSize + i] = n > 0 ? acc[i] / n : NaN;
    }
    out[red] = res;
  }
  return out;
}

/** Rows [pad, pad+count) of one layer for row b, as a fresh [count, H] array. */
export function sliceRow(hs: Float32Array, b: number, seqLen: number, hiddenSize: number, from: number, count: number): Float32Array {
  const start = (b * seqLen + from) * hiddenSize;
  return hs.slice(start, start + count * hiddenSize);
}

/** Scalar projection of every row of a [T, H] block onto unit(v): (h·v)/|v| (upstream `a_proj_b`). */
export function projectRows(rows: Float32Array, v: Float32Array): number[] {
  const H = v.length;
  let ss = 0;
  for (let i = 0; i < H; i++) ss += v[i] * v[i];
  const norm = Math.sqrt(ss);
  if (!(norm > 0)) throw new Error('cannot project onto a zero vector');
  const T = rows.length / H;
  const out = new Array<number>(T);
  for (let t = 0; t < T; t++) {
    let dot = 0;
    for (let i = 0; i < H; i++) dot += rows[t * H + i] * v[i];
    out[t] = dot / norm;
  }
  return out;
}
