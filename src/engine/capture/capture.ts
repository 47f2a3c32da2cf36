/**
 * Teacher-forced forwards for extraction (reductions) and monitoring (per-token projections).
 * Each batch is one left-padded forward with all L+1 hidden states (HF convention, see
 * src/engine/model/types.ts); only the reduced [L+1, H] means — or the requested per-token scalars —
 * leave this module, never the full activation tensors (unless a caller asks for layers explicitly).
 */
import type { LoadedModel } from '../model/types.js';
import type { Reduction } from '../protocol.js';
import { leftPad } from '../generation/batch.js';
import { projectRows, reduceRow, sliceRow } from './reduce.js';

export interface TokenizedItem {
  ids: number[];
  promptTokens: number;
}

/** Rows per forward so that B · S · H · (L+1) float32 hidden states stay under `budgetBytes`. */
export function autoBatchSize(model: LoadedModel, maxLen: number, budgetBytes = 256 * 1024 * 1024): number {
  const { numLayers, hiddenSize } = model.config;
  const perRow = maxLen * hiddenSize * (numLayers + 1) * 4;
  return Math.max(1, Math.floor(budgetBytes / Math.max(1, perRow)));
}

/** Runs one left-padded forward over `items` and hands each row's hidden states to `visit`. */
export async function forwardItems(
  model: LoadedModel,
  items: readonly TokenizedItem[],
  padId: number,
  visit: (row: number, hidden: Float32Array[], b: number, seqLen: number, pad: number) => void,
): Promise<void> {
  const padded = leftPad(items.map((x) => x.ids), padId);
  const out = await model.forward({
    batch: padded.batch, seqLen: padded.seqLen,
    inputIds: padded.inputIds, positionIds: padded.positionIds, attentionMask: padded.attentionMask,
    logits: 'none', hiddenStates: true, past: null,
  });
  out.present.dispose();
  const hidden = out.hiddenStates;
  if (!hidden || hidden.length !== model.config.numLayers + 1) {
    throw new Error(`the model returned ${hidden?.length ?? 0} hidden states, expected L+1 = ${model.config.numLayers + 1}`);
  }
  items.forEach((_, b) => visit(b, hidden, b, padded.seqLen, padded.pads[b]));
}

export interface CapturedRow {
  values: Partial<Record<Reduction, Float32Array>>;
  hidden?: Map<number, Float32Array>;
}

export async function captureBatch(model: LoadedModel, items: readonly TokenizedItem[], reductions: readonly Reduction[], padId: number, fullLayers: readonly number[] = []): Promise<CapturedRow[]> {
  const H = model.config.hiddenSize;
  const rows: CapturedRow[] = [];
  await forwardItems(model, items, padId, (i, hidden, b, S, pad) => {
    const it = items[i];
    const values = reduceRow(hidden, b, S, H, { pad, promptTokens: it.promptTokens, totalTokens: it.ids.length }, reductions);
    const row: CapturedRow = { values };
    if (fullLayers.length) row.hidden = new Map(fullLayers.map((l) => [l, sliceRow(hidden[l], b, S, H, pad, it.ids.length)]));
    rows.push(row);
  });
  return rows;
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
