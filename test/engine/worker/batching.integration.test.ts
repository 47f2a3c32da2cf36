/**
 * Batch size chosen from free memory and reported (issue 16): the plan's arithmetic on a model config, and the
 * `batching` field of real worker results on a parity fixture.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceClient } from '../../../src/engine/client.js';
import { genRowBytes, MAX_GEN_BATCH, planGenBatch, PREFILL_MIN_TOKENS, prefillTokenBudget, prefillTokenBytes } from '../../../src/engine/generation/generate.js';
import type { LoadedModel } from '../../../src/engine/model/types.js';
import { SKIP_PARITY, fixture } from './helpers.js';

// A Llama-3-8B-shaped config: what a researcher's laptop has to budget for.
const model = {
  config: { architecture: 'LlamaForCausalLM', modelType: 'llama', numLayers: 32, hiddenSize: 4096, numHeads: 32, numKvHeads: 8, headDim: 128, intermediateSize: 14336, vocabSize: 128256, maxPositions: 8192 },
  info: { kvBytesPerToken: 2 * 32 * 8 * 128 * 4 },
} as unknown as LoadedModel;

test('generation batch plan: KV cache and logits per row, one prefill forward\'s activations per batch, capped by memory, request and rows', () => {
  const per = genRowBytes(model, 4000, 64);
  // KV: 2 stores × 256 KiB/token × (4000 + 64 new + 64 headroom) ≈ 2.2 GB, plus the logits row. The prefill's
  // activations are bounded per forward (prefillTokenBudget), so they are counted once per batch, not per row.
  const kv = 2 * 262144 * 4128;
  assert.equal(per, kv + 4 * 128256, `${per} bytes per 4 k row`);
  assert.ok(genRowBytes(model, 100, 64) < per / 15, 'a short prompt costs far less (its KV: 128 + 64 + 64 positions against 4128)');
  const prefill = prefillTokenBudget(model, 4000) * prefillTokenBytes(model, 4000);
  // No resident weights given: the 16 MiB floor of the budget, which at 4000 keys is below PREFILL_MIN_TOKENS tokens
  // (each token's scores over 4000 keys alone are 32 heads × 4000 floats × 10).
  assert.equal(prefillTokenBudget(model, 4000), PREFILL_MIN_TOKENS);
  const budget = 8 * 2 ** 30;
  const long = planGenBatch(model, 100, 4000, 64, undefined, budget);
  assert.equal(long.limitedBy, 'memory');
  assert.equal(long.batchSize, Math.floor((budget - prefill) / per));
  assert.ok(long.batchSize * long.bytesPerRow + prefill <= budget);
  const short = planGenBatch(model, 100, 20, 64, undefined, budget);
  assert.deepEqual([short.batchSize, short.limitedBy], [MAX_GEN_BATCH, 'default']);
  assert.deepEqual(Object.values(planGenBatch(model, 100, 20, 64, 8, budget)).slice(0, 3), [8, 8, 'requested']);
  assert.deepEqual([planGenBatch(model, 5, 20, 64, undefined, budget).batchSize, planGenBatch(model, 5, 20, 64, undefined, budget).limitedBy], [5, 'rows']);
  assert.equal(planGenBatch(model, 5, 4000, 64, undefined, 1).batchSize, 1, 'never below one row');
});

let client: InferenceClient;
let modelId = '';
before(async () => {
  if (SKIP_PARITY) return;
  client = await InferenceClient.start({ threads: 1 });
  modelId = (await client.loadModel({ path: fixture('llama_gqa').dir, executionProvider: 'cpu' })).modelId;
});
after(async () => { await client?.dispose(); });

test('generate and capture report how they batched', { skip: SKIP_PARITY }, async () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ prompt: { ids: [1, 2 + i, 3] } }));
  const g = await client.generate({ modelId, rows, sampling: { maxNewTokens: 2 } });
  assert.equal(g.batching?.batchSize, 5);
  assert.equal(g.batching?.limitedBy, 'rows');
  assert.ok(g.batching!.budgetBytes >= 64 * 2 ** 20 && g.batching!.bytesPerRow > 0);
  const g2 = await client.generate({ modelId, rows, sampling: { maxNewTokens: 2 }, batchSize: 2 });
  assert.deepEqual([g2.batching?.batchSize, g2.batching?.requested, g2.batching?.limitedBy], [2, 2, 'requested']);
  assert.deepEqual(g2.rows.map((r) => r.tokenIds), g.rows.map((r) => r.tokenIds), 'batching does not change the tokens');
  const c = await client.capture({ modelId, items: rows.map((r) => ({ prompt: r.prompt, response: { ids: [4, 5] } })), reductions: ['response_avg'], batchSize: 3 });
  assert.deepEqual([c.batching?.batchSize, c.batching?.limitedBy], [3, 'requested']);
});
