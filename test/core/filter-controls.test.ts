import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedFilter, type PairScores } from '../../src/core/extraction/filter.js';
import { balancedShuffle, matchedCouples, orthogonalTo, rescale } from '../../src/core/evaluation/controls.js';
import { cosine } from '../../src/core/geometry/similarity.js';
import { kneeCoefs, bestSteering } from '../../src/core/evaluation/grid.js';
import { norm } from '../../src/core/vectors/file.js';
import { gaussian, permutation } from '../../src/core/rng.js';
import type { ConditionResult } from '../../src/core/evaluation/evaluate.js';

const side = (trait: number | null, coherence: number | null, answer = 'x') => ({ trait, coherence, answer });

test('paired asymmetric filter: pos ≥ t, neg < 100 − t, both coherent; NaN and empty answers drop the pair', () => {
  const pairs: PairScores[] = [
    { id: 'keep', pos: side(50, 50), neg: side(49.9, 50) },
    { id: 'neg-at-50', pos: side(90, 90), neg: side(50, 90) },       // neg must be strictly < 50
    { id: 'pos-incoherent', pos: side(90, 49), neg: side(0, 90) },
    { id: 'good-pos-bad-neg', pos: side(100, 100), neg: side(0, 10) }, // upstream drops the good pos too
    { id: 'nan', pos: side(null, 90), neg: side(0, 90) },
    { id: 'empty', pos: side(90, 90, ''), neg: side(0, 90) },
  ];
  const { kept, stats } = pairedFilter(pairs);
  assert.deepEqual(kept, [0]);
  assert.equal(stats.pairs_total, 6);
  assert.equal(stats.pairs_kept, 1);
  assert.equal(stats.missing_scores, 1);
  assert.equal(stats.empty_answers, 1);
  assert.equal(stats.neg_trait_pass, 5);
  // threshold 60: pos ≥ 60, neg < 40
  assert.deepEqual(pairedFilter([{ id: 'a', pos: side(59, 90), neg: side(0, 90) }, { id: 'b', pos: side(60, 90), neg: side(39, 90) }], 60).kept, [1]);
});

test('balanced shuffle swaps exactly half of the pairs and cancels a shared direction', () => {
  const P = 10, len = 6;
  const d = new Float32Array(P * len);
  for (let p = 0; p < P; p++) for (let x = 0; x < len; x++) d[p * len + x] = 1; // every pair has the same difference
  for (const seed of [0, 1, 2]) {
    const { vector, signs } = balancedShuffle(d, P, len, seed);
    assert.equal(signs.filter((s) => s < 0).length, 5);
    assert.ok(vector.every((x) => x === 0), 'a balanced swap of identical differences cancels exactly');
  }
  assert.notDeepEqual(balancedShuffle(d, P, len, 0).signs, balancedShuffle(d, P, len, 1).signs);
  // odd P: one pair left out, the rest exactly balanced, so the shared direction still cancels exactly
  const odd = balancedShuffle(d.subarray(0, 9 * len), 9, len, 0);
  assert.deepEqual([odd.signs.filter((s) => s < 0).length, odd.signs.filter((s) => s > 0).length, odd.signs.filter((s) => s === 0).length], [4, 4, 1]);
  assert.ok(odd.vector.every((x) => x === 0));
  assert.deepEqual(balancedShuffle(d, P, len, 3).signs, balancedShuffle(d, P, len, 3).signs, 'seeded');
});

test('matched-pairs shuffle cancels pair-to-pair variation in trait strength (d_i = a_i·v + noise)', () => {
  // Pairs whose differences share one direction v with varying strength a_i: an unstratified balanced swap keeps
  // Σ s_i·a_i ≠ 0 (a share of v); swapping one of each two pairs of similar norm removes it.
  const P = 200, H = 16;
  const g = gaussian(P * H + P, 11);
  const v = Array.from({ length: H }, (_, x) => (x === 0 ? 1 : 0));
  const d = new Float32Array(P * H);
  for (let p = 0; p < P; p++) {
    const a = 1 + 3 * Math.abs(g[P * H + p]);
    for (let x = 0; x < H; x++) d[p * H + x] = a * v[x] + 0.3 * g[p * H + x];
  }
  const cos = (u: Float32Array) => Math.abs(u[0]) / Math.hypot(...u);
  for (const seed of [0, 1, 2, 3]) {
    const { vector, signs } = balancedShuffle(d, P, H, seed);
    assert.equal(signs.filter((s) => s < 0).length, P / 2);
    assert.ok(cos(vector) < 0.3, `seed ${seed}: |cos(shuffled, v)| = ${cos(vector).toFixed(2)}`);
  }
});

test('matched-pairs shuffle cancels within-trait contrasts (which expression of the trait a pair uses)', () => {
  // d_i = a_i·v + b_i·w_{k(i)} + noise: half the pairs express the trait one way (axis 1), half another (axis 2).
  // A balanced swap of unmatched pairs keeps a random mixture of the w contrasts; matching couples first removes it.
  const P = 200, H = 32;
  const g = gaussian(P * H + 2 * P, 5);
  const d = new Float32Array(P * H);
  for (let p = 0; p < P; p++) {
    const a = 1 + Math.abs(g[P * H + p]), b = 1 + Math.abs(g[P * H + P + p]);
    d[p * H] = a;
    d[p * H + (p % 2 === 0 ? 1 : 2)] = 2 * b;
    for (let x = 3; x < H; x++) d[p * H + x] = 0.1 * g[p * H + x];
  }
  const traitShare = (u: Float32Array) => Math.hypot(u[0], u[1], u[2]) / Math.hypot(...u);
  const shares: number[] = [];
  for (const seed of [0, 1, 2, 3]) {
    const { vector, signs } = balancedShuffle(d, P, H, seed);
    assert.equal(signs.filter((s) => s < 0).length, P / 2);
    // the unmatched design this replaces: swap a random half
    const perm = permutation(P, seed), naive = new Float32Array(H);
    for (let i = 0; i < P; i++) for (let x = 0; x < H; x++) naive[x] += (i < P / 2 ? -1 : 1) * d[perm[i] * H + x] / P;
    // (a direction with no trait structure puts √(3/32) ≈ 0.31 of its norm on those 3 axes)
    shares.push(traitShare(vector));
    assert.ok(traitShare(vector) < 0.7, `seed ${seed}: trait-subspace share ${traitShare(vector).toFixed(2)}`);
    assert.ok(traitShare(naive) > 0.85, `seed ${seed}: unmatched share ${traitShare(naive).toFixed(2)} (the test must be able to fail)`);
  }
  assert.ok(shares.reduce((a, b) => a + b) / shares.length < 0.5, `mean share ${shares.map((x) => x.toFixed(2))}`);
});

test('matching: greedy nearest neighbours, deterministic, and the projected path for large inputs agrees', () => {
  // 12 pairs = 6 exact duplicates, far apart: every couple must be a duplicate pair, with or without projection.
  const P = 12, H = 300;
  const g = gaussian(6 * H, 9);
  const d = new Float32Array(P * H);
  for (let p = 0; p < P; p++) for (let x = 0; x < H; x++) d[p * H + x] = 10 * g[(p % 6) * H + x];
  const key = (c: [number, number][]) => c.map(([a, b]) => [Math.min(a, b), Math.max(a, b)].join('-')).sort();
  const expected = Array.from({ length: 6 }, (_, k) => `${k}-${k + 6}`).sort();
  assert.deepEqual(key(matchedCouples(d, P, H, 0, H)), expected);
  assert.deepEqual(key(matchedCouples(d, P, H, 0, H, 0)), expected, 'projected matching');
  assert.deepEqual(matchedCouples(d, P, H, 0, H), matchedCouples(d, P, H, 0, H));
  // 11 pairs: the one whose duplicate is missing (pair 5, duplicate would be 11) is left over
  const odd = matchedCouples(d, 11, H, 0, H);
  assert.equal(odd.length, 5);
  assert.ok(odd.every(([a, b]) => a !== 5 && b !== 5));
});

test('controls are norm-matched; rng is seeded and deterministic', () => {
  const g = gaussian(128, 7);
  assert.deepEqual(g, gaussian(128, 7));
  assert.notDeepEqual(g, gaussian(128, 8));
  assert.ok(Math.abs(norm(rescale(g, 3.5)) - 3.5) < 1e-5);
  const m = g.reduce((a, b) => a + b, 0) / g.length;
  assert.ok(Math.abs(m) < 0.3);
  assert.deepEqual([...permutation(5, 1)].sort(), [0, 1, 2, 3, 4]);
});

test('orthogonal controls: the share of v is removed before norm matching, the rest kept', () => {
  const v = gaussian(64, 1), noise = gaussian(64, 2);
  // a control that is 30 % v by cosine (like the leaking sycophantic shuffle on the toy organism)
  const leak = orthogonalTo(noise, v).map((x, i) => x + 0.45 * v[i] * norm(noise) / norm(v));
  assert.ok(cosine(leak, v) > 0.25);
  const o = rescale(orthogonalTo(leak, v), norm(v));
  assert.ok(Math.abs(cosine(o, v)) < 1e-6, `cos after projection ${cosine(o, v)}`);
  assert.ok(Math.abs(norm(o) - norm(v)) < 1e-4 * norm(v));
  assert.ok(cosine(o, orthogonalTo(noise, v)) > 0.999, 'the off-v part is what remains');
  assert.deepEqual(orthogonalTo(v, new Float32Array(64)), v, 'a zero vector removes nothing');
  assert.ok(Number.isNaN(cosine(v, new Float32Array(64))), 'a zero vector has no direction (the one cosine, src/core/geometry/similarity.ts)');
});

test('knee refinement adds fine coefficients between the last coherent and first incoherent coefficient', () => {
  assert.deepEqual(kneeCoefs([{ coef: 2, coherence: 90 }, { coef: 3, coherence: 70 }, { coef: 4, coherence: 20 }, { coef: 5, coherence: 5 }], 0.25), [3.25, 3.5, 3.75]);
  assert.deepEqual(kneeCoefs([{ coef: 2, coherence: 40 }], 0.5), [0.5, 1, 1.5]);
  assert.deepEqual(kneeCoefs([{ coef: 2, coherence: 90 }], 0.5), []);
});

test('best steering requires coherence ≥ 50', () => {
  const r = (kind: string, d: number, coh: number) => ({ condition: { id: `${kind}${d}`, kind, layer: 1, coef: d }, deltaTraitMean: d, coherence: { mean: coh } }) as unknown as ConditionResult;
  assert.equal(bestSteering([r('steer', 40, 49), r('steer', 30, 50), r('prompt', 80, 99), r('steer', 10, 90)])!.deltaTraitMean, 30);
  assert.equal(bestSteering([r('steer', 40, 49)]), null);
});

test('Bonferroni within trait counts the checkpoints of each trait', async () => {
  const { applyBonferroniWithinTrait } = await import('../../src/core/evaluation/report.js');
  const rows = applyBonferroniWithinTrait([
    { trait: 'evil', eval_revision: 'step-100', trait_primary_p_two_sided: 0.01, trait_primary_p_greater: 0.005 },
    { trait: 'evil', eval_revision: 'step-200', trait_primary_p_two_sided: 0.3, trait_primary_p_greater: 0.15 },
    { trait: 'evil', eval_revision: 'main', trait_primary_p_two_sided: 0.02, trait_primary_p_greater: 0.01 },
    { trait: 'humorous', eval_revision: 'main', trait_primary_p_two_sided: 0.02, trait_primary_p_greater: null },
    { trait: 'evil', eval_revision: 'step-0', vector_status: 'nonextractable' }, // no vector, no test: does not count
  ]);
  assert.deepEqual(rows.map((r) => r.trait_primary_p_two_sided_bonferroni_within_trait), [0.03, 0.8999999999999999, 0.06, 0.02, null]);
  assert.equal(rows[3].trait_primary_p_greater_bonferroni_within_trait, null);
  // a transfer table: one eval revision, several source checkpoints → count the sources
  const transfer = applyBonferroniWithinTrait([
    { trait: 'evil', extract_revision: 'step-100', eval_revision: 'instruct', trait_primary_p_two_sided: 0.01 },
    { trait: 'evil', extract_revision: 'main', eval_revision: 'instruct', trait_primary_p_two_sided: 0.02 },
  ], 'extract_revision');
  assert.deepEqual(transfer.map((r) => r.trait_primary_p_two_sided_bonferroni_within_trait), [0.02, 0.04]);
});
