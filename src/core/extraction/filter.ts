/**
 * The paired, asymmetric filter of upstream (digest §4.2, checklist item 2). Pos and neg rows are aligned by
 * (question i, instruction pair k, sample j); a pair is kept only if BOTH sides pass:
 *   pos trait ≥ threshold  AND  neg trait < 100 − threshold  AND  pos coherence ≥ 50  AND  neg coherence ≥ 50.
 * A missing (null) score fails every comparison, so it drops the pair. Dropping a good pos sample because its
 * neg partner failed is deliberate (§12.17): "fixing" it changes the vectors.
 * Beyond upstream (§12.6 bug): a pair with an empty answer on either side is dropped too, since its
 * response average is undefined (upstream produced NaN).
 */
import { mean } from '../stats/descriptive.js';

export interface SideScores { trait: number | null; coherence: number | null; answer: string }
export interface PairScores { id: string; pos: SideScores; neg: SideScores }

export interface FilterStats {
  threshold: number;
  pairs_total: number;
  pairs_kept: number;
  pos_trait_pass: number;
  neg_trait_pass: number;
  pos_coherence_pass: number;
  neg_coherence_pass: number;
  missing_scores: number;
  empty_answers: number;
  pos_trait_mean: number | null;
  neg_trait_mean: number | null;
  pos_coherence_mean: number | null;
  neg_coherence_mean: number | null;
}

const ge = (x: number | null, t: number) => x !== null && x >= t;
const lt = (x: number | null, t: number) => x !== null && x < t;

export function pairedFilter(pairs: PairScores[], threshold = 50): { kept: number[]; stats: FilterStats } {
  const kept: number[] = [];
  const s: FilterStats = {
    threshold, pairs_total: pairs.length, pairs_kept: 0, pos_trait_pass: 0, neg_trait_pass: 0, pos_coherence_pass: 0, neg_coherence_pass: 0,
    missing_scores: 0, empty_answers: 0,
    pos_trait_mean: mean(pairs.map((p) => p.pos.trait)), neg_trait_mean: mean(pairs.map((p) => p.neg.trait)),
    pos_coherence_mean: mean(pairs.map((p) => p.pos.coherence)), neg_coherence_mean: mean(pairs.map((p) => p.neg.coherence)),
  };
  pairs.forEach((p, i) => {
    const a = ge(p.pos.trait, threshold), b = lt(p.neg.trait, 100 - threshold), c = ge(p.pos.coherence, 50), d = ge(p.neg.coherence, 50);
    s.pos_trait_pass += +a; s.neg_trait_pass += +b; s.pos_coherence_pass += +c; s.neg_coherence_pass += +d;
    if ([p.pos.trait, p.neg.trait, p.pos.coherence, p.neg.coherence].some((x) => x === null)) s.missing_scores++;
    const empty = p.pos.answer === '' || p.neg.answer === '';
    if (empty) s.empty_answers++;
    if (a && b && c && d && !empty) kept.push(i);
  });
  s.pairs_kept = kept.length;
  return { kept, stats: s };
}
