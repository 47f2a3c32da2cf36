/**
 * Run-level jobs: open (or resume) the run folder, record the configuration, run one stage, write
 * results.json and the CSVs, and close the manifest. The CLI commands and the extension call these; the
 * stages themselves (extraction/, evaluation/) know nothing about run folders beyond the RunStore.
 *
 * The configuration recorded (and hashed into the default run id) is everything that changes the results:
 * model name/revision/commit, trait-file hash, sampler, seeds, sample counts, judge id, grid, vector hash.
 * It contains no absolute paths, so the same job in another workspace hashes the same.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { JobBase } from '../backend.js';
import { runControls, SHUFFLE_DESIGN, type ControlMode, type ControlProjection, type ControlsResult } from '../evaluation/controls.js';
import { baselineCondition, isScaled, promptCondition, steerCondition, type Condition } from '../evaluation/conditions.js';
import { evaluateConditions, type ConditionResult } from '../evaluation/evaluate.js';
import { runGrid, type GridResult } from '../evaluation/grid.js';
import { writeCombined, writeControlsCombined } from '../evaluation/report.js';
import { extract, type ExtractResult } from '../extraction/extract.js';
import { PipelineError } from '../errors.js';
import type { RunStore } from '../storage/run.js';
import type { LoadedTrait } from '../traits/load.js';
import type { SteerScaling } from '../../engine/protocol.js';
import { assertVectorFits, checkRowUsable, readVectorFile, vectorRow, type VectorKind } from '../vectors/file.js';
import { jobLabel, modelConfig, sha256File, withRun, type RunEnd } from './run.js';

export type { JobBase };

// ---------------------------------------------------------------- extraction
export interface ExtractJob extends JobBase { traitFile: LoadedTrait; threshold?: number; minPairs?: number; negName?: string }
export interface ExtractJobResult { run: RunStore; result: ExtractResult }

export function extractConfig(j: ExtractJob): Record<string, unknown> {
  return { stage: 'extract', model: modelConfig(j.model), trait: j.trait, traitSha256: j.traitFile.sha256, sampler: j.sampling, samplerPreset: j.samplerPreset,
    seed: j.seed, samples: j.samples, maxQuestions: j.maxQuestions ?? null, threshold: j.threshold ?? 50, minPairs: j.minPairs ?? 1, negName: j.negName ?? 'helpful', judge: j.judge.id };
}

export async function runExtraction(j: ExtractJob): Promise<ExtractJobResult> {
  const vectorPath = j.ws.vectorPath(j.model.name, j.model.revision, j.trait);
  const statusPath = j.ws.vectorStatusPath(j.model.name, j.model.revision, j.trait);
  const { run, value: result } = await withRun({ ws: j.ws, kind: 'extract', label: jobLabel(j), config: extractConfig(j), runId: j.runId, judge: j.judge, signal: j.signal }, async (run): Promise<RunEnd<ExtractResult>> => {
    const result = await extract({ ...j, run, vectorPath, statusPath });
    if (result.status === 'ok') {
      return { value: result, outputs: { vector: vectorPath }, results: { ...result, vectorPath: path.relative(j.ws.root, result.vectorPath), statusPath: undefined } };
    }
    return { value: result, status: 'not-extractable', outputs: { status: statusPath }, message: result.reason,
      results: { ...result, vectorPath: undefined, statusPath: path.relative(j.ws.root, result.statusPath) } };
  });
  return { run, result };
}

// ---------------------------------------------------------------- evaluation jobs
export interface VectorJob extends JobBase {
  evalTrait: LoadedTrait; instructionTrait?: LoadedTrait; vectorPath: string; kind?: VectorKind;
  /** Read this tensor of the vector file as `kind` (--vector-key: files from other projects). */
  vectorKey?: string;
  /** How the worker scales each steered row (--scaling; default raw). */
  scaling?: SteerScaling;
}

/** The vector as the job reads it: its tensor (--vector-key) as the job's kind. */
const readJobVector = (j: VectorJob) => readVectorFile(j.vectorPath, { key: j.vectorKey, kind: j.kind ?? 'response_avg' });

/**
 * The vector's part of a run config, after the checks that need no model work: the file exists, is finite (read), fits
 * the model, has every row (and the kind) the job steers with, and each is usable for its scaling (unit / target-norm divide by ‖row‖, so an
 * all-zero row is refused). Runs before withRun, so a refusal leaves no run folder. Scaling and key are recorded only
 * when given (not raw, a key), so the run ids of raw runs on the file's own tensors stay what they were.
 */
function vectorConfig(j: VectorJob, layers: readonly number[]) {
  if (!existsSync(j.vectorPath)) throw new PipelineError('vector-missing', `no vector file at ${j.vectorPath}; run \`persona-lab extract --trait ${j.trait}\` first`);
  const vec = readJobVector(j);
  assertVectorFits(vec, j.vectorPath, { name: j.model.name, ...j.model.info.config });
  const kind = j.kind ?? 'response_avg';
  if (j.scaling?.mode === 'target-norm' && !(j.scaling.norm > 0)) throw new PipelineError('vector-invalid', `target-norm scaling needs a norm > 0 (got ${j.scaling.norm}); pass --target-norm N`);
  for (const layer of layers) {
    const row = vectorRow(vec, kind, layer); // a layer outside 0..L, or a kind the file lacks, is refused here
    if (isScaled(j.scaling)) checkRowUsable(row, j.scaling.mode, j.vectorPath, layer);
  }
  return { model: modelConfig(j.model), trait: j.trait, evalSha256: j.evalTrait.sha256, vectorSha256: sha256File(j.vectorPath), kind,
    ...(j.vectorKey !== undefined ? { vectorKey: j.vectorKey } : {}), ...(isScaled(j.scaling) ? { scaling: j.scaling } : {}),
    sampler: j.sampling, samplerPreset: j.samplerPreset, seed: j.seed, samples: j.samples, maxQuestions: j.maxQuestions ?? null, judge: j.judge.id };
}

function evalOptions(j: VectorJob, run: RunStore) {
  return { ...j, run, evalTrait: j.evalTrait.data, instruction: j.instructionTrait?.data.instruction ?? j.evalTrait.data.instruction };
}

/** The combined.csv context of a vector job: its trait, revisions, vector and the extraction's filter statistics. */
export function tableContext(j: VectorJob) {
  const meta = readJobVector(j).metadata;
  let filter: Record<string, unknown> | undefined;
  try { filter = JSON.parse(meta.filter_stats ?? 'null') ?? undefined; } catch { filter = undefined; }
  return { trait: j.trait, extractRevision: meta.revision ?? j.model.revision, evalRevision: j.model.revision, vectorPath: path.relative(j.ws.root, j.vectorPath), vectorExists: true, filter };
}

export interface EvaluateJob extends VectorJob { layer: number; coef: number; promptBaseline?: boolean }
/** The evaluate run's configuration (hashed into its run id), after the vector checks. */
export function evaluationConfig(j: EvaluateJob): Record<string, unknown> {
  return { stage: 'evaluate', ...vectorConfig(j, [j.layer]), layer: j.layer, coef: j.coef, promptBaseline: !!j.promptBaseline };
}
export async function runEvaluation(j: EvaluateJob): Promise<{ run: RunStore; results: ConditionResult[] }> {
  const config = evaluationConfig(j);
  const { run, value: results } = await withRun({ ws: j.ws, kind: 'evaluate', label: jobLabel(j), config, runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    const vec = readJobVector(j);
    const conds: Condition[] = [baselineCondition(), ...(j.promptBaseline ? [promptCondition()] : []),
      steerCondition('steer', vectorRow(vec, j.kind ?? 'response_avg', j.layer), j.layer, j.coef, { scaling: j.scaling })];
    const results = await evaluateConditions(conds, evalOptions(j, run));
    writeCombined((n) => run.path(n), tableContext(j), results);
    return { value: results, results: { conditions: results }, outputs: { combined: run.path('combined.csv') } };
  });
  return { run, results };
}

export interface GridJob extends VectorJob { layers: number[]; coefs: number[]; refineStep?: number; promptBaseline?: boolean; minCoherence?: number }
export async function runGridJob(j: GridJob): Promise<{ run: RunStore; grid: GridResult }> {
  const config = { stage: 'grid', ...vectorConfig(j, j.layers), layers: j.layers, coefs: j.coefs, refineStep: j.refineStep ?? null, extendRounds: j.refineStep ? 2 : 0, promptBaseline: j.promptBaseline !== false, minCoherence: j.minCoherence ?? 50 };
  const { run, value: grid } = await withRun({ ws: j.ws, kind: 'grid', label: jobLabel(j), config, runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    const grid = await runGrid({ ...evalOptions(j, run), vectorPath: j.vectorPath, kind: j.kind, vectorKey: j.vectorKey, scaling: j.scaling, layers: j.layers, coefs: j.coefs,
      refine: j.refineStep ? { step: j.refineStep } : undefined, promptBaseline: j.promptBaseline, minCoherence: j.minCoherence });
    writeCombined((n) => run.path(n), tableContext(j), grid.results);
    return { value: grid, results: { best: grid.best, baseline: grid.baseline, prompt: grid.prompt, refined: grid.refined, conditions: grid.results },
      outputs: { combined: run.path('combined.csv') } };
  });
  return { run, grid };
}

export interface ControlsJob extends VectorJob { layer: number; coef: number; seeds: number[]; modes: ControlMode[]; projection?: ControlProjection }
export async function runControlsJob(j: ControlsJob): Promise<{ run: RunStore; controls: ControlsResult }> {
  const config = { stage: 'controls', ...vectorConfig(j, [j.layer]), layer: j.layer, coef: j.coef, seeds: j.seeds, modes: j.modes, shuffle: SHUFFLE_DESIGN,
    projection: j.projection ?? 'orthogonal' };
  const { run, value: controls } = await withRun({ ws: j.ws, kind: 'controls', label: jobLabel(j), config, runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    const meta = readJobVector(j).metadata;
    const pairDiffsPath = meta.extraction_run ? path.join(j.ws.runDir(meta.extraction_run), 'pair_diffs.safetensors') : undefined;
    if (j.modes.includes('shuffled') && (!pairDiffsPath || !existsSync(pairDiffsPath))) {
      throw new PipelineError('vector-missing', `the shuffle control needs the per-pair differences of extraction run ${meta.extraction_run ?? '(unknown)'} ` +
        `(${pairDiffsPath ?? 'no extraction_run in the vector metadata'}); re-run extraction in this workspace`);
    }
    const controls = await runControls({ ...evalOptions(j, run), vectorPath: j.vectorPath, kind: j.kind, vectorKey: j.vectorKey, scaling: j.scaling, pairDiffsPath, layer: j.layer, coef: j.coef, seeds: j.seeds, modes: j.modes, projection: j.projection });
    writeControlsCombined(run.path('combined.csv'), tableContext(j), controls.results);
    return { value: controls, results: { summary: controls.summary, projection: controls.projection, controls: controls.controls, conditions: controls.results },
      outputs: { combined: run.path('combined.csv') } };
  });
  return { run, controls };
}
