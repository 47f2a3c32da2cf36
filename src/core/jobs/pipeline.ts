/**
 * Run-level jobs: open (or resume) the run folder, record the configuration, run one stage, write
 * results.json and the CSVs, and close the manifest. The CLI commands and the extension call these; the
 * stages themselves (extraction/, evaluation/) know nothing about run folders beyond the RunStore.
 *
 * The configuration recorded (and hashed into the default run id) is everything that changes the results:
 * model name/revision/commit, trait-file hash, sampler, seeds, sample counts, judge id, grid, vector hash.
 * It contains no absolute paths, so the same job in another workspace hashes the same.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SamplingParams } from '../engine/protocol.js';
import type { ModelHandle, ProgressSink } from './backend.js';
import { modelKind } from './backend.js';
import { runControls, SHUFFLE_DESIGN, type ControlMode, type ControlProjection, type ControlsResult } from './evaluation/controls.js';
import { baselineCondition, promptCondition, steerCondition, type Condition } from './evaluation/conditions.js';
import { evaluateConditions, type ConditionResult } from './evaluation/evaluate.js';
import { runGrid, type GridResult } from './evaluation/grid.js';
import { writeCombined, writeControlsCombined } from './evaluation/report.js';
import { extract, type ExtractResult } from './extraction/extract.js';
import { PipelineError } from './errors.js';
import type { Judge, JudgeUsage } from './judge/types.js';
import { RunStore } from './storage/run.js';
import type { Workspace } from './storage/workspace.js';
import type { LoadedTrait } from './traits/load.js';
import { assertVectorFits, readVectorFile, vectorRow, type VectorKind } from './vectors/file.js';

export interface JobBase {
  ws: Workspace;
  model: ModelHandle;
  judge: Judge;
  trait: string;
  sampling: SamplingParams;
  samplerPreset?: string;
  seed: number;
  samples: number;
  maxQuestions?: number;
  runId?: string;
  chunkSize?: number;
  batchSize?: number;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

const sha256File = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

// The compiler version is part of every run's identity: a graph change (e.g. where steering row L is added)
// changes generations, so a run folder from an older engine must not be resumed as if it were the same run.
function modelConfig(m: ModelHandle) {
  return { name: m.name, revision: m.revision, commit: m.commit ?? null, engine: m.info.compiler, kind: modelKind(m), layers: m.info.config.numLayers, hidden: m.info.config.hiddenSize };
}

/** Judge usage since `start` (one judge instance may serve several runs in a session). */
function usageSince(judge: Judge, start: JudgeUsage): JudgeUsage {
  const u = judge.usage();
  return { requests: u.requests - start.requests, cached: u.cached - start.cached, promptTokens: u.promptTokens - start.promptTokens,
    completionTokens: u.completionTokens - start.completionTokens, costUsd: u.costUsd - start.costUsd };
}

/** Runs a stage, recording the run's own judge usage (summed over restarts) and its final status in the manifest. */
async function guarded<T>(run: RunStore, judge: Judge, f: (usage: () => JudgeUsage) => Promise<T>): Promise<T> {
  const start = judge.usage();
  const prior = run.manifest.judgeUsage;
  const usage = () => {
    const u = usageSince(judge, start);
    if (!prior) return u;
    return { requests: u.requests + prior.requests, cached: u.cached + prior.cached, promptTokens: u.promptTokens + prior.promptTokens,
      completionTokens: u.completionTokens + prior.completionTokens, costUsd: u.costUsd + prior.costUsd };
  };
  try {
    const r = await f(usage);
    run.updateManifest({ judgeUsage: usage() });
    return r;
  } catch (e) {
    run.updateManifest({ status: 'failed', judgeUsage: usage(), message: (e as Error).message });
    throw e;
  }
}

function finish(run: RunStore, status: 'done' | 'not-extractable', outputs: Record<string, string>, message?: string): void {
  run.updateManifest({ status, outputs, message });
}

// ---------------------------------------------------------------- extraction
export interface ExtractJob extends JobBase { traitFile: LoadedTrait; threshold?: number; minPairs?: number; negName?: string }
export interface ExtractJobResult { run: RunStore; result: ExtractResult }

export function extractConfig(j: ExtractJob): Record<string, unknown> {
  return { stage: 'extract', model: modelConfig(j.model), trait: j.trait, traitSha256: j.traitFile.sha256, sampler: j.sampling, samplerPreset: j.samplerPreset,
    seed: j.seed, samples: j.samples, maxQuestions: j.maxQuestions ?? null, threshold: j.threshold ?? 50, minPairs: j.minPairs ?? 1, negName: j.negName ?? 'helpful', judge: j.judge.id };
}

export async function runExtraction(j: ExtractJob): Promise<ExtractJobResult> {
  const config = extractConfig(j);
  const runId = j.runId ?? RunStore.defaultRunId('extract', `${j.model.name}-${j.model.revision}-${j.trait}`, config);
  const run = RunStore.open(j.ws, 'extract', config, runId);
  const vectorPath = j.ws.vectorPath(j.model.name, j.model.revision, j.trait);
  const statusPath = j.ws.vectorStatusPath(j.model.name, j.model.revision, j.trait);
  return guarded(run, j.judge, async (usage) => {
    const result = await extract({ ...j, run, vectorPath, statusPath });
    run.writeJson('results.json', { ...result, vectorPath: result.status === 'ok' ? path.relative(j.ws.root, result.vectorPath) : undefined,
      statusPath: result.status === 'not-extractable' ? path.relative(j.ws.root, result.statusPath) : undefined, judgeUsage: usage() });
    finish(run, result.status === 'ok' ? 'done' : 'not-extractable',
      result.status === 'ok' ? { vector: vectorPath } : { status: statusPath }, result.status === 'ok' ? undefined : result.reason);
    return { run, result };
  });
}

// ---------------------------------------------------------------- evaluation jobs
export interface VectorJob extends JobBase { evalTrait: LoadedTrait; instructionTrait?: LoadedTrait; vectorPath: string; kind?: VectorKind }

function vectorConfig(j: VectorJob) {
  if (!existsSync(j.vectorPath)) throw new PipelineError('vector-missing', `no vector file at ${j.vectorPath}; run \`persona-lab extract --trait ${j.trait}\` first`);
  assertVectorFits(readVectorFile(j.vectorPath), j.vectorPath, { name: j.model.name, ...j.model.info.config });
  return { model: modelConfig(j.model), trait: j.trait, evalSha256: j.evalTrait.sha256, vectorSha256: sha256File(j.vectorPath), kind: j.kind ?? 'response_avg',
    sampler: j.sampling, samplerPreset: j.samplerPreset, seed: j.seed, samples: j.samples, maxQuestions: j.maxQuestions ?? null, judge: j.judge.id };
}

function evalOptions(j: VectorJob, run: RunStore) {
  return { ...j, run, evalTrait: j.evalTrait.data, instruction: j.instructionTrait?.data.instruction ?? j.evalTrait.data.instruction };
}

/** The combined.csv context of a vector job: its trait, revisions, vector and the extraction's filter statistics. */
export function tableContext(j: VectorJob) {
  const meta = readVectorFile(j.vectorPath).metadata;
  let filter: Record<string, unknown> | undefined;
  try { filter = JSON.parse(meta.filter_stats ?? 'null') ?? undefined; } catch { filter = undefined; }
  return { trait: j.trait, extractRevision: meta.revision ?? j.model.revision, evalRevision: j.model.revision, vectorPath: path.relative(j.ws.root, j.vectorPath), vectorExists: true, filter };
}

export interface EvaluateJob extends VectorJob { layer: number; coef: number; promptBaseline?: boolean }
export async function runEvaluation(j: EvaluateJob): Promise<{ run: RunStore; results: ConditionResult[] }> {
  const config = { stage: 'evaluate', ...vectorConfig(j), layer: j.layer, coef: j.coef, promptBaseline: !!j.promptBaseline };
  const run = RunStore.open(j.ws, 'evaluate', config, j.runId ?? RunStore.defaultRunId('evaluate', `${j.model.name}-${j.model.revision}-${j.trait}`, config));
  return guarded(run, j.judge, async (usage) => {
    const vec = readVectorFile(j.vectorPath);
    const conds: Condition[] = [baselineCondition(), ...(j.promptBaseline ? [promptCondition()] : []), steerCondition('steer', vectorRow(vec, j.kind ?? 'response_avg', j.layer), j.layer, j.coef)];
    const results = await evaluateConditions(conds, evalOptions(j, run));
    writeCombined((n) => run.path(n), tableContext(j), results);
    run.writeJson('results.json', { conditions: results, judgeUsage: usage() });
    finish(run, 'done', { combined: run.path('combined.csv') });
    return { run, results };
  });
}

export interface GridJob extends VectorJob { layers: number[]; coefs: number[]; refineStep?: number; promptBaseline?: boolean; minCoherence?: number }
export async function runGridJob(j: GridJob): Promise<{ run: RunStore; grid: GridResult }> {
  const config = { stage: 'grid', ...vectorConfig(j), layers: j.layers, coefs: j.coefs, refineStep: j.refineStep ?? null, extendRounds: j.refineStep ? 2 : 0, promptBaseline: j.promptBaseline !== false, minCoherence: j.minCoherence ?? 50 };
  const run = RunStore.open(j.ws, 'grid', config, j.runId ?? RunStore.defaultRunId('grid', `${j.model.name}-${j.model.revision}-${j.trait}`, config));
  return guarded(run, j.judge, async (usage) => {
    const grid = await runGrid({ ...evalOptions(j, run), vectorPath: j.vectorPath, kind: j.kind, layers: j.layers, coefs: j.coefs,
      refine: j.refineStep ? { step: j.refineStep } : undefined, promptBaseline: j.promptBaseline, minCoherence: j.minCoherence });
    writeCombined((n) => run.path(n), tableContext(j), grid.results);
    run.writeJson('results.json', { best: grid.best, baseline: grid.baseline, prompt: grid.prompt, refined: grid.refined, conditions: grid.results, judgeUsage: usage() });
    finish(run, 'done', { combined: run.path('combined.csv') });
    return { run, grid };
  });
}

export interface ControlsJob extends VectorJob { layer: number; coef: number; seeds: number[]; modes: ControlMode[]; projection?: ControlProjection }
export async function runControlsJob(j: ControlsJob): Promise<{ run: RunStore; controls: ControlsResult }> {
  const config = { stage: 'controls', ...vectorConfig(j), layer: j.layer, coef: j.coef, seeds: j.seeds, modes: j.modes, shuffle: SHUFFLE_DESIGN,
    projection: j.projection ?? 'orthogonal' };
  const run = RunStore.open(j.ws, 'controls', config, j.runId ?? RunStore.defaultRunId('controls', `${j.model.name}-${j.model.revision}-${j.trait}`, config));
  return guarded(run, j.judge, async (usage) => {
    const meta = readVectorFile(j.vectorPath).metadata;
    const pairDiffsPath = meta.extraction_run ? path.join(j.ws.runDir(meta.extraction_run), 'pair_diffs.safetensors') : undefined;
    if (j.modes.includes('shuffled') && (!pairDiffsPath || !existsSync(pairDiffsPath))) {
      throw new PipelineError('vector-missing', `the shuffle control needs the per-pair differences of extraction run ${meta.extraction_run ?? '(unknown)'} ` +
        `(${pairDiffsPath ?? 'no extraction_run in the vector metadata'}); re-run extraction in this workspace`);
    }
    const controls = await runControls({ ...evalOptions(j, run), vectorPath: j.vectorPath, kind: j.kind, pairDiffsPath, layer: j.layer, coef: j.coef, seeds: j.seeds, modes: j.modes, projection: j.projection });
    writeControlsCombined(run.path('combined.csv'), tableContext(j), controls.results);
    run.writeJson('results.json', { summary: controls.summary, projection: controls.projection, controls: controls.controls,
      conditions: controls.results, judgeUsage: usage() });
    finish(run, 'done', { combined: run.path('combined.csv') });
    return { run, controls };
  });
}
