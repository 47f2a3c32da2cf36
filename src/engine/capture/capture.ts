/**
 * Teacher-forced forwards for extraction (reductions) and monitoring (per-token projections).
 * Each batch is one left-padded forward (HF hidden-state convention, see src/engine/model/types.ts).
 * Extraction reduces inside the graph: the forward is fed one 0/1 token weighting per reduction and returns
 * the per-row sums [K, L+1, H] (`captured`), which are divided by the token counts here — the [B, S, H]
 * hidden states never leave onnxruntime unless a caller asks for layers explicitly. Projection still reads
 * the full hidden states (it needs every token).
 */
import os from 'node:os';
import type { ForwardInputs, KvCache, LoadedModel, NormalizedConfig } from '../model/types.js';
import { newKvCache, zeroPast } from '../model/session.js';
import type { Reduction } from '../protocol.js';
import { columns, leftPad, PAD_ALIGN, type PaddedBatch } from '../generation/batch.js';
import { projectRows, reductionRange, sliceRow } from './reduce.js';

export interface TokenizedItem {
  ids: number[];
  promptTokens: number;
}

/**
 * Bytes one row of `seqLen` tokens (padded to PAD_ALIGN) costs in a forward without a KV past (capture,
 * projection): float32 activations per token of ≈ 16·H (residual, norm, q/k/v and their head-major and
 * rotated copies, attention output), 6·I (MLP gate, up, activation, product) and 10·heads·S (mask, scores,
 * exponentials, probabilities) — coefficients fitted to the peak RSS of the toy model's capture with margin
 * (scripts/bench/profile-capture-memory.ts) — plus what leaves the graph: the reduced rows (k·(L+1)·H) and,
 * when asked, every hidden state (S·(L+1)·H).
 */
export function rowBytes(cfg: NormalizedConfig, seqLen: number, out: { reductions?: number; fullHidden?: boolean } = {}): number {
  const { hiddenSize: H, intermediateSize: I, numHeads, numLayers: L } = cfg;
  seqLen = Math.ceil(seqLen / PAD_ALIGN) * PAD_ALIGN;
  const activations = seqLen * (16 * H + 6 * I + 10 * numHeads * seqLen);
  const outputs = (out.reductions ?? 0) * (L + 1) * H + (out.fullHidden ? seqLen * (L + 1) * H : 0);
  return 4 * (activations + outputs);
}

/**
 * Memory a batch may use: a quarter of the memory free now, between 64 MiB and `cap`. Capture's default cap
 * (512 MiB) bounds one forward's activations, which larger batches no longer speed up; generation passes a
 * larger one (its KV cache must live for the whole batch).
 */
export function activationBudget(cap = CAPTURE_BUDGET_CAP): number {
  return Math.min(cap, Math.max(64 * 2 ** 20, Math.floor(os.freemem() / 4)));
}
export const CAPTURE_BUDGET_CAP = 512 * 2 ** 20;
export const GENERATION_BUDGET_CAP = 8 * 2 ** 30;

/** Rows per forward so that a forward over rows of `maxLen` tokens stays under `budgetBytes` (activations and outputs). */
export function autoBatchSize(model: LoadedModel, maxLen: number, budgetBytes = activationBudget(), out: { reductions?: number; fullHidden?: boolean } = { reductions: 3 }): number {
  return Math.max(1, Math.floor(budgetBytes / Math.max(1, rowBytes(model.config, maxLen, out))));
}

/**
 * A left-padded batch's forward from its first column that is not a pad in every row: the columns before it
 * (`skip`) are a zero past (session.ts zeroPast, same bits for the real tokens), so a batch of short rows,
 * padded to a multiple of PAD_ALIGN, does not forward those pads. Outputs cover columns [skip, S): row b's
 * pads in them are `pads[b] − skip`.
 */
interface Forwardable { padded: PaddedBatch; skip: number; cols: number; past: KvCache | null }
function forwardable(model: LoadedModel, items: readonly TokenizedItem[], padId: number): Forwardable {
  const padded = leftPad(items.map((x) => x.ids), padId);
  // The present store is sized for exactly S positions (the lineage's reserve), the zero past for exactly `skip`.
  const past = zeroPast(newKvCache(model, padded.batch, padded.seqLen), Math.min(...padded.pads), { exact: true });
  const skip = past?.pastLength ?? 0;
  return { padded, skip, cols: padded.seqLen - skip, past };
}

function forwardInputs(f: Forwardable): Pick<ForwardInputs, 'batch' | 'seqLen' | 'inputIds' | 'positionIds' | 'attentionMask' | 'past'> {
  const { padded, skip, cols, past } = f;
  return {
    batch: padded.batch, seqLen: cols, past,
    inputIds: columns(padded.inputIds, padded.batch, padded.seqLen, skip, padded.seqLen),
    positionIds: columns(padded.positionIds, padded.batch, padded.seqLen, skip, padded.seqLen),
    attentionMask: padded.attentionMask,
  };
}

/** Runs one left-padded forward over `items` and hands each row's hidden states to `visit`. */
export async function forwardItems(
  model: LoadedModel,
  items: readonly TokenizedItem[],
  padId: number,
  visit: (row: number, hidden: Float32Array[], b: number, seqLen: number, pad: number) => void,
): Promise<void> {
  const f = forwardable(model, items, padId);
  const out = await model.forward({ ...forwardInputs(f), logits: 'none', hiddenStates: true });
  f.past?.dispose();
  out.present.dispose();
  const hidden = out.hiddenStates;
  if (!hidden || hidden.length !== model.config.numLayers + 1) {
    throw new Error(`the model returned ${hidden?.length ?? 0} hidden states, expected L+1 = ${model.config.numLayers + 1}`);
  }
  items.forEach((_, b) => visit(b, hidden, b, f.cols, f.padded.pads[b] - f.skip));
}

export interface CapturedRow {
  values: Partial<Record<Reduction, Float32Array>>;
  hidden?: Map<number, Float32Array>;
}

/**
 * One left-padded forward over `items`; each row's reductions come out of the graph as sums over 0/1 token
 * weightings (exact float32 sums; `prompt_last` is the hidden state itself) and are divided by the token
 * count here, in float64, then stored as float32. An empty range gives NaN (mean of nothing, as torch).
 */
export async function captureBatch(model: LoadedModel, items: readonly TokenizedItem[], reductions: readonly Reduction[], padId: number, fullLayers: readonly number[] = []): Promise<CapturedRow[]> {
  const { hiddenSize: H, numLayers: L } = model.config;
  const f = forwardable(model, items, padId);
  const { padded, skip, cols: S } = f;
  const B = padded.batch;
  const pads = padded.pads.map((p) => p - skip);
  const K = reductions.length;
  const weights = new Float32Array(B * S * K);
  const counts = items.map((it, b) => reductions.map((red, k) => {
    const [from, to] = reductionRange(red, { pad: pads[b], promptTokens: it.promptTokens, totalTokens: it.ids.length });
    for (let t = from; t < to; t++) weights[(b * S + pads[b] + t) * K + k] = 1;
    return to - from;
  }));
  const out = await model.forward({ ...forwardInputs(f), logits: 'none', hiddenStates: fullLayers.length > 0, capture: { weights, k: K } });
  f.past?.dispose();
  out.present.dispose();
  const sums = out.captured;
  const per = (L + 1) * H;
  if (!sums || sums.length !== B * K * per) throw new Error(`the model returned ${sums?.length ?? 0} captured values, expected B·K·(L+1)·H = ${B * K * per}`);
  return items.map((it, b) => {
    const values: CapturedRow['values'] = {};
    reductions.forEach((red, k) => {
      const n = counts[b][k];
      const src = sums.subarray((b * K + k) * per, (b * K + k + 1) * per);
      const res = new Float32Array(per);
      for (let i = 0; i < per; i++) res[i] = n > 0 ? src[i] / n : NaN;
      values[red] = res;
    });
    const row: CapturedRow = { values };
    if (fullLayers.length) row.hidden = new Map(fullLayers.map((l) => [l, sliceRow(out.hiddenStates![l], b, S, H, pads[b], it.ids.length)]));
    return row;
  });
}

/** Per-token scalar projections of hidden_states[layer] onto unit(v) for each named vector. */
export async function projectBatch(
  model: LoadedModel,
  items: readonly TokenizedItem[],
  vectors: readonly { id: string; layer: number; v: Float32Array }[],
  padId: number,
): Promise<Record<string, number[]>[]> {
  const H = model.config.hiddenSize;
  const res: Record<string, number[]>[] = [];
  await forwardItems(model, items, padId, (i, hidden, b, S, pad) => {
    const rec: Record<string, number[]> = {};
    for (const vec of vectors) rec[vec.id] = projectRows(sliceRow(hidden[vec.layer], b, S, H, pad, items[i].ids.length), vec.v);
    res.push(rec);
  });
  return res;
}
