/**
 * Request handlers: validate protocol params, tokenize, split into batches and drive the generation /
 * capture loops on a loaded model. Everything here runs in the worker process.
 */
import type { CancellationToken } from 'vscode-jsonrpc';
import { activationBudget, autoBatchSize, captureBatch, GENERATION_BUDGET_CAP, projectBatch, rowBytes, type TokenizedItem } from '../capture/capture.js';
import { generateBatch, planGenBatch, type GenRowInput } from '../generation/generate.js';
import { normalizeSeed } from '../generation/prng.js';
import type { SamplerConfig } from '../generation/sampler.js';
import {
  encodeF32, type Batching,
  type CaptureParams, type CaptureResult, type CapturedItem, type GenerateParams, type GenerateResult, type GeneratedRow,
  type ProjectParams, type ProjectResult, type Reduction, type TokenNotificationParams, type TokenizeParams, type TokenizeResult,
} from '../protocol.js';
import { resolveSteer, resolveVector, type VectorFileReader } from '../steering/steer.js';
import { badRequest, cancelled } from './errors.js';
import { renderPrompt, tokenizeItem } from './prompts.js';
import type { ModelEntry, ModelRegistry } from './registry.js';

const DEFAULT_MAX_NEW_TOKENS = 64;
/** OpenAI caps top_logprobs at 20; a judge needs exactly that. */
const MAX_TOP_LOGPROBS = 20;
const REDUCTIONS: readonly Reduction[] = ['prompt_avg', 'response_avg', 'prompt_last'];

/** Indices sorted by length, ties in request order. */
const byLength = (lens: number[]): number[] => lens.map((_, i) => i).sort((a, b) => lens[a] - lens[b] || a - b);

const num = (v: unknown, name: string, dflt: number, ok: (x: number) => boolean, rule: string): number => {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw badRequest(`sampling.${name} = ${String(v)} is invalid: ${rule}`);
  return v;
};

function checkLayers(m: ModelEntry, layers: unknown, what: string): number[] {
  if (layers === undefined) return [];
  const L = m.model.config.numLayers;
  if (!Array.isArray(layers) || layers.some((l) => !Number.isInteger(l) || l < 0 || l > L)) {
    throw badRequest(`${what} must list hidden-state layers in 0..${L}`);
  }
  return layers as number[];
}

export class Handlers {
  constructor(private readonly registry: ModelRegistry, private readonly readVectorFile: VectorFileReader) {}

  tokenize(p: TokenizeParams): TokenizeResult {
    const m = this.registry.get(p.modelId);
    const r = renderPrompt(m, p.prompt, 'prompt', false);
    return { text: r.text, ids: r.ids, tokens: r.ids.map((id) => m.tokenizer?.idToToken(id) ?? String(id)) };
  }

  detokenize(p: { modelId: string; ids: number[]; skipSpecialTokens?: boolean }): string {
    const m = this.registry.get(p.modelId);
    if (!m.tokenizer) throw badRequest(`model ${m.id} has no tokenizer.json, so ids cannot be decoded`);
    return m.tokenizer.decode(p.ids, p.skipSpecialTokens ?? true);
  }

  applyChatTemplate(p: { modelId: string; messages: { role: 'system' | 'user' | 'assistant'; content: string }[]; addGenerationPrompt?: boolean }): string {
    const m = this.registry.get(p.modelId);
    if (!m.tokenizer) throw badRequest(`model ${m.id} has no tokenizer.json and no chat template`);
    return m.tokenizer.applyChatTemplate(p.messages, p.addGenerationPrompt ?? true);
  }

  async generate(p: GenerateParams, token: CancellationToken, notify: (n: TokenNotificationParams) => void): Promise<GenerateResult> {
    const m = this.registry.get(p.modelId);
    if (!Array.isArray(p.rows) || p.rows.length === 0) throw badRequest('generate needs at least one row');
    const s = p.sampling ?? {};
    const { numLayers: L, hiddenSize: H } = m.model.config;
    const eos = [...new Set([...m.eosTokenIds, ...(s.eosTokenIds ?? [])])];
    const sampler: SamplerConfig = {
      temperature: num(s.temperature, 'temperature', 0, (x) => x >= 0, 'use 0 for greedy or a positive temperature'),
      topK: num(s.topK, 'topK', 0, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer (0 = off)'),
      topP: num(s.topP, 'topP', 1, (x) => x > 0 && x <= 1, 'in (0, 1] (1 = off)'),
      repetitionPenalty: num(s.repetitionPenalty, 'repetitionPenalty', 1, (x) => x > 0, 'a positive number (1 = off)'),
      minNewTokens: num(s.minNewTokens, 'minNewTokens', 0, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer'),
      eosTokenIds: eos,
    };
    const maxNewTokens = num(s.maxNewTokens, 'maxNewTokens', DEFAULT_MAX_NEW_TOKENS, (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1');
    const baseSeed = num(s.seed, 'seed', 0, () => true, 'a finite number');
    const hiddenLayers = checkLayers(m, p.returnHiddenStates, 'returnHiddenStates');
    const logprobs = p.logprobs === undefined || p.logprobs === null ? undefined
      : num(p.logprobs, 'logprobs', 0, (x) => Number.isInteger(x) && x >= 0 && x <= MAX_TOP_LOGPROBS, `an integer in 0..${MAX_TOP_LOGPROBS}`);
    const stop = (s.stop ?? []).filter((x) => typeof x === 'string' && x.length > 0);
    if (stop.length && !m.tokenizer) throw badRequest(`model ${m.id} has no tokenizer, so stop strings cannot be matched`);

    const inputs: (GenRowInput & { promptText: string })[] = p.rows.map((row, i) => {
      const r = renderPrompt(m, row.prompt, `rows[${i}].prompt`);
      const steer = (row.steer ?? []).map((spec) => resolveSteer(spec, L, H, this.readVectorFile));
      return { promptIds: r.ids, promptText: r.text, steer: steer.length ? steer : undefined, seed: normalizeSeed(row.seed ?? baseSeed + i) };
    });
    const maxPos = m.model.config.maxPositions;
    inputs.forEach((r, i) => {
      if (maxPos > 0 && r.promptIds.length + maxNewTokens > maxPos) {
        throw badRequest(`rows[${i}]: ${r.promptIds.length} prompt tokens + maxNewTokens ${maxNewTokens} exceed the model's ${maxPos} positions; shorten the prompt or lower maxNewTokens`);
      }
    });
    // Batch size from free memory (KV cache + prefill activations of the longest prompt), capped by the request.
    const requested = p.batchSize === undefined || p.batchSize === null ? undefined : Math.max(1, Math.floor(p.batchSize));
    const batching = planGenBatch(m.model, inputs.length, Math.max(...inputs.map((r) => r.promptIds.length)), maxNewTokens, requested, activationBudget(GENERATION_BUDGET_CAP));
    const batchSize = batching.batchSize;
    const decode = m.tokenizer ? (ids: number[]) => m.tokenizer!.decode(ids, true) : undefined;
    const t0 = performance.now();
    const rows: GeneratedRow[] = new Array(inputs.length);
    let tokens = 0;
    // Rows of similar prompt length share a batch (less left padding); results return in request order.
    const order = byLength(inputs.map((r) => r.promptIds.length));
    for (let start = 0; start < order.length; start += batchSize) {
      const idx = order.slice(start, start + batchSize);
      const chunk = idx.map((i) => inputs[i]);
      const outs = await generateBatch(m.model, chunk, { sampler, maxNewTokens, eosTokenIds: eos, stop, padTokenId: m.padTokenId, hiddenLayers, logprobs }, {
        checkCancelled: () => { if (token.isCancellationRequested) throw cancelled(); },
        decode,
        onToken: p.stream ? (row, tokenId, text) => notify({ requestId: p.requestId ?? '', row: idx[row], text, tokenId }) : undefined,
      });
      outs.forEach((o, j) => {
        tokens += o.tokenIds.length;
        const row: GeneratedRow = { text: o.text, promptText: chunk[j].promptText, promptTokenIds: chunk[j].promptIds, tokenIds: o.tokenIds, finishReason: o.finishReason };
        if (o.logprobs) row.logprobs = o.logprobs;
        if (o.steeringApplied) row.steeringApplied = o.steeringApplied;
        if (o.hidden) row.hiddenStates = Object.fromEntries([...o.hidden].map(([l, a]) => [String(l), encodeF32(a)]));
        rows[idx[j]] = row;
      });
    }
    const elapsedMs = performance.now() - t0;
    return { rows, elapsedMs, tokensPerSecond: tokens / Math.max(1e-9, elapsedMs / 1000), batching };
  }

  private checkLength<T extends TokenizedItem>(m: ModelEntry, it: T, i: number): T {
    const maxPos = m.model.config.maxPositions;
    if (maxPos > 0 && it.ids.length > maxPos) throw badRequest(`items[${i}]: ${it.ids.length} tokens exceed the model's ${maxPos} positions; truncate the response`);
    return it;
  }

  /**
   * Splits tokenized items into forwards that fit the activation budget, shortest first so that items of
   * similar length share a forward; `idx` maps each chunk entry back to its position in the request.
   */
  private *batches<T extends TokenizedItem>(m: ModelEntry, items: T[], batchSize: number | undefined, out: { reductions?: number; fullHidden?: boolean }, budget = activationBudget()): Generator<{ idx: number[]; chunk: T[] }> {
    const order = byLength(items.map((x) => x.ids.length));
    let start = 0;
    while (start < order.length) {
      let n = 1;
      // Grow the chunk while the longest member (the last, in sorted order) keeps it within budget.
      while (start + n < order.length && n < (batchSize ?? Infinity) && n + 1 <= autoBatchSize(m.model, items[order[start + n]].ids.length, budget, out)) n++;
      const idx = order.slice(start, start + n);
      yield { idx, chunk: idx.map((i) => items[i]) };
      start += n;
    }
  }

  async capture(p: CaptureParams, token: CancellationToken): Promise<CaptureResult> {
    const m = this.registry.get(p.modelId);
    if (!Array.isArray(p.items) || p.items.length === 0) throw badRequest('capture needs at least one item');
    const reductions = p.reductions?.length ? p.reductions : REDUCTIONS;
    for (const r of reductions) if (!REDUCTIONS.includes(r)) throw badRequest(`unknown reduction '${r}' (use ${REDUCTIONS.join(', ')})`);
    const full = checkLayers(m, p.returnHiddenStates, 'returnHiddenStates');
    const items = p.items.map((it, i) => this.checkLength(m, tokenizeItem(m, it.prompt, it.response, `items[${i}]`), i));
    const out: CapturedItem[] = new Array(items.length);
    const shape = { reductions: reductions.length, fullHidden: full.length > 0 };
    const budgetBytes = activationBudget();
    const requested = p.batchSize === undefined || p.batchSize === null ? undefined : Math.max(1, Math.floor(p.batchSize));
    let batching: Batching | undefined;
    for (const { idx, chunk } of this.batches(m, items, requested, shape, budgetBytes)) {
      if (token.isCancellationRequested) throw cancelled();
      if (!batching || chunk.length > batching.batchSize) {
        const bytesPerRow = rowBytes(m.model.config, chunk[chunk.length - 1].ids.length, shape);
        const fit = Math.max(1, Math.floor(budgetBytes / bytesPerRow));
        const limitedBy = chunk.length >= fit ? 'memory' : requested !== undefined && chunk.length >= requested ? 'requested' : 'rows';
        batching = { batchSize: chunk.length, ...(requested !== undefined ? { requested } : {}), limitedBy, budgetBytes, bytesPerRow };
      }
      const rows = await captureBatch(m.model, chunk, reductions, m.padTokenId, full);
      rows.forEach((r, j) => {
        const it = chunk[j];
        const item: CapturedItem = {
          promptTokens: it.promptTokens,
          responseTokens: it.ids.length - it.promptTokens,
          tokenIds: it.ids,
          values: Object.fromEntries(Object.entries(r.values).map(([k, v]) => [k, encodeF32(v)])),
        };
        if (r.hidden) item.hiddenStates = Object.fromEntries([...r.hidden].map(([l, a]) => [String(l), encodeF32(a)]));
        out[idx[j]] = item;
      });
    }
    return { items: out, layers: m.model.config.numLayers + 1, hiddenSize: m.model.config.hiddenSize, batching };
  }

  async project(p: ProjectParams, token: CancellationToken): Promise<ProjectResult> {
    const m = this.registry.get(p.modelId);
    if (!Array.isArray(p.items) || p.items.length === 0) throw badRequest('project needs at least one item');
    if (!Array.isArray(p.vectors) || p.vectors.length === 0) throw badRequest('project needs at least one vector');
    const { numLayers: L, hiddenSize: H } = m.model.config;
    const vectors = p.vectors.map((v, i) => {
      if (!Number.isInteger(v.layer) || v.layer < 0 || v.layer > L) throw badRequest(`vectors[${i}].layer ${v.layer} is outside 0..${L}`);
      return { id: v.id, layer: v.layer, v: resolveVector(v.vector, v.layer, L, H, this.readVectorFile) };
    });
    const items = p.items.map((it, i) => this.checkLength(m, tokenizeItem(m, it.prompt, it.response, `items[${i}]`), i));
    const out: ProjectResult['items'] = new Array(items.length);
    for (const { idx, chunk } of this.batches(m, items, undefined, { fullHidden: true })) {
      if (token.isCancellationRequested) throw cancelled();
      const recs = await projectBatch(m.model, chunk, vectors, m.padTokenId);
      recs.forEach((projections, j) => {
        const it = chunk[j];
        out[idx[j]] = { tokens: it.ids.map((id) => m.tokenizer?.idToToken(id) ?? String(id)), promptTokens: it.promptTokens, projections };
      });
    }
    return { items: out };
  }
}
