/**
 * Paired per-question statistics for steering (digest §6.2, PP `combined_significance.csv`):
 * question means are taken over samples first, then the per-question differences d_i = steered − baseline
 * are tested with
 *   - an exact sign-flip permutation test over all 2^n sign assignments of d (statistic Σ s_i·d_i), and
 *   - a sign test (binomial, p = ½, over the nonzero differences),
 * and Bonferroni-corrected across the checkpoints of one sweep.
 *
 * The sign-flip test is exact: p·2^n is the integer count of assignments at least as extreme as the
 * observed one (e.g. 0.5619754791 × 2^20 = 589,274 in PP's shipped tables). We enumerate it with a
 * meet-in-the-middle split — all 2^⌈n/2⌉ half-sums on each side, one side sorted, binary search per
 * sum of the other — which is O(2^(n/2)·n) instead of O(2^n).
 */
import { mean, median } from './descriptive.js';

/** Largest n for exact enumeration (2^40 assignments; counts stay exact in a double). */
export const MAX_EXACT_SIGN_FLIP = 40;

export interface SignFlipResult {
  n: number;
  /** Total assignments 2^n. */
  total: number;
  /** Assignments with Σ s·d ≥ observed (one-sided, "greater"). */
  countGreater: number;
  /** Assignments with |Σ s·d| ≥ |observed|. */
  countTwoSided: number;
  pGreater: number;
  pTwoSided: number;
}

function halfSums(d: readonly number[]): Float64Array {
  const out = new Float64Array(1 << d.length);
  out[0] = -d.reduce((a, b) => a + b, 0); // all signs −
  // Gray-code style: sums for mask m = base + 2·Σ_{i∈m} d_i
  for (let m = 1; m < out.length; m++) {
    const low = m & -m;
    const i = 31 - Math.clz32(low);
    out[m] = out[m ^ low] + 2 * d[i];
  }
  return out;
}

/** Number of entries of sorted `a` that are ≥ x. */
function countAtLeast(sorted: Float64Array, x: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] < x) lo = mid + 1; else hi = mid; }
  return sorted.length - lo;
}

/**
 * Exact sign-flip test. Returns null when n is 0 or above MAX_EXACT_SIGN_FLIP (exact test unavailable).
 * Ties are "at least as extreme" up to a relative tolerance of 1e-9 (float sums of the same multiset
 * can differ in the last bits depending on the order of addition).
 */
export function signFlipExact(d: readonly number[]): SignFlipResult | null {
  const n = d.length;
  if (n === 0 || n > MAX_EXACT_SIGN_FLIP) return null;
  const observed = d.reduce((a, b) => a + b, 0);
  const scale = d.reduce((a, b) => a + Math.abs(b), 0);
  const eps = 1e-9 * (scale + 1);
  const left = halfSums(d.slice(0, n >> 1));
  const right = halfSums(d.slice(n >> 1)).sort();
  const obsAbs = Math.abs(observed);
  let countGreater = 0, countTwoSided = 0;
  for (const a of left) {
    countGreater += countAtLeast(right, observed - eps - a);
    if (obsAbs <= eps) countTwoSided += right.length;
    else {
      // S ≥ |obs| or S ≤ −|obs|  (disjoint because |obs| > eps)
      countTwoSided += countAtLeast(right, obsAbs - eps - a);
      countTwoSided += right.length - countAbove(right, -obsAbs + eps - a);
    }
  }
  const total = 2 ** n;
  return { n, total, countGreater, countTwoSided, pGreater: countGreater / total, pTwoSided: countTwoSided / total };
}

/** Number of entries of sorted `a` that are > x. */
function countAbove(sorted: Float64Array, x: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] <= x) lo = mid + 1; else hi = mid; }
  return sorted.length - lo;
}

/** Reference implementation for tests: enumerates all 2^n assignments directly (n ≤ 24). */
export function signFlipBruteForce(d: readonly number[]): { countGreater: number; countTwoSided: number } {
  const n = d.length;
  const observed = d.reduce((a, b) => a + b, 0);
  const eps = 1e-9 * (d.reduce((a, b) => a + Math.abs(b), 0) + 1);
  let countGreater = 0, countTwoSided = 0;
  for (let m = 0; m < 2 ** n; m++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += (m >> i) & 1 ? d[i] : -d[i];
    if (s >= observed - eps) countGreater++;
    if (Math.abs(s) >= Math.abs(observed) - eps) countTwoSided++;
  }
  return { countGreater, countTwoSided };
}

function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** P(X ≥ k) for X ~ Binomial(n, ½). */
export function binomialUpperTail(n: number, k: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  let p = 0;
  for (let i = k; i <= n; i++) p += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, p);
}

export interface SignTestResult {
  nonzero: number; positive: number; negative: number;
  pGreater: number;
  /** 2·min(P(X ≥ k), P(X ≤ k)), capped at 1 (= scipy binomtest for p = ½). */
  pTwoSided: number;
}

export function signTest(d: readonly number[]): SignTestResult {
  const positive = d.filter((x) => x > 0).length;
  const negative = d.filter((x) => x < 0).length;
  const n = positive + negative;
  const upper = binomialUpperTail(n, positive);
  const lower = binomialUpperTail(n, negative); // P(X ≤ positive) = P(Y ≥ negative)
  return { nonzero: n, positive, negative, pGreater: upper, pTwoSided: n === 0 ? 1 : Math.min(1, 2 * Math.min(upper, lower)) };
}

export function bonferroni(p: number | null, m: number): number | null {
  return p === null ? null : Math.min(1, p * Math.max(1, m));
}

/** Per-question means for two conditions, paired by question id (questions missing on either side are dropped). */
export function questionDiffs(baseline: Map<string, (number | null)[]>, steered: Map<string, (number | null)[]>): { questions: string[]; base: number[]; steer: number[]; d: number[] } {
  const questions: string[] = [], base: number[] = [], steer: number[] = [], d: number[] = [];
  for (const [q, bs] of baseline) {
    const ss = steered.get(q);
    if (!ss) continue;
    const b = mean(bs), s = mean(ss);
    if (b === null || s === null) continue;
    questions.push(q); base.push(b); steer.push(s); d.push(s - b);
  }
  return { questions, base, steer, d };
}

export interface PairedStats {
  pairedQuestions: number;
  meanDiff: number | null;
  medianDiff: number | null;
  questionMeanBaseline: number | null;
  questionMeanSteered: number | null;
  signFlip: SignFlipResult | null;
  signTest: SignTestResult;
  /** Primary test: the exact sign flip when available, else the sign test (PP `*_primary_test`). */
  primaryTest: 'sign_flip_exact' | 'sign_test';
  primaryPTwoSided: number;
  primaryPGreater: number;
}

export function pairedStats(baseline: Map<string, (number | null)[]>, steered: Map<string, (number | null)[]>): PairedStats {
  const { base, steer, d } = questionDiffs(baseline, steered);
  const sf = signFlipExact(d);
  const st = signTest(d);
  return {
    pairedQuestions: d.length, meanDiff: mean(d), medianDiff: median(d),
    questionMeanBaseline: mean(base), questionMeanSteered: mean(steer),
    signFlip: sf, signTest: st,
    primaryTest: sf ? 'sign_flip_exact' : 'sign_test',
    primaryPTwoSided: sf ? sf.pTwoSided : st.pTwoSided,
    primaryPGreater: sf ? sf.pGreater : st.pGreater,
  };
}
