/**
 * Leading pad columns are not forwarded (session.ts zeroPast): a left-padded batch's columns that are pads in every
 * row become a zero past, and the forward starts at the first real column. With one intra-op thread the real tokens
 * get the same bits as when the pads are computed — hidden states at every layer, logits, and the next decode step
 * from the resulting KV cache — on the toy and on every parity family. And generation really skips them: a batch of
 * 8-token prompts (padded to 32 columns) forwards 7 prefix columns, not 31.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, newKvCache, zeroPast } from '../../../src/engine/model/session.js';
import { columns, leftPad, maskFor } from '../../../src/engine/generation/batch.js';
import { generateBatch, type GenRowOutput } from '../../../src/engine/generation/generate.js';
import type { ForwardInputs, LoadedModel } from '../../../src/engine/model/types.js';
import { parityDir, repoRoot, SKIP_PARITY } from './helpers.js';

const toyMain = path.join(repoRoot, 'models', 'toy-persona', 'revisions', 'main');
const MODELS = [['toy', toyMain], ...['llama_gqa', 'qwen2', 'olmo2', 'gpt2'].map((n) => [n, path.join(parityDir, n)])] as const;

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

for (const [name, dir] of MODELS) for (const variant of ['portable', 'fused'] as const) {
  const skip = name === 'toy' ? (existsSync(path.join(toyMain, 'config.json')) ? false : 'the toy model is not exported') : SKIP_PARITY;
  test(`${name}, ${variant}: a zero past in place of the all-pad columns gives the real tokens the same bits`, { skip, timeout: 60_000 }, async (t) => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'pl-padskip-'));
    t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
    const model = await loadModel({ kind: 'folder', path: dir }, { cacheDir, intraOpNumThreads: 1, variant });
    t.after(() => model.dispose());
    const { hiddenSize: H, numLayers: L, vocabSize: V } = model.config;
    // 3 rows of 5, 9 and 20 tokens: padded to 32 columns, the first 12 are pads in every row.
    const rows = [5, 9, 20].map((len, r) => Array.from({ length: len }, (_, j) => 3 + ((r * 131 + j * 17) % (V - 3))));
    const padded = leftPad(rows, 0);
    const { batch: B, seqLen: S, pads } = padded;
    const k = Math.min(...pads);
    assert.equal(S, 32);
    assert.equal(k, 12);
    const full = await model.forward({ batch: B, seqLen: S, inputIds: padded.inputIds, positionIds: padded.positionIds, attentionMask: padded.attentionMask, logits: 'all', hiddenStates: true, past: null });
    const past = zeroPast(newKvCache(model, B, S + 1), k)!;
    assert.equal(past.pastLength, k);
    const part = await model.forward({
      batch: B, seqLen: S - k, past, attentionMask: padded.attentionMask, logits: 'all', hiddenStates: true,
      inputIds: columns(padded.inputIds, B, S, k, S), positionIds: columns(padded.positionIds, B, S, k, S),
    });
    let compared = 0;
    for (let b = 0; b < B; b++) {
      for (let s = pads[b]; s < S; s++) {
        const at = (cols: number, col: number, width: number) => [(b * cols + col) * width, (b * cols + col + 1) * width] as const;
        for (let l = 0; l <= L; l++) {
          const [f0, f1] = at(S, s, H), [p0, p1] = at(S - k, s - k, H);
          assert.ok(bytes(full.hiddenStates![l].subarray(f0, f1)).equals(bytes(part.hiddenStates![l].subarray(p0, p1))), `row ${b} column ${s} layer ${l}: hidden state differs`);
          compared++;
        }
        const [f0, f1] = at(S, s, V), [p0, p1] = at(S - k, s - k, V);
        assert.ok(bytes(full.logits!.subarray(f0, f1)).equals(bytes(part.logits!.subarray(p0, p1))), `row ${b} column ${s}: logits differ`);
      }
    }
    assert.equal(compared, (5 + 9 + 20) * (L + 1));
    // One decode step from each KV cache: the zero pad keys leave the next token's logits unchanged too.
    const step = (p: ForwardInputs['past']) => model.forward({
      batch: B, seqLen: 1, past: p, logits: 'last', inputIds: BigInt64Array.from(rows.map((r) => BigInt(r[0]))),
      positionIds: BigInt64Array.from(rows.map((r) => BigInt(r.length))), attentionMask: maskFor(pads, S + 1),
    });
    const a = await step(full.present), c = await step(part.present);
    assert.ok(bytes(a.logits!).equals(bytes(c.logits!)), 'the decode step after the prefill differs');
    for (const o of [full, part, a, c]) o.present.dispose();
    past.dispose();
  });
}

test('toy: generation forwards none of the columns that are pads in every row', { skip: existsSync(path.join(toyMain, 'config.json')) ? false : 'the toy model is not exported', timeout: 60_000 }, async (t) => {
  const model = await loadModel({ kind: 'folder', path: toyMain }, { intraOpNumThreads: 1 });
  t.after(() => model.dispose());
  const forwarded: number[] = [];
  // The same model object underneath (newKvCache/zeroPast recognise it), with its forwards counted.
  const spy: LoadedModel = Object.create(model, {
    forward: { value: (inputs: ForwardInputs) => { forwarded.push(inputs.seqLen); return model.forward(inputs); } },
  });
  const V = model.config.vocabSize;
  const rows = Array.from({ length: 4 }, (_, r) => ({ promptIds: Array.from({ length: 8 }, (_, j) => 3 + ((r * 7 + j * 13) % (V - 3))), seed: r }));
  const gen = (m: LoadedModel) => generateBatch(m, rows, {
    sampler: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] },
    maxNewTokens: 3, eosTokenIds: [], stop: [], padTokenId: 0,
  }, { checkCancelled() {} });
  const out = await gen(spy);
  // Prefix: 7 columns (the prompts' first 7 tokens; the 24 pads ahead of them are a zero past), then the last
  // prompt token, then 2 decode steps.
  assert.deepEqual(forwarded, [7, 1, 1, 1]);
  assert.ok(out.every((r) => r.tokenIds.length === 3));
});

test('toy: one-token prompts forward no prefix at all and give the bits they give beside a long prompt', { skip: existsSync(path.join(toyMain, 'config.json')) ? false : 'the toy model is not exported', timeout: 60_000 }, async (t) => {
  const model = await loadModel({ kind: 'folder', path: toyMain }, { intraOpNumThreads: 1 });
  t.after(() => model.dispose());
  const forwarded: string[] = [];
  const spy: LoadedModel = Object.create(model, {
    forward: { value: (inputs: ForwardInputs) => { forwarded.push(`${inputs.batch}x${inputs.seqLen}+${inputs.past?.pastLength ?? 0}`); return model.forward(inputs); } },
  });
  const V = model.config.vocabSize, L = model.config.numLayers;
  const ones = [5, 9, 17].map((tok, r) => ({ promptIds: [tok], seed: 100 + r }));
  const long = { promptIds: Array.from({ length: 40 }, (_, j) => 3 + ((j * 13) % (V - 3))), seed: 7 };
  const gen = (m: LoadedModel, rows: { promptIds: number[]; seed: number }[]) => generateBatch(m, rows, {
    sampler: { temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] },
    maxNewTokens: 6, eosTokenIds: [], stop: [], padTokenId: 0, logprobs: 2, hiddenLayers: [L],
  }, { checkCancelled() {} });
  const alone = await gen(spy, ones);
  // The 31 pad columns ahead of each prompt are a zero past: the first forward is the 'last' phase.
  assert.deepEqual(forwarded, ['3x1+31', '3x1+32', '3x1+33', '3x1+34', '3x1+35', '3x1+36']);
  // Beside a 40-token prompt the batch pads to 64 columns and forwards columns 24–62, the ones-rows' pads included.
  const beside = await gen(model, [ones[0], long, ones[1], ones[2]]);
  const view = (r: GenRowOutput) => ({ tokens: r.tokenIds, logprobs: r.logprobs, hidden: bytes(r.hidden!.get(L)!).toString('base64') });
  assert.deepEqual([beside[0], beside[2], beside[3]].map(view), alone.map(view));
});
