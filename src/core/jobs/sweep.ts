/**
 * Checkpoint sweep (upstream `checkpoint_sweep.sh`, digest §10.2): at every revision of one model, extract each
 * trait's vector and evaluate steering with it at that same checkpoint (fixed layer and coefficient per trait),
 * then one table over the whole sweep — upstream's combined.csv / combined_significance.csv columns with
 * Bonferroni across the trait's checkpoints — and the vectors' geometry across revisions at the steering layer.
 *
 * Early checkpoints often keep no pairs: their extraction writes a status file instead of a vector, the sweep
 * records a `nonextractable` row and goes on. Every stage is its own resumable run (extract-…, evaluate-…), so
 * re-running an interrupted sweep redoes nothing that was completed; the sweep run only records and aggregates.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { modelKind, type JobBase, type ModelHandle, type ProgressSink } from '../backend.js';
import { measureActivationNorms, normsDir, normsFile, writeNormsCsv } from '../calibration.js';
import { evalPrompt } from '../prompts.js';
import { combinedRows, applyBonferroniWithinTrait, COMBINED_COLUMNS, SIGNIFICANCE_COLUMNS } from '../evaluation/report.js';
import { writeTrajectoryCsvs } from '../geometry/csv.js';
import { loadRevisionVectors } from '../geometry/sources.js';
import { vectorTrajectory, type Trajectory } from '../geometry/trajectory.js';
import { runEvaluation, runExtraction, tableContext } from './pipeline.js';
import { writeCsv, type CsvValue } from '../storage/csv.js';
import type { RunStore } from '../storage/run.js';
import type { LoadedTrait } from '../traits/load.js';
import { PipelineError } from '../errors.js';
import { withRun } from './run.js';
import { runTransfer, type TransferScaling } from './transfer.js';

export interface SweepTrait { trait: string; extract: LoadedTrait; eval: LoadedTrait; layer: number; coef: number }
export interface OpenedModel { model: ModelHandle; close(): Promise<void> }

/** JobBase without one model, trait, seed or sample count: a sweep opens each revision and runs every trait with its own settings. */
export interface SweepJob extends Omit<JobBase, 'model' | 'trait' | 'seed' | 'samples' | 'maxQuestions'> {
  /** Model name as used in the workspace (vectors/<model>/<revision>/…). */
  modelName: string;
  /** Revisions in training order. */
  revisions: string[];
  /** Loads one revision (and frees it on close): the sweep holds one checkpoint at a time. */
  openModel(revision: string): Promise<OpenedModel>;
  traits: SweepTrait[];
  extract: { samples: number; seed: number; threshold?: number; maxQuestions?: number };
  evaluate: { samples: number; seed: number; maxQuestions?: number };
  /** Evaluate each vector at its own checkpoint (upstream checkpoint_sweep). Default true. */
  sameCheckpoint?: boolean;
  /** Also evaluate every revision's vector on one target model (upstream transfer_sweep; ./transfer.ts). */
  transfer?: { openTarget(): Promise<OpenedModel>; scaling: TransferScaling };
}

export interface SweepResult {
  run: RunStore;
  /** combined_significance rows, one per (revision, trait), Bonferroni across each trait's checkpoints. */
  rows: Record<string, CsvValue>[];
  /** trait → geometry over the revisions that have a vector (null when fewer than one). */
  trajectories: Record<string, Trajectory | null>;
  /** Transfer rows (every revision's vector on the target), when a transfer target was given. */
  transferRows?: Record<string, CsvValue>[];
}

export async function runSweep(j: SweepJob): Promise<SweepResult> {
  const config = {
    stage: 'sweep', model: j.modelName, revisions: j.revisions, sampler: j.sampling, samplerPreset: j.samplerPreset, judge: j.judge.id,
    extract: j.extract, evaluate: j.evaluate, sameCheckpoint: j.sameCheckpoint !== false, transferScaling: j.transfer?.scaling ?? null,
    traits: j.traits.map((t) => ({ trait: t.trait, extractSha256: t.extract.sha256, evalSha256: t.eval.sha256, layer: t.layer, coef: t.coef })),
  };
  const { run, value } = await withRun({ ws: j.ws, kind: 'sweep', label: `${j.modelName}-${j.traits.map((t) => t.trait).join('+')}`, config, runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    const rows: Record<string, CsvValue>[] = [];
    for (const [ri, revision] of j.revisions.entries()) {
      j.signal?.throwIfAborted();
      const { model, close } = await j.openModel(revision);
      try {
        // Shared activation norms of this checkpoint (geometry reports ‖v‖/mean_l2 with them).
        writeNormsCsv(normsFile(j.ws, j.modelName, revision), await measureActivationNorms(model, calibrationPrompts(j, model), { batchSize: j.batchSize, signal: j.signal }));
        for (const t of j.traits) {
          const note = `${revision} (${ri + 1}/${j.revisions.length}) ${t.trait}`;
          const base = { ws: j.ws, model, judge: j.judge, trait: t.trait, sampling: j.sampling, samplerPreset: j.samplerPreset, chunkSize: j.chunkSize, batchSize: j.batchSize, signal: j.signal,
            progress: j.progress && ((p: Parameters<ProgressSink>[0]) => j.progress!({ ...p, note: p.note ? `${note} ${p.note}` : note })) };
          const ex = await runExtraction({ ...base, traitFile: t.extract, samples: j.extract.samples, seed: j.extract.seed, threshold: j.extract.threshold, maxQuestions: j.extract.maxQuestions });
          if (ex.result.status !== 'ok') {
            rows.push(nonExtractableRow(j, t, revision, ex.result.reason, ex.result.filter as unknown as Record<string, unknown>));
            continue;
          }
          if (j.sameCheckpoint === false) continue;
          const job = { ...base, evalTrait: t.eval, instructionTrait: t.extract, vectorPath: ex.result.vectorPath, samples: j.evaluate.samples, seed: j.evaluate.seed, maxQuestions: j.evaluate.maxQuestions };
          const ev = await runEvaluation({ ...job, layer: t.layer, coef: t.coef });
          const ctx = tableContext(job);
          rows.push(...combinedRows({ ...ctx, vectorPath: path.relative(j.ws.root, ex.result.vectorPath) }, ev.results).map((r) => ({ ...r, output_path: `${path.relative(j.ws.root, ev.run.dir)}/${String(r.output_path)}`, baseline_path: `${path.relative(j.ws.root, ev.run.dir)}/${String(r.baseline_path)}` })));
        }
      } finally { await close(); }
    }
    const table = applyBonferroniWithinTrait(rows);
    writeCsv(run.path('combined.csv'), COMBINED_COLUMNS, table);
    writeCsv(run.path('combined_significance.csv'), SIGNIFICANCE_COLUMNS, table);
    const transferRows = j.transfer ? await transferStage(j, j.transfer) : undefined;
    if (transferRows) {
      writeCsv(run.path('transfer_combined.csv'), COMBINED_COLUMNS, transferRows);
      writeCsv(run.path('transfer_combined_significance.csv'), SIGNIFICANCE_COLUMNS, transferRows);
    }
    const trajectories: Record<string, Trajectory | null> = {};
    for (const t of j.traits) {
      const sources = j.revisions.map((revision) => ({ revision, file: j.ws.vectorPath(j.modelName, revision, t.trait) })).filter((s) => existsSync(s.file));
      trajectories[t.trait] = sources.length ? vectorTrajectory(loadRevisionVectors(sources, t.layer, { normsDir: normsDir(j.ws, j.modelName) }), t.layer) : null;
      if (trajectories[t.trait]) writeTrajectoryCsvs(run.path('geometry'), t.trait, trajectories[t.trait]!);
    }
    return { value: { rows: table, trajectories, transferRows }, results: { rows: table, trajectories, transferRows },
      outputs: { combined: run.path('combined.csv'), significance: run.path('combined_significance.csv'), geometry: run.path('geometry') } };
  });
  return { run, ...value };
}

/** Every revision's vector on the transfer target, per trait (the target's own vector, extracted there, is the reference). */
async function transferStage(j: SweepJob, tr: NonNullable<SweepJob['transfer']>): Promise<Record<string, CsvValue>[]> {
  const { model, close } = await tr.openTarget();
  try {
    const out: Record<string, CsvValue>[] = [];
    for (const t of j.traits) {
      const note = `transfer → ${model.name}@${model.revision} ${t.trait}`;
      const progress = j.progress && ((p: Parameters<ProgressSink>[0]) => j.progress!({ ...p, note: p.note ? `${note} ${p.note}` : note }));
      const common = { ws: j.ws, judge: j.judge, trait: t.trait, sampling: j.sampling, samplerPreset: j.samplerPreset, chunkSize: j.chunkSize, batchSize: j.batchSize, signal: j.signal, progress };
      const own = await runExtraction({ ...common, model, traitFile: t.extract, samples: j.extract.samples, seed: j.extract.seed, threshold: j.extract.threshold, maxQuestions: j.extract.maxQuestions });
      const targetVectorPath = own.result.status === 'ok' ? own.result.vectorPath : undefined;
      if (tr.scaling === 'match-target' && !targetVectorPath) {
        throw new PipelineError('not-extractable', `match-target transfer needs ${t.trait}'s vector on the target ${model.name}@${model.revision}, which is not extractable there; use raw scaling`);
      }
      const sources = j.revisions.map((revision) => ({ revision, vectorPath: j.ws.vectorPath(j.modelName, revision, t.trait) })).filter((s) => existsSync(s.vectorPath));
      if (sources.length === 0) continue;
      let targetNorm: number | undefined;
      if (tr.scaling === 'target-norm') {
        const norms = await measureActivationNorms(model, calibrationPrompts(j, model), { batchSize: j.batchSize, signal: j.signal });
        writeNormsCsv(normsFile(j.ws, model.name, model.revision), norms);
        targetNorm = norms[t.layer].meanL2;
      }
      const { rows } = await runTransfer({ ...common, model, evalTrait: t.eval, sources, targetVectorPath, layer: t.layer, coef: t.coef, scaling: tr.scaling, targetNorm,
        samples: j.evaluate.samples, seed: j.evaluate.seed, maxQuestions: j.evaluate.maxQuestions });
      out.push(...rows);
    }
    return out;
  } finally { await close(); }
}

/** Calibration prompts shared by every trait and revision: the first trait's evaluation questions (upstream: evil's). */
function calibrationPrompts(j: SweepJob, model: ModelHandle) {
  const kind = modelKind(model);
  return j.traits[0].eval.data.questions.slice(0, 20).map((q) => evalPrompt(kind, q));
}

/** A sweep row for a checkpoint whose extraction kept too few pairs: no vector, so no steering. */
function nonExtractableRow(j: SweepJob, t: SweepTrait, revision: string, reason: string, filter: Record<string, unknown>): Record<string, CsvValue> {
  return {
    extract_revision: revision, trait: t.trait, vector_path: path.relative(j.ws.root, j.ws.vectorStatusPath(j.modelName, revision, t.trait)), vector_exists: false,
    vector_status: 'nonextractable', effective_rows: filter.pairs_kept as number, pos_trait_mean: filter.pos_trait_mean as number, neg_trait_mean: filter.neg_trait_mean as number,
    pos_coherence_mean: filter.pos_coherence_mean as number, neg_coherence_mean: filter.neg_coherence_mean as number,
    eval_revision: revision, mode: 'steer', layer: t.layer, coef: t.coef, scaling_mode: 'raw', status: `nonextractable: ${reason}`,
  };
}
