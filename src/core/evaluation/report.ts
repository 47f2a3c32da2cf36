/**
 * Result tables with upstream's column names (digest §6.2), so PP's analysis scripts keep working:
 *   combined.csv               one row per condition (PP checkpoint_grid combined.csv columns, those we can fill)
 *   combined_significance.csv  + paired per-question statistics and Bonferroni within trait
 *   controls_combined.csv      PP controls combined.csv columns
 * Bonferroni "within trait" counts the checkpoints (eval revisions) of one trait in the table; a single-run
 * table has one checkpoint, so the corrected p equals the raw p there — sweeps pass all their rows at once.
 */
import { writeCsv, type CsvValue } from '../storage/csv.js';
import { bonferroni } from '../stats/paired.js';
import { scalingModeLabel } from './conditions.js';
import type { ConditionResult } from './evaluate.js';

export interface TableContext {
  trait: string;
  extractRevision: string;
  evalRevision: string;
  vectorPath?: string;
  vectorExists?: boolean;
  filter?: Record<string, unknown>;
}

export const COMBINED_COLUMNS = ['extract_revision', 'trait', 'vector_path', 'vector_exists', 'vector_status', 'effective_rows', 'pos_trait_mean', 'neg_trait_mean',
  'pos_coherence_mean', 'neg_coherence_mean', 'eval_revision', 'mode', 'layer', 'coef', 'scaling_mode', 'baseline_path', 'baseline_rows',
  'baseline_trait_mean', 'baseline_trait_median', 'baseline_trait_std', 'baseline_coherence_mean', 'baseline_coherence_median', 'baseline_coherence_std',
  'output_path', 'output_rows', 'output_trait_mean', 'output_trait_median', 'output_trait_std', 'output_coherence_mean', 'output_coherence_median',
  'output_coherence_std', 'delta_trait_mean', 'delta_trait_median', 'delta_coherence_mean', 'delta_coherence_median', 'first_answer_preview', 'status'] as const;

export const SIGNIFICANCE_COLUMNS = [...COMBINED_COLUMNS, 'paired_questions', 'paired_trait_mean_diff', 'paired_trait_median_diff',
  'trait_question_mean_baseline', 'trait_question_mean_steered', 'trait_sign_flip_p_two_sided', 'trait_sign_flip_p_greater',
  'trait_sign_test_nonzero_pairs', 'trait_sign_test_positive_pairs', 'trait_sign_test_negative_pairs', 'trait_sign_test_p_two_sided', 'trait_sign_test_p_greater',
  'coherence_sign_flip_p_two_sided', 'coherence_sign_test_p_two_sided', 'trait_sign_flip_exact_available', 'trait_primary_test', 'trait_primary_p_two_sided',
  'trait_primary_p_greater', 'trait_primary_p_two_sided_bonferroni_within_trait', 'trait_primary_p_greater_bonferroni_within_trait'] as const;

export const CONTROLS_COLUMNS = ['revision', 'mode', 'seed', 'trait', 'layer', 'coef', 'baseline_trait_mean', 'baseline_coherence_mean', 'output_trait_mean',
  'output_coherence_mean', 'delta_trait_mean', 'delta_coherence_mean', 'trait_primary_p_two_sided', 'baseline_csv', 'output_csv'] as const;

export function combinedRows(ctx: TableContext, results: ConditionResult[], checkpoints = 1): Record<string, CsvValue>[] {
  const base = results.find((r) => r.condition.kind === 'baseline')!;
  const f = ctx.filter ?? {};
  return results.filter((r) => r !== base).map((r) => {
    const tp = r.traitPaired, cp = r.coherencePaired;
    return {
      extract_revision: ctx.extractRevision, trait: ctx.trait, vector_path: ctx.vectorPath, vector_exists: ctx.vectorExists ?? !!ctx.vectorPath,
      vector_status: ctx.vectorExists === false ? 'nonextractable' : 'ok', effective_rows: f.pairs_kept as number, pos_trait_mean: f.pos_trait_mean as number,
      neg_trait_mean: f.neg_trait_mean as number, pos_coherence_mean: f.pos_coherence_mean as number, neg_coherence_mean: f.neg_coherence_mean as number,
      eval_revision: ctx.evalRevision, mode: r.condition.kind, layer: r.condition.layer, coef: r.condition.coef, scaling_mode: r.condition.kind === 'prompt' ? '' : scalingModeLabel(r.condition.scaling),
      baseline_path: base.csv, baseline_rows: base.rows,
      baseline_trait_mean: base.trait.mean, baseline_trait_median: base.trait.median, baseline_trait_std: base.trait.std,
      baseline_coherence_mean: base.coherence.mean, baseline_coherence_median: base.coherence.median, baseline_coherence_std: base.coherence.std,
      output_path: r.csv, output_rows: r.rows,
      output_trait_mean: r.trait.mean, output_trait_median: r.trait.median, output_trait_std: r.trait.std,
      output_coherence_mean: r.coherence.mean, output_coherence_median: r.coherence.median, output_coherence_std: r.coherence.std,
      delta_trait_mean: r.deltaTraitMean, delta_trait_median: r.deltaTraitMedian, delta_coherence_mean: r.deltaCoherenceMean, delta_coherence_median: r.deltaCoherenceMedian,
      first_answer_preview: r.firstAnswer.slice(0, 200), status: 'ok',
      paired_questions: tp?.pairedQuestions, paired_trait_mean_diff: tp?.meanDiff, paired_trait_median_diff: tp?.medianDiff,
      trait_question_mean_baseline: tp?.questionMeanBaseline, trait_question_mean_steered: tp?.questionMeanSteered,
      trait_sign_flip_p_two_sided: tp?.signFlip?.pTwoSided, trait_sign_flip_p_greater: tp?.signFlip?.pGreater,
      trait_sign_test_nonzero_pairs: tp?.signTest.nonzero, trait_sign_test_positive_pairs: tp?.signTest.positive, trait_sign_test_negative_pairs: tp?.signTest.negative,
      trait_sign_test_p_two_sided: tp?.signTest.pTwoSided, trait_sign_test_p_greater: tp?.signTest.pGreater,
      coherence_sign_flip_p_two_sided: cp?.signFlip?.pTwoSided, coherence_sign_test_p_two_sided: cp?.signTest.pTwoSided,
      trait_sign_flip_exact_available: !!tp?.signFlip, trait_primary_test: tp?.primaryTest, trait_primary_p_two_sided: tp?.primaryPTwoSided, trait_primary_p_greater: tp?.primaryPGreater,
      trait_primary_p_two_sided_bonferroni_within_trait: bonferroni(tp?.primaryPTwoSided ?? null, checkpoints),
      trait_primary_p_greater_bonferroni_within_trait: bonferroni(tp?.primaryPGreater ?? null, checkpoints),
    };
  });
}

/**
 * Bonferroni within trait across a sweep: for each trait, m = the number of distinct checkpoints
 * (eval_revision) that were tested (rows with a primary p; a checkpoint without a vector tests nothing);
 * every row's primary p is multiplied by its trait's m (capped at 1).
 * Use this when concatenating combined_significance rows of several checkpoints. A transfer table (every vector
 * evaluated on one target) counts its source checkpoints instead: `by = 'extract_revision'`.
 */
export function applyBonferroniWithinTrait(rows: Record<string, CsvValue>[], by: 'eval_revision' | 'extract_revision' = 'eval_revision'): Record<string, CsvValue>[] {
  const revs = new Map<string, Set<string>>();
  for (const r of rows) {
    const k = String(r.trait);
    if (typeof r.trait_primary_p_two_sided !== 'number') { if (!revs.has(k)) revs.set(k, new Set()); continue; }
    if (!revs.has(k)) revs.set(k, new Set());
    revs.get(k)!.add(String(r[by]));
  }
  return rows.map((r) => {
    const m = revs.get(String(r.trait))!.size;
    const p2 = typeof r.trait_primary_p_two_sided === 'number' ? r.trait_primary_p_two_sided : null;
    const pg = typeof r.trait_primary_p_greater === 'number' ? r.trait_primary_p_greater : null;
    return { ...r, trait_primary_p_two_sided_bonferroni_within_trait: bonferroni(p2, m), trait_primary_p_greater_bonferroni_within_trait: bonferroni(pg, m) };
  });
}

export function writeCombined(dir: (name: string) => string, ctx: TableContext, results: ConditionResult[], checkpoints = 1): void {
  const rows = combinedRows(ctx, results, checkpoints);
  writeCsv(dir('combined.csv'), COMBINED_COLUMNS, rows);
  writeCsv(dir('combined_significance.csv'), SIGNIFICANCE_COLUMNS, rows);
}

export function writeControlsCombined(file: string, ctx: TableContext, results: ConditionResult[]): void {
  const base = results.find((r) => r.condition.kind === 'baseline')!;
  writeCsv(file, CONTROLS_COLUMNS, results.filter((r) => r !== base).map((r) => ({
    revision: ctx.evalRevision, mode: r.condition.kind === 'steer' ? 'real' : r.condition.kind, seed: r.condition.seed, trait: ctx.trait,
    layer: r.condition.layer, coef: r.condition.coef, baseline_trait_mean: base.trait.mean, baseline_coherence_mean: base.coherence.mean,
    output_trait_mean: r.trait.mean, output_coherence_mean: r.coherence.mean, delta_trait_mean: r.deltaTraitMean, delta_coherence_mean: r.deltaCoherenceMean,
    trait_primary_p_two_sided: r.traitPaired?.primaryPTwoSided, baseline_csv: base.csv, output_csv: r.csv,
  })));
}
