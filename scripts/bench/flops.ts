/**
 * FLOPs the bench's compute-bound cells do, counted two ways, so that a cell's GFLOP/s can be set against the
 * machine's measured GEMM peak (how far each cell is from the limit):
 *   - real: the work the cell's real tokens need — what the peer and we both must do;
 *   - executed: what a side actually forwards, padding included. Ours left-pads every block to a multiple of
 *     PAD_ALIGN columns for batch invariance, but the columns that are pads in every row are not forwarded: they
 *     are a zero past that the real tokens attend to (masked) — session.ts zeroPast, generate.ts, capture.ts — so
 *     rows of equal length forward no pad columns and pay only attention over those zero keys; shorter rows of a
 *     capture batch forward pads up to the batch's longest row (batches sorted by length, worker handlers.ts). A
 *     lone float-format row runs beside a ghost copy (int8/int4 run it alone). The batched peer pads each batch
 *     of 8 on the right to its longest item.
 *
 * One forward of `cols` new tokens per row over `past` cached positions (causal attention):
 *   2 · W · cols                       every projection of every layer (W = layerMatmulParams)
 * + 4 · H · Lyr · (cols · past + cols · (cols + 1) / 2)   QKᵀ and P·V: 2 · H FLOPs per (query, key) pair each
 * + 2 · V · H · logitRows             the LM head (generation: the last position only; capture: none)
 * per row. Norms, RoPE, softmax and the element-wise MLP are left out (< 0.5 % at these widths).
 */
import type { NormalizedConfig } from '../../src/engine/model/types.js';
import { rowBytes } from '../../src/engine/capture/capture.js';
import { PAD_ALIGN } from '../../src/engine/generation/batch.js';

/** What the count needs of a model (BenchModel has these). */
export interface FlopModel { params: number; layers: number; hidden: number; vocab: number; tied: boolean }

/** Parameters of the decoder layers' matrices: everything but the embedding table, the LM head and the norms. */
export function layerMatmulParams(m: FlopModel): number {
  return m.params - m.vocab * m.hidden * (m.tied ? 1 : 2) - (2 * m.layers + 1) * m.hidden;
}

/** FLOPs of one forward: `rows` rows of `cols` new tokens over `past` cached positions, `logitRows` LM-head rows per row. */
export function forwardFlops(m: FlopModel, rows: number, cols: number, past: number, logitRows: number): number {
  const keys = cols * past + (cols * (cols + 1)) / 2;
  return rows * (2 * layerMatmulParams(m) * cols + 4 * m.hidden * m.layers * keys + 2 * m.vocab * m.hidden * logitRows);
}

/** Columns a prompt of `len` tokens occupies in our forwards (PAD_ALIGN multiple). */
export const padded = (len: number, align = PAD_ALIGN) => Math.ceil(len / align) * align;

export interface GenFlops {
  /** Whole cell (prefill + every decode step), real tokens only. */
  real: number;
  /** Whole cell as ours executes it (PAD_ALIGN prompt columns, ghost row at batch 1). */
  oursExecuted: number;
  /** One decode step, averaged over the steps (real; ours executed). */
  stepReal: number;
  stepOursExecuted: number;
}

/**
 * Greedy generation of `n` new tokens per row after `P`-token prompts at batch `B`: the prefill, then n − 1
 * decode forwards (the last sampled token is never forwarded), step t attending to P + t keys. The peer's
 * prompts are all P long, so it executes the real count. Ours (all rows P long): the prompt's P columns over a
 * zero past of padded(P) − P columns (the prefix and 'last' phases together), then each step over padded(P) + t − 1
 * cached positions; `ghost` (float formats) doubles a lone row.
 */
export function genFlops(m: FlopModel, B: number, P: number, n: number, ghost = true): GenFlops {
  const R = B === 1 && ghost ? 2 : B;
  const Pp = padded(P);
  let stepReal = 0, stepOurs = 0;
  for (let t = 1; t < n; t++) {
    stepReal += forwardFlops(m, B, 1, P + t - 1, 1);
    stepOurs += forwardFlops(m, R, 1, Pp + t - 1, 1);
  }
  const steps = Math.max(1, n - 1);
  return {
    real: forwardFlops(m, B, P, 0, 1) + stepReal,
    oursExecuted: forwardFlops(m, R, P - 1, Pp - P, 0) + forwardFlops(m, R, 1, Pp - 1, 1) + stepOurs,
    stepReal: stepReal / steps,
    stepOursExecuted: stepOurs / steps,
  };
}

/** Forwards of a capture: rows, the columns forwarded per row, and the zero past (pad keys) they attend over. */
export interface Chunk { rows: number; seqLen: number; past?: number }

/** Real capture FLOPs: each item on its own, no LM head. */
export function captureRealFlops(m: FlopModel, lens: number[]): number {
  return lens.reduce((a, S) => a + forwardFlops(m, 1, S, 0, 0), 0);
}

export function chunksFlops(m: FlopModel, chunks: Chunk[]): number {
  return chunks.reduce((a, c) => a + forwardFlops(m, c.rows, c.seqLen, c.past ?? 0, 0), 0);
}

/** The batched peer: batches of `batch` in request order, right-padded to the batch's longest item. */
export function peerCaptureChunks(lens: number[], batch: number): Chunk[] {
  const out: Chunk[] = [];
  for (let s = 0; s < lens.length; s += batch) out.push({ rows: Math.min(batch, lens.length - s), seqLen: Math.max(...lens.slice(s, s + batch)) });
  return out;
}

/**
 * Our capture's forwards, by the worker's own rule (handlers.ts `batches`): items sorted by length, a chunk
 * grows while its longest member's rowBytes still fit the activation budget the worker reported
 * (`batching.budgetBytes`), each chunk left-padded to a PAD_ALIGN multiple of its longest item, of which the
 * columns before the longest item (pads in every row) are a zero past, not forwarded (capture.ts).
 */
export function oursCaptureChunks(cfg: NormalizedConfig, lens: number[], budgetBytes: number, reductions = 3): Chunk[] {
  const order = lens.map((_, i) => i).sort((a, b) => lens[a] - lens[b] || a - b);
  const fit = (len: number) => Math.max(1, Math.floor(budgetBytes / Math.max(1, rowBytes(cfg, len, { reductions }))));
  const out: Chunk[] = [];
  let start = 0;
  while (start < order.length) {
    let n = 1;
    while (start + n < order.length && n + 1 <= fit(lens[order[start + n]])) n++;
    const longest = lens[order[start + n - 1]];
    out.push({ rows: n, seqLen: longest, past: padded(longest) - longest });
    start += n;
  }
  return out;
}
