/**
 * 4 k-token prompts (issue 16) on a random Llama with max_position_embeddings 4096: generation prefills in
 * chunks over the KV cache (generate.ts PREFILL_CHUNK) and must give the logits of one full forward over the
 * whole prompt; and a batch of a long and a short row gives each row what it gets alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../../../src/engine/model/session.js';
import { generateBatch, PREFILL_CHUNK, type GenConfig } from '../../../src/engine/generation/generate.js';
import { writeRandomLlama } from './random-llama.js';

test('a 4000-token prompt: chunked prefill equals one full forward; long and short rows batch together', async (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-long-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const dir = path.join(tmp, 'model');
  writeRandomLlama(dir, { vocab: 300, hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, seed: 3 });
  const model = await loadModel({ kind: 'folder', path: dir }, { cacheDir: path.join(tmp, 'graphs'), intraOpNumThreads: 1 });
  t.after(() => model.dispose());
  assert.equal(model.config.maxPositions, 4096);
  const N = 4000;
  assert.ok(N > 3 * PREFILL_CHUNK, 'the prompt spans several prefill chunks');
  const prompt = Array.from({ length: N }, (_, j) => 3 + ((j * 37 + (j >> 5)) % 290));

  // Reference: one forward over the whole prompt, logits of its last position.
  const ids = BigInt64Array.from(prompt.map(BigInt));
  const full = await model.forward({ batch: 1, seqLen: N, inputIds: ids, positionIds: BigInt64Array.from(prompt.map((_, i) => BigInt(i))), attentionMask: new BigInt64Array(N).fill(1n), logits: 'last', past: null });
  full.present.dispose();
  const ref = full.logits!;
  const max = Math.max(...ref);
  const lse = max + Math.log(ref.reduce((a, x) => a + Math.exp(x - max), 0));

  const cfg: GenConfig = { sampler: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] }, maxNewTokens: 8, eosTokenIds: [], stop: [], padTokenId: 0, logprobs: 0 };
  const [alone] = await generateBatch(model, [{ promptIds: prompt, seed: 0 }], cfg, { checkCancelled() {} });
  assert.equal(alone.tokenIds.length, 8);
  assert.equal(alone.tokenIds[0], ref.indexOf(max), 'greedy first token = argmax of the full forward');
  assert.ok(Math.abs(alone.logprobs![0].logprob - (max - lse)) < 1e-4, `first-token logprob ${alone.logprobs![0].logprob} vs full forward ${max - lse}`);

  const short = { promptIds: prompt.slice(0, 20), seed: 1 };
  const [shortAlone] = await generateBatch(model, [short], cfg, { checkCancelled() {} });
  const both = await generateBatch(model, [{ promptIds: prompt, seed: 0 }, short], cfg, { checkCancelled() {} });
  assert.deepEqual(both[0].tokenIds, alone.tokenIds);
  assert.deepEqual(both[1].tokenIds, shortAlone.tokenIds, 'a short row batched beside a 4 k row (3980 left pads) gives its own tokens');
});
