/**
 * The toy organism's evaluation protocol — one place for the settings that `persona-lab demo`, every job's
 * toy-model defaults (src/core/jobs/table.ts: extract, evaluate, grid, controls and sweep, from the CLI or the
 * editor) and the issue-6 end-to-end test (test/core/toy-steering.integration.test.ts) share, so the numbers in
 * src/core/README.md are what a user reproduces.
 *
 *   extraction  every extraction question × 5 instruction pairs × 2 samples (≈ 200 pairs before filtering)
 *   evaluation  20 held-out questions × 4 samples = 80 answers per condition: the size the feasibility
 *               study used (40 questions × 2), which halves Δτ's sampling variance against 2 samples
 *   grid        layers 3–4 × coef 2…6, extended while still coherent, then 0.25 steps at the knee
 *   controls    random and matched-pairs shuffle, orthogonal to v, norm-matched, seeds 0, 1, 2
 *   sweep       (demo only) evil and sycophantic across five pretraining revisions, from one where nothing is
 *               extractable to main, each steered at its own checkpoint and transferred to the instruct model —
 *               the emergence curve and the transfer table of the report; main's extraction is the demo's own
 */
/** The toy organism's four traits (models/toy-persona/traits). */
export const TOY_TRAITS = ['evil', 'sycophantic', 'impolite', 'humorous'] as const;

export const TOY_PROTOCOL = {
  extractSamples: 2,
  extractSeed: 0,
  evalSamples: 4,
  evalSeed: 1000,
  layers: [3, 4],
  coefs: [2, 3, 4, 5, 6],
  refineStep: 0.25,
  controlSeeds: [0, 1, 2],
  sweepTraits: ['evil', 'sycophantic'],
  sweepRevisions: ['stage1-step0', 'stage1-step100', 'stage1-step250', 'stage1-step550', 'main'],
} as const;
