/**
 * Issue 16, memory during generation: a token budget per prefill forward (generate.ts prefillTokenBudget /
 * prefillSplit: rows and columns chunked over the KV cache) and the KV hand-over through two stores sized for
 * the whole generation (session.ts). On the trained toy model with one intra-op thread:
 *  - generations are bit-identical (tokens, logprobs, the last block's hidden states at every forwarded position,
 *    applied steering norms) whatever the budget forces: one forward for the whole batch, row groups, one row and
 *    one PAD_ALIGN column block per forward;
 *  - a generation allocates its two KV stores once, however many tokens it generates (no per-step KV buffers),
 *    plus one zero store for the leading pad columns when the prefill is split into row groups.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadModel, kvStoreAllocations } from '../../../src/engine/model/session.js';
import { generateBatch, prefillSplit, prefillTokenBudget, PREFILL_CHUNK, PREFILL_MIN_TOKENS, type GenConfig, type GenRowInput, type GenRowOutput } from '../../../src/engine/generation/generate.js';
import type { ResolvedSteer } from '../../../src/engine/steering/steer.js';
import type { LoadedModel } from '../../../src/engine/model/types.js';
import { repoRoot } from './helpers.js';

const toyMain = path.join(repoRoot, 'models', 'toy-persona', 'revisions', 'main');
const SKIP = existsSync(path.join(toyMain, 'config.json')) ? false : `${toyMain} is absent (the toy model is not exported yet)`;

/** Rows of mixed prompt lengths (5 to 90 tokens: 1 to 3 PAD_ALIGN blocks), every third one steered at a different layer and positions. */
function makeRows(model: LoadedModel, n: number): GenRowInput[] {
  const { vocabSize: V, hiddenSize: H, numLayers: L } = model.config;
  const positions = ['response', 'prompt', 'all'] as const;
  return Array.from({ length: n }, (_, i) => {
    const len = 5 + ((i * 37) % 86);
    const promptIds = Array.from({ length: len }, (_, j) => 3 + ((i * 7919 + j * 104729) % (V - 3)));
    const steer: ResolvedSteer[] | undefined = i % 3 === 0
      ? [{ layer: 1 + (i % L), positions: positions[i % 3], delta: Float32Array.from({ length: H }, (_, h) => 0.8 * Math.sin(h * 0.37 + i)) }]
      : undefined;
    return { promptIds, seed: 1000 + i, steer };
  });
}

/** Everything a row's result carries, as bytes. */
function bytesOf(rows: GenRowOutput[]): unknown[] {
  return rows.map((r) => ({
    tokens: r.tokenIds,
    logprobs: r.logprobs?.map((x) => [x.logprob, x.top?.map((t) => [t.tokenId, t.logprob])]),
    hidden: [...(r.hidden ?? new Map<number, Float32Array>())].map(([l, a]) => [l, Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')]),
    applied: r.steeringApplied,
  }));
}

test('prefill split: budgets in tokens, columns a multiple of PAD_ALIGN and at most PREFILL_CHUNK, balanced row groups', () => {
  assert.deepEqual(prefillSplit(124, 16, 31), { rows: 4, cols: 96 });
  assert.deepEqual(prefillSplit(64, 16, 31), { rows: 2, cols: 64 });
  assert.deepEqual(prefillSplit(1e9, 16, 31), { rows: 16, cols: PREFILL_CHUNK });
  assert.deepEqual(prefillSplit(100, 7, 31), { rows: 3, cols: 96 }, '7 rows in groups of 3 would leave 1: 3 groups of ≤ 3 instead');
  assert.deepEqual(prefillSplit(16, 5, 4095), { rows: 1, cols: 32 }, 'never below one row and one PAD_ALIGN block');
  assert.deepEqual(prefillSplit(2000, 3, 4095), { rows: 1, cols: 1024 }, 'a long prompt: one row, PREFILL_CHUNK columns');
});

test('prefill token budget: 1/32 of the resident weights (16–256 MiB) over the activation estimate, at least PREFILL_MIN_TOKENS; no free-memory input', () => {
  // The ~1 B random Llama of the benchmark in int8: 1163 MiB of weights → 36 MiB → 124 tokens at 32 keys.
  const m = (weights: number) => ({
    config: { hiddenSize: 2048, intermediateSize: 5632, numHeads: 32 },
    info: { residentWeightBytes: weights },
  }) as unknown as LoadedModel;
  assert.equal(prefillTokenBudget(m(1163 * 2 ** 20), 32), Math.floor((1163 * 2 ** 20) / 32 / (4 * (16 * 2048 + 6 * 5632 + 10 * 32 * 32))));
  assert.equal(prefillTokenBudget(m(1), 32), PREFILL_MIN_TOKENS, 'the 16 MiB floor: 54 tokens here, so PREFILL_MIN_TOKENS');
  assert.equal(prefillTokenBudget(m(1), 32), prefillTokenBudget(m(400 * 2 ** 20), 32), 'weights under 512 MiB: the 16 MiB floor');
  assert.equal(prefillTokenBudget(m(1e12), 32), Math.floor(256 * 2 ** 20 / (4 * (16 * 2048 + 6 * 5632 + 10 * 32 * 32))), 'the 256 MiB cap');
  assert.equal(prefillTokenBudget(m(1163 * 2 ** 20), 4096), PREFILL_MIN_TOKENS, 'long prompts: the floor');
});

test('toy model: generations are bit-identical whatever the prefill budget splits', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const model = await loadModel({ kind: 'folder', path: toyMain }, { intraOpNumThreads: 1 });
  t.after(() => model.dispose());
  const rows = makeRows(model, 24);
  const L = model.config.numLayers;
  const cfg: GenConfig = {
    sampler: { temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] },
    maxNewTokens: 12, eosTokenIds: [], stop: [], padTokenId: 0, hiddenLayers: [L], logprobs: 2,
  };
  const run = (over: Partial<GenConfig>) => generateBatch(model, rows, { ...cfg, ...over }, { checkCancelled() {} });
  const P = 96; // the longest prompt (90 tokens) padded to PAD_ALIGN
  // One forward for the whole batch is the reference; the toy's own budget (16 MiB: 538 tokens at 96 keys) already
  // splits it into row groups of 5; the forced ones into groups of 2, into single rows, and into single rows in
  // 32-column chunks over the KV cache (3 prefix forwards per row).
  assert.deepEqual(prefillSplit(prefillTokenBudget(model, P), rows.length, P - 1), { rows: 5, cols: 512 });
  assert.deepEqual(prefillSplit(2 * 95, rows.length, P - 1), { rows: 2, cols: 160 });
  assert.deepEqual(prefillSplit(32, rows.length, P - 1), { rows: 1, cols: 32 });
  const whole = bytesOf(await run({ prefillTokens: 1e9 }));
  for (const [name, over] of [
    ['the default budget', {}],
    ['row groups of 2', { prefillTokens: 2 * 95 }],
    ['one row per forward, 32-column chunks', { prefillTokens: 32 }],
  ] as const) {
    assert.deepEqual(bytesOf(await run(over)), whole, `${name}: a row's bytes changed`);
  }
  // Steering really happened and hidden states were compared (the test would be vacuous otherwise).
  const out = await run({ prefillTokens: 32 });
  assert.ok(out.filter((r) => r.steeringApplied?.some((a) => a.tokens > 0)).length === 8);
  assert.ok(out.every((r) => (r.hidden?.get(L)?.length ?? 0) > 0));
});

test('toy model: a generation allocates its two KV stores once, however many tokens it generates', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const model = await loadModel({ kind: 'folder', path: toyMain }, { intraOpNumThreads: 1 });
  t.after(() => model.dispose());
  const rows = makeRows(model, 6);
  const stores = async (maxNewTokens: number, prefillTokens?: number) => {
    const before = kvStoreAllocations();
    const out = await generateBatch(model, rows, {
      sampler: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] },
      maxNewTokens, eosTokenIds: [], stop: [], padTokenId: 0, prefillTokens,
    }, { checkCancelled() {} });
    assert.ok(out.every((r) => r.tokenIds.length === maxNewTokens));
    return kvStoreAllocations() - before;
  };
  assert.equal(await stores(2), 2);
  assert.equal(await stores(40), 2, '40 decode steps allocate no more than 2');
  // Row groups with one column chunk each write into the shared store in place; their leading pad columns are
  // not forwarded but read as a zero past (session.ts zeroPast), one zero store shared by all the groups: 2 + 1.
  assert.equal(await stores(40, 2 * 95), 3);
  // Single rows in 32-column chunks from their first real column (pads ahead of it: the shared zero past): a row
  // whose prefix takes k chunks allocates min(k − 1, 2) stores (its ping-pong pair; the last chunk writes into the
  // shared store), then the 2. The prompts are 5–79 tokens, padded to 96: 1 to 3 chunks of [0,32), [32,64), [64,95).
  const chunked = rows.reduce((n, r) => n + Math.min(2, [32, 64, 95].filter((to) => to > 96 - r.promptIds.length).length - 1), 0);
  assert.equal(chunked, 5);
  assert.equal(await stores(40, 32), 1 + chunked + 2);
  // Rows that finish early leave the batch (KvCache.selectRows), down to a lone row and its ghost: each time the
  // remaining rows are copied into the other store of the pair, never a new one. The EOS tokens are the ones some
  // rows emit at different steps of a greedy run, so rows leave at several steps.
  const greedy = await generateBatch(model, rows, {
    sampler: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] },
    maxNewTokens: 40, eosTokenIds: [], stop: [], padTokenId: 0,
  }, { checkCancelled() {} });
  const eos = [...new Set(greedy.slice(1).map((r, i) => r.tokenIds[3 + 4 * i]))].filter((tok) => !greedy[0].tokenIds.includes(tok));
  const before = kvStoreAllocations();
  const early = await generateBatch(model, rows, {
    sampler: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [] },
    maxNewTokens: 40, eosTokenIds: eos, stop: [], padTokenId: 0,
  }, { checkCancelled() {} });
  const lengths = early.map((r) => r.tokenIds.length);
  assert.equal(lengths[0], 40, 'row 0 never meets an EOS and runs to the end, alone for its last steps');
  assert.ok(lengths.slice(1).every((n) => n < 40) && new Set(lengths.slice(1)).size >= 3, `rows 1–5 leave at several steps, row 0 ends alone: ${lengths.join(', ')}`);
  assert.equal(kvStoreAllocations() - before, 2);
  // A branch from a live past gets a store of its own, so a past continued twice is never overwritten
  // (test/engine/session.integration.test.ts checks the values).
});
