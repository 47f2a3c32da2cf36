import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bonferroni, pairedStats, signFlipBruteForce, signFlipExact, signTest } from '../../src/core/stats/paired.js';
import { mean, median, std } from '../../src/core/stats/descriptive.js';

function lcg(seed: number) { let s = seed >>> 0; return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32); }

test('sign-flip: hand-computed case ±1±2±3', () => {
  const r = signFlipExact([1, 2, 3])!;
  assert.equal(r.total, 8);
  assert.equal(r.countGreater, 1);   // only +1+2+3 = 6
  assert.equal(r.countTwoSided, 2);  // ±6
  assert.equal(r.pTwoSided, 0.25);
  // zero observed sum: every assignment is as extreme
  assert.equal(signFlipExact([1, -1])!.countTwoSided, 4);
});

test('sign-flip: meet-in-the-middle equals brute force on 2^20 assignments, and p·2^n is an exact integer', () => {
  const r = lcg(7);
  for (let trial = 0; trial < 3; trial++) {
    // 20 per-question mean diffs like a real run (continuous, mixed signs, some ties)
    const d = Array.from({ length: 20 }, (_, i) => (i % 7 === 0 ? 2.5 : Math.round((r() - 0.4) * 4000) / 100));
    const fast = signFlipExact(d)!;
    const slow = signFlipBruteForce(d);
    assert.equal(fast.total, 2 ** 20);
    assert.equal(fast.countGreater, slow.countGreater);
    assert.equal(fast.countTwoSided, slow.countTwoSided);
    assert.equal(fast.pTwoSided * 2 ** 20, fast.countTwoSided);
    assert.ok(Number.isInteger(fast.pTwoSided * 2 ** 20));
  }
});

test('sign-flip: all-positive diffs give the minimum p = 2/2^n two-sided', () => {
  const d = Array.from({ length: 20 }, (_, i) => 1 + i);
  const r = signFlipExact(d)!;
  assert.equal(r.countTwoSided, 2);
  assert.equal(r.pGreater, 1 / 2 ** 20);
});

test('sign test: 12 positive / 8 negative → 0.5034 two-sided (PP table)', () => {
  const d = [...Array(12).fill(1), ...Array(8).fill(-1), 0, 0];
  const r = signTest(d);
  assert.equal(r.nonzero, 20);
  assert.equal(r.positive, 12);
  assert.equal(r.pTwoSided.toFixed(4), '0.5034');
  assert.equal(r.pGreater.toFixed(4), '0.2517');
});

test('bonferroni caps at 1', () => {
  assert.equal(bonferroni(0.01, 5), 0.05);
  assert.equal(bonferroni(0.3, 5), 1);
  assert.equal(bonferroni(null, 5), null);
});

test('descriptive stats skip missing scores like pandas', () => {
  assert.equal(mean([1, null, 3]), 2);
  assert.equal(median([5, 1, null, 3, 2]), 2.5);
  assert.equal(std([1, 2, 3, 4])!.toFixed(6), '1.290994');
  assert.equal(mean([null]), null);
});

test('pairedStats pairs questions by id and averages samples first', () => {
  const base = new Map([['q0', [0, 10]], ['q1', [0, null]], ['q2', [null, null]]]);
  const steer = new Map([['q0', [40, 60]], ['q1', [20, 20]], ['q2', [50, 50]]]);
  const s = pairedStats(base, steer);
  assert.equal(s.pairedQuestions, 2); // q2 has no baseline score
  assert.equal(s.meanDiff, (45 + 20) / 2);
  assert.equal(s.primaryTest, 'sign_flip_exact');
  assert.equal(s.signFlip!.countGreater, 1);
});
