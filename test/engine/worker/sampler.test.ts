/**
 * Sampler semantics against hand-computed Hugging Face logits-processor results, and the counter-based
 * PRNG that makes sampling batch-invariant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, nextToken, processLogits, sampleFrom, warpScores, type SamplerConfig } from '../../../src/engine/generation/sampler.js';
import { normalizeSeed, uniformAt } from '../../../src/engine/generation/prng.js';

const cfg = (o: Partial<SamplerConfig> = {}): SamplerConfig => ({ temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, minNewTokens: 0, eosTokenIds: [], ...o });
const state = (seen: number[] = [], generated = 0, seed = 0) => ({ seed, seen: new Set(seen), generated });

test('repetition penalty: HF divides positive and multiplies negative scores, once per distinct seen token', () => {
  const out = processLogits([2, -1, 0.5, 3], cfg({ repetitionPenalty: 2 }), state([0, 1, 1, 0]));
  assert.deepEqual([...out], [1, -2, 0.5, 3]);
});

test('min new tokens suppresses every EOS id until reached', () => {
  const c = cfg({ minNewTokens: 2, eosTokenIds: [3, 1] });
  assert.deepEqual([...processLogits([0, 5, 1, 9], c, state([], 1))], [0, -Infinity, 1, -Infinity]);
  assert.deepEqual([...processLogits([0, 5, 1, 9], c, state([], 2))], [0, 5, 1, 9]);
});

test('greedy: argmax with the first maximum winning (torch.argmax)', () => {
  assert.equal(argmax([1, 4, 4, 2]), 1);
  assert.equal(nextToken([0.1, 0.3, 0.2], cfg({ temperature: 0 }), state()), 1);
  // penalty applies in greedy mode too (HF applies processors before argmax)
  assert.equal(nextToken([0.1, 0.3, 0.2], cfg({ temperature: 0, repetitionPenalty: 2 }), state([1])), 2);
});

test('temperature divides, top-k keeps ties with the k-th score', () => {
  assert.deepEqual([...warpScores(Float64Array.from([1, 2, 4]), cfg({ temperature: 2 }))], [0.5, 1, 2]);
  assert.deepEqual([...warpScores(Float64Array.from([1, 3, 3, 2]), cfg({ topK: 2 }))], [-Infinity, 3, 3, -Infinity]);
  assert.deepEqual([...warpScores(Float64Array.from([1, 3, 2, 2]), cfg({ topK: 3 }))], [-Infinity, 3, 2, 2]);
});

test('top-p: drops the ascending prefix whose cumulative probability is <= 1 - p, keeps the top token', () => {
  const logits = [0.5, 0.3, 0.15, 0.05].map(Math.log);
  // ascending probs 0.05, 0.15, 0.3, 0.5 → cumsum 0.05, 0.2, 0.5, 1 → with p = 0.75 remove cum <= 0.25
  const kept = [...warpScores(Float64Array.from(logits), cfg({ topP: 0.75 }))].map((x) => x !== -Infinity);
  assert.deepEqual(kept, [true, true, false, false]);
  const tiny = [...warpScores(Float64Array.from(logits), cfg({ topP: 0.01 }))].map((x) => x !== -Infinity);
  assert.deepEqual(tiny, [true, false, false, false]);
});

test('inverse-CDF sampling in token-id order', () => {
  const s = Float64Array.from([0.5, 0.3, 0.2].map(Math.log));
  assert.equal(sampleFrom(s, 0.1), 0);
  assert.equal(sampleFrom(s, 0.6), 1);
  assert.equal(sampleFrom(s, 0.95), 2);
  assert.equal(sampleFrom(Float64Array.from([-Infinity, 0, -Infinity]), 0.99), 1);
});

test('counter PRNG: pure in (seed, step), uniform in [0,1), distinct streams', () => {
  assert.equal(uniformAt(7, 3), uniformAt(7, 3));
  assert.notEqual(uniformAt(7, 3), uniformAt(8, 3));
  assert.notEqual(uniformAt(7, 3), uniformAt(7, 4));
  const n = 20000;
  const bins = new Array(10).fill(0);
  for (let i = 0; i < n; i++) {
    const u = uniformAt(12345, i);
    assert.ok(u >= 0 && u < 1);
    bins[Math.floor(u * 10)]++;
  }
  for (const b of bins) assert.ok(Math.abs(b - n / 10) < 5 * Math.sqrt(n / 10), `bin count ${b} is far from uniform`);
  assert.equal(normalizeSeed(5), 5);
  assert.notEqual(normalizeSeed(-1), normalizeSeed(1));
});

test('sampled frequencies follow the warped distribution', () => {
  const logits = [0.5, 0.3, 0.2].map(Math.log);
  const counts = [0, 0, 0];
  const n = 6000;
  for (let i = 0; i < n; i++) counts[nextToken(logits, cfg(), state([], i, 99))]++;
  [0.5, 0.3, 0.2].forEach((p, k) => assert.ok(Math.abs(counts[k] / n - p) < 0.03, `token ${k}: ${counts[k] / n} vs ${p}`));
});
