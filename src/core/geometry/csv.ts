/**
 * Geometry results as CSV files with upstream's names and columns (analysis/make_cosine_trajectory_plot.py), so
 * existing plotting scripts read ours:
 *   vector_cosine_sim_<trait>_layer<ℓ>.csv          ",rev1,rev2,…" then one row per revision
 *   vector_cosine_sequential_<trait>_layer<ℓ>.csv   source_revision,target_revision,cosine_similarity
 *   vector_cosine_to_main_<trait>_layer<ℓ>.csv      revision,cosine_similarity_to_main
 * and ours, which upstream only plots: vector_norms_<trait>_layer<ℓ>.csv (revision,norm,mean_l2,norm_ratio).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Trajectory } from './trajectory.js';

const num = (x: number | null) => (x === null || Number.isNaN(x) ? '' : String(x));

export function trajectoryCsvs(trait: string, t: Trajectory): Record<string, string> {
  const suffix = `${trait}_layer${t.layer}.csv`;
  const lines = (rows: string[][]) => rows.map((r) => r.join(',')).join('\n') + '\n';
  return {
    [`vector_cosine_sim_${suffix}`]: lines([['', ...t.revisions], ...t.revisions.map((r, i) => [r, ...t.matrix[i].map(num)])]),
    [`vector_cosine_sequential_${suffix}`]: lines([['source_revision', 'target_revision', 'cosine_similarity'], ...t.sequential.map((s) => [s.source, s.target, num(s.cosine)])]),
    [`vector_cosine_to_main_${suffix}`]: lines([['revision', 'cosine_similarity_to_main'], ...t.toMain.map((s) => [s.revision, num(s.cosine)])]),
    [`vector_norms_${suffix}`]: lines([['revision', 'norm', 'mean_l2', 'norm_ratio'], ...t.norms.map((n) => [n.revision, num(n.norm), num(n.meanL2), num(n.ratio)])]),
  };
}

/** Writes the CSVs into `dir` (created); returns the paths written. */
export function writeTrajectoryCsvs(dir: string, trait: string, t: Trajectory): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(trajectoryCsvs(trait, t)).map(([name, text]) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  });
}

/** Parses a CSV of the shapes above (no quoting: revision names and numbers only). */
export function parseSimpleCsv(text: string): string[][] {
  return text.split(/\r?\n/).filter((l) => l.length > 0).map((l) => l.split(','));
}
