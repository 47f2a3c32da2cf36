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
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SteerScaling } from '../../engine/protocol.js';
import { modelKind, type JobBase, type ModelHandle, type ProgressSink } from '../backend.js';
import { measureActivationNorms, normsDir, normsFile, writeNormsCsv } from '../calibration.js';
import { evalPrompt } from '../prompts.js';
import { combinedRows, applyBonferroniWithinTrait, COMBINED_COLUMNS, SIGNIFICANCE_COLUMNS } from '../evaluation/report.js';
import { isScaled, scalingModeLabel } from '../evaluation/conditions.js';
import { writeTrajectoryCsvs } from '../geometry/csv.js';
import { loadRevisionVectors } from '../geometry/sources.js';
import { vectorTrajectory, type Trajectory } from '../geometry/trajectory.js';
import { runEvaluation, runExtraction, tableContext } from './pipeline.js';
import { writeCsv, type CsvValue } from '../storage/csv.js';
import { RunStore, writeFileAtomic } from '../storage/run.js';
import type { LoadedTrait } from '../traits/load.js';
import { PipelineError } from '../errors.js';
import { withRun } from './run.js';
import { checkTransferScaling, runTransfer, type TransferScaling } from './transfer.js';

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
  /** How the worker scales each steered row, at every checkpoint and in the transfer (--scaling; default raw). */
  scaling?: SteerScaling;
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

/**
 * One independent unit of a sweep: a (revision, trait) cell — extraction at that checkpoint and steering with the
 * result there. Cells share nothing but the checkpoint's files, so a cluster runs one per array task (../slurm/);
 * a revision-level unit would serialise a checkpoint's traits, which are the bulk of the work. The unit writes its
 * rows to `units/<revision>/<trait>.json` in the sweep's run folder; the merge reads them all.
 */
export interface SweepUnit { revision: string; trait: string }

/** Every unit of the sweep, revision-major in training order, traits in the given order (the table's row order). */
export const sweepUnits = (j: Pick<SweepJob, 'revisions' | 'traits'>): SweepUnit[] => j.revisions.flatMap((revision) => j.traits.map((t) => ({ revision, trait: t.trait })));

function sweepConfig(j: SweepJob): Record<string, unknown> {
  if (j.transfer) checkTransferScaling(j.transfer.scaling, j.scaling);
  return {
    stage: 'sweep', model: j.modelName, revisions: j.revisions, sampler: j.sampling, samplerPreset: j.samplerPreset, judge: j.judge.id,
    extract: j.extract, evaluate: j.evaluate, sameCheckpoint: j.sameCheckpoint !== false, transferScaling: j.transfer?.scaling ?? null,
    traits: j.traits.map((t) => ({ trait: t.trait, extractSha256: t.extract.sha256, evalSha256: t.eval.sha256, layer: t.layer, coef: t.coef })),
    // Only when not raw: raw sweeps keep their run ids.
    ...(isScaled(j.scaling) ? { scaling: j.scaling } : {}),
  };
}
const sweepLabel = (j: SweepJob) => `${j.modelName}-${j.traits.map((t) => t.trait).join('+')}`;
/** The sweep's run id (--run-id, else kind + label + config hash): the folder every unit and the merge share. */
export const sweepRunId = (j: SweepJob): string => j.runId ?? RunStore.defaultRunId('sweep', sweepLabel(j), sweepConfig(j));

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');
export const sweepUnitFile = (runDir: string, u: SweepUnit): string => path.join(runDir, 'units', safeName(u.revision), `${safeName(u.trait)}.json`);
// Unit rows keep non-finite numbers (a NaN mean must merge as NaN, as it would in memory).
const encode = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v);
const decode = (_k: string, v: unknown) => (v && typeof v === 'object' && '$num' in v ? Number((v as { $num: string }).$num) : v);
const readUnit = (file: string): Record<string, CsvValue>[] => (JSON.parse(readFileSync(file, 'utf8'), decode) as { rows: Record<string, CsvValue>[] }).rows;

/**
 * Runs the given units (default: all) that have no unit file yet, one checkpoint loaded at a time, and writes each
 * unit's file when it completes. Does not touch the sweep's manifest: array tasks run this concurrently.
 */
export async function runSweepUnits(j: SweepJob, units: SweepUnit[] = sweepUnits(j)): Promise<{ runDir: string; ran: SweepUnit[] }> {
  const runDir = j.ws.runDir(sweepRunId(j));
  const ran: SweepUnit[] = [];
  for (const [ri, revision] of j.revisions.entries()) {
    const todo = j.traits.filter((t) => units.some((u) => u.revision === revision && u.trait === t.trait) && !existsSync(sweepUnitFile(runDir, { revision, trait: t.trait })));
    if (todo.length === 0) continue;
    j.signal?.throwIfAborted();
    const { model, close } = await j.openModel(revision);
    try {
      for (const t of todo) {
        // Shared activation norms of this checkpoint (geometry reports ‖v‖/mean_l2 with them): the first trait's unit.
        if (t === j.traits[0]) writeNormsCsv(normsFile(j.ws, j.modelName, revision), await measureActivationNorms(model, calibrationPrompts(j, model), { batchSize: j.batchSize, signal: j.signal }));
        const rows = await sweepCell(j, t, model, `${revision} (${ri + 1}/${j.revisions.length}) ${t.trait}`);
        const file = sweepUnitFile(runDir, { revision, trait: t.trait });
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileAtomic(file, JSON.stringify({ revision, trait: t.trait, rows }, encode, 2) + '\n');
        ran.push({ revision, trait: t.trait });
      }
    } finally { await close(); }
  }
  return { runDir, ran };
}

/** One (revision, trait) cell: extraction, then steering at the same checkpoint; its combined rows (before Bonferroni). */
async function sweepCell(j: SweepJob, t: SweepTrait, model: ModelHandle, note: string): Promise<Record<string, CsvValue>[]> {
  const revision = model.revision;
  const base = { ws: j.ws, model, judge: j.judge, trait: t.trait, sampling: j.sampling, samplerPreset: j.samplerPreset, chunkSize: j.chunkSize, batchSize: j.batchSize, signal: j.signal,
    progress: j.progress && ((p: Parameters<ProgressSink>[0]) => j.progress!({ ...p, note: p.note ? `${note} ${p.note}` : note })) };
  const ex = await runExtraction({ ...base, traitFile: t.extract, samples: j.extract.samples, seed: j.extract.seed, threshold: j.extract.threshold, maxQuestions: j.extract.maxQuestions });
  if (ex.result.status !== 'ok') return [nonExtractableRow(j, t, revision, ex.result.reason, ex.result.filter as unknown as Record<string, unknown>)];
  if (j.sameCheckpoint === false) return [];
  const job = { ...base, evalTrait: t.eval, instructionTrait: t.extract, vectorPath: ex.result.vectorPath, samples: j.evaluate.samples, seed: j.evaluate.seed, maxQuestions: j.evaluate.maxQuestions };
  const ev = await runEvaluation({ ...job, layer: t.layer, coef: t.coef, scaling: j.scaling });
  const ctx = tableContext(job);
  return combinedRows({ ...ctx, vectorPath: path.relative(j.ws.root, ex.result.vectorPath) }, ev.results).map((r) => ({ ...r, output_path: `${path.relative(j.ws.root, ev.run.dir)}/${String(r.output_path)}`, baseline_path: `${path.relative(j.ws.root, ev.run.dir)}/${String(r.baseline_path)}` }));
}

/**
 * The sweep: every unit that is not done yet (`mergeOnly`: none — a cluster's merge job, after the array), then the
 * merge — the one code path that builds combined.csv / combined_significance.csv (Bonferroni across each trait's
 * tested checkpoints), the transfer tables and the geometry from the unit files. Idempotent: a rerun recomputes the
 * merge from the same files and runs nothing else.
 */
export async function runSweep(j: SweepJob, options: { mergeOnly?: boolean } = {}): Promise<SweepResult> {
  const { run, value } = await withRun({ ws: j.ws, kind: 'sweep', label: sweepLabel(j), config: sweepConfig(j), runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    if (!options.mergeOnly) await runSweepUnits(j);
    const missing = sweepUnits(j).filter((u) => !existsSync(sweepUnitFile(run.dir, u)));
    if (missing.length) {
      throw new PipelineError('units-missing', `sweep ${run.runId}: ${missing.length} of ${sweepUnits(j).length} units have not completed (${missing.map((u) => `${u.revision}/${u.trait}`).join(', ')}); ` +
        'run them (persona-lab jobs resume RUN on a cluster, or the sweep without --merge here) and merge again');
    }
    const rows = sweepUnits(j).flatMap((u) => readUnit(sweepUnitFile(run.dir, u)));
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
        samples: j.evaluate.samples, seed: j.evaluate.seed, maxQuestions: j.evaluate.maxQuestions, steerScaling: j.scaling });
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
    eval_revision: revision, mode: 'steer', layer: t.layer, coef: t.coef, scaling_mode: scalingModeLabel(j.scaling), status: `nonextractable: ${reason}`,
  };
}
