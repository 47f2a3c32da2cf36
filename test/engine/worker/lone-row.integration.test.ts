/**
 * A lone row runs without its ghost copy in the int8/int4 formats (generate.ts loneRowNeedsGhost): their projections
 * are all MatMulNBits, which gives a row the same bits at M = 1 as beside other rows, so batch invariance holds with
 * one forwarded row instead of two. Checked per family at the forward level (a decode step at batch 1 against the
 * same row at batch 2 and 4: every hidden state and the logits, one and two intra-op threads), then through
 * generation: a row sampled alone equals the same row in a batch, and its decode steps forward one row.
 * The float formats keep the ghost; what batch 1 would give them without it is reported, not asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, newKvCache } from '../../../src/engine/model/session.js';
import { leftPad, maskFor } from '../../../src/engine/generation/batch.js';
import { generateBatch, loneRowNeedsGhost, type GenRowOutput } from '../../../src/engine/generation/generate.js';
import type { ForwardInputs, GraphVariant, LoadedModel, WeightFormat } from '../../../src/engine/model/types.js';
import { parityDir, repoRoot, SKIP_PARITY } from './helpers.js';

const toyMain = path.join(repoRoot, 'models', 'toy-persona', 'revisions', 'main');
const SKIP_TOY = existsSync(path.join(toyMain, 'config.json')) ? false : 'the toy model is not exported';
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Row 0's logits and hidden states after a 20-token prefill and one decode step, with the row repeated B times. */
async function decodeStep(model: LoadedModel, B: number) {
  const V = model.config.vocabSize, H = model.config.hiddenSize;
  const prompt = Array.from({ length: 20 }, (_, j) => 3 + ((j * 104729) % (V - 3)));
  const p = leftPad(Array.from({ length: B }, () => prompt), 0);
  const pre = await model.forward({ batch: B, seqLen: p.seqLen, inputIds: p.inputIds, positionIds: p.positionIds, attentionMask: p.attentionMask, logits: 'last', past: newKvCache(model, B, p.seqLen + 1) });
  const step = await model.forward({
    batch: B, seqLen: 1, past: pre.present, logits: 'last', hiddenStates: true,
    inputIds: new BigInt64Array(B).fill(7n), positionIds: new BigInt64Array(B).fill(20n), attentionMask: maskFor(new Array(B).fill(p.pads[0]), p.seqLen + 1),
  });
  pre.present.dispose();
  step.present.dispose();
  return { logits: step.logits!.subarray(0, V), hidden: step.hiddenStates!.map((h) => h.subarray(0, H)) };
}

const MODELS: [name: string, dir: string, skip: string | false][] = [['toy', toyMain, SKIP_TOY], ...['llama_gqa', 'qwen2', 'olmo2', 'gpt2'].map((n): [string, string, string | false] => [n, path.join(parityDir, n), SKIP_PARITY])];

for (const [name, dir, skip] of MODELS) {
  test(`${name}: MatMulNBits gives a row the same bits at batch 1 as at batch 2 and 4 (int8, int4; both variants; 1 and 2 threads)`, { skip, timeout: 120_000 }, async (t) => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'pl-lone-'));
    t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
    // int8/int4 in both graph variants, f32 in the default one.
    const cases = [...(['int8', 'int4'] as WeightFormat[]).flatMap((format) => (['fused', 'portable'] as GraphVariant[]).map((variant) => ({ format, variant }))), { format: 'f32' as WeightFormat, variant: undefined }];
    for (const { format, variant } of cases) {
      for (const threads of [1, 2]) {
        const model = await loadModel({ kind: 'folder', path: dir }, { cacheDir, intraOpNumThreads: threads, weightFormat: format, ...(variant ? { variant } : {}) });
        try {
          const [one, two, four] = [await decodeStep(model, 1), await decodeStep(model, 2), await decodeStep(model, 4)];
          const same = (a: typeof one, b: typeof one) => bytes(a.logits).equals(bytes(b.logits)) && a.hidden.every((h, l) => bytes(h).equals(bytes(b.hidden[l])));
          if (format === 'f32') {
            // Not asserted (it depends on the CPU's MLAS kernels): why the float formats keep the ghost row.
            t.diagnostic(`f32, ${threads} thread(s): batch 1 ${same(one, two) ? 'equals' : 'differs from'} batch 2 (the ghost row keeps f32 rows at M ≥ 2)`);
            assert.ok(loneRowNeedsGhost(model));
            continue;
          }
          assert.ok(!loneRowNeedsGhost(model));
          assert.ok(same(one, two), `${format} ${variant}, ${threads} thread(s): batch 1 differs from batch 2`);
          assert.ok(same(two, four), `${format} ${variant}, ${threads} thread(s): batch 2 differs from batch 4`);
        } finally {
          await model.dispose();
        }
      }
    }
  });
}

test('toy int8: a row sampled alone, with no ghost, equals the same row in a batch whose other rows stop early', { skip: SKIP_TOY, timeout: 60_000 }, async (t) => {
  const model = await loadModel({ kind: 'folder', path: toyMain }, { intraOpNumThreads: 1, weightFormat: 'int8' });
  t.after(() => model.dispose());
  const V = model.config.vocabSize;
  const prompt = (r: number, n: number) => Array.from({ length: n }, (_, j) => 3 + ((r * 7919 + j * 104729) % (V - 3)));
  const lone = { promptIds: prompt(0, 11), seed: 42 };
  const batchSizes: number[] = [];
  const spy: LoadedModel = Object.create(model, {
    forward: { value: (inputs: ForwardInputs) => { batchSizes.push(inputs.batch); return model.forward(inputs); } },
  });
  const sampler = { temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] };
  const gen = (m: LoadedModel, rows: { promptIds: number[]; seed: number }[], eos: number[] = []) =>
    generateBatch(m, rows, { sampler, maxNewTokens: 16, eosTokenIds: eos, stop: [], padTokenId: 0, logprobs: 2, hiddenLayers: [model.config.numLayers] }, { checkCancelled() {} });
  const view = (r: GenRowOutput) => ({ tokens: r.tokenIds, logprobs: r.logprobs, hidden: bytes(r.hidden!.get(model.config.numLayers)!).toString('base64') });
  const alone = await gen(spy, [lone]);
  assert.deepEqual(batchSizes, Array(batchSizes.length).fill(1), 'a lone int8 row forwards one row (no ghost)');
  assert.equal(batchSizes.length, 1 + 1 + 15, 'prefix, last prompt token, 15 decode steps');
  // Beside two other rows, which leave the batch early (their first sampled token is made an EOS), so the row also
  // runs alone for most of its steps; the lone row never samples that token in its 16.
  const others = [{ promptIds: prompt(1, 5), seed: 7 }, { promptIds: prompt(2, 30), seed: 9 }];
  const probe = await gen(model, others);
  const eos = [...new Set(probe.map((r) => r.tokenIds[0]))].filter((tok) => !alone[0].tokenIds.includes(tok));
  const batched = await gen(model, [others[0], lone, others[1]], eos);
  assert.ok(batched.filter((r, i) => i !== 1 && r.finishReason === 'eos').length >= 1, 'a neighbour stopped early, so the row went on alone');
  assert.deepEqual(view(batched[1]), view(alone[0]));
});
