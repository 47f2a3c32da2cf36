/**
 * One run lifecycle for every job: open (or resume) the run folder under an id derived from the configuration hash,
 * run the job, write results.json with the run's own judge usage (summed over restarts), and close the manifest as
 * done / not-extractable, or failed / cancelled with the message. Orchestrators (./pipeline.ts, ./monitor.ts,
 * ./screen.ts, ./sweep.ts, ./transfer.ts) only build their configuration and compute.
 *
 * The configuration is everything that changes the results and no absolute paths (src/core/storage/README.md); the
 * model part comes from `modelConfig` so every run records the same identity: name, revision, commit, engine
 * (COMPILER_VERSION), kind (chat/base), layers and hidden size.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { modelKind, type ModelHandle } from '../backend.js';
import type { Judge, JudgeUsage } from '../judge/types.js';
import { PipelineError } from '../errors.js';
import { diskFullError } from '../storage/jsonl.js';
import { acquireLock, describeHolder } from '../storage/lock.js';
import { RunStore, type RunKind, type RunManifest } from '../storage/run.js';
import type { Workspace } from '../storage/workspace.js';

// The compiler version is part of every run's identity: a graph change (e.g. where steering row L is added)
// changes generations, so a run folder from an older engine must not be resumed as if it were the same run.
export function modelConfig(m: ModelHandle) {
  return { name: m.name, revision: m.revision, commit: m.commit ?? null, engine: m.info.compiler, kind: modelKind(m), layers: m.info.config.numLayers, hidden: m.info.config.hiddenSize };
}

/** The default run id's label for a one-model, one-trait job: model-revision-trait. */
export const jobLabel = (j: { model: ModelHandle; trait: string }): string => `${j.model.name}-${j.model.revision}-${j.trait}`;

export const sha256File = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

const ZERO: JudgeUsage = { requests: 0, cached: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };
/** Fault counts by reason, summed like the rest (over restarts; minus what the judge had counted before this run). */
function addFaults(a: Record<string, number> = {}, b: Record<string, number> = {}, sign: number): Record<string, number> | undefined {
  const out: Record<string, number> = { ...a };
  for (const [k, n] of Object.entries(b)) out[k] = (out[k] ?? 0) + sign * n;
  for (const k of Object.keys(out)) if (out[k] === 0) delete out[k];
  return Object.keys(out).length ? out : undefined;
}
const addUsage = (a: JudgeUsage, b: JudgeUsage, sign = 1): JudgeUsage => {
  const faults = addFaults(a.faults, b.faults, sign);
  return { requests: a.requests + sign * b.requests, cached: a.cached + sign * b.cached,
    promptTokens: a.promptTokens + sign * b.promptTokens, completionTokens: a.completionTokens + sign * b.completionTokens, costUsd: a.costUsd + sign * b.costUsd,
    ...(faults ? { faults } : {}) };
};

export interface RunSpec {
  ws: Workspace;
  kind: RunKind;
  /** What follows the kind in the default run id, e.g. "toy-persona-main-evil". */
  label: string;
  config: Record<string, unknown>;
  runId?: string;
  /** Whose usage the run records (one judge instance may serve several runs in a session). */
  judge?: Judge;
  signal?: AbortSignal;
}

/** What a job hands back to close its run. */
export interface RunEnd<T> {
  value: T;
  /** results.json (judgeUsage is added). */
  results: Record<string, unknown>;
  outputs: Record<string, string>;
  status?: Extract<RunManifest['status'], 'done' | 'not-extractable'>;
  message?: string;
}

/** A run lock not refreshed for this long is stale (its holder hangs, or died on another host); the holder refreshes it every RUN_LOCK_HEARTBEAT_MS. */
export const RUN_LOCK_STALE_MS = 5 * 60_000;
const RUN_LOCK_HEARTBEAT_MS = 30_000;

/**
 * One process per run: `<run>/run.lock` names its holder (pid, host, start time) and is held for the whole job. A second
 * process on the same run (CLI + CLI, CLI + editor) is refused at once with the holder named, before the run is touched.
 * A lock left by a dead process is taken over: on this host at once (its pid is gone), from another host once its
 * heartbeat is older than RUN_LOCK_STALE_MS.
 */
function lockRun(ws: Workspace, runId: string): () => void {
  const dir = ws.runDir(runId);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'run.lock');
  let release: () => void;
  try { release = acquireLock(file, { timeoutMs: 0, staleMs: RUN_LOCK_STALE_MS }); } catch (e) {
    if (!PipelineError.is(e, 'locked')) throw e;
    throw new PipelineError('locked', `run ${runId} is in use by ${describeHolder(file)} (another persona-lab process: a CLI, the editor or a cluster task). ` +
      'Wait for it to finish or stop it, then rerun the same command: it resumes. A lock whose process died is taken over by itself ' +
      `(on this host at once, from another host after ${RUN_LOCK_STALE_MS / 60_000} minutes); ${file} names the holder.`);
  }
  const beat = setInterval(() => { try { const now = new Date(); utimesSync(file, now, now); } catch { /* gone: released or taken over */ } }, RUN_LOCK_HEARTBEAT_MS);
  beat.unref();
  return () => { clearInterval(beat); release(); };
}

export async function withRun<T>(spec: RunSpec, job: (run: RunStore, usage: () => JudgeUsage) => Promise<RunEnd<T>>): Promise<{ run: RunStore; value: T }> {
  const runId = spec.runId ?? RunStore.defaultRunId(spec.kind, spec.label, spec.config);
  const unlock = lockRun(spec.ws, runId);
  try { return await withLockedRun(spec, runId, job); } finally { unlock(); }
}

async function withLockedRun<T>(spec: RunSpec, runId: string, job: (run: RunStore, usage: () => JudgeUsage) => Promise<RunEnd<T>>): Promise<{ run: RunStore; value: T }> {
  const run = RunStore.open(spec.ws, spec.kind, spec.config, runId);
  const start = spec.judge?.usage() ?? ZERO;
  const prior = run.manifest.judgeUsage ?? ZERO;
  const usage = () => addUsage(prior, addUsage(spec.judge?.usage() ?? ZERO, start, -1));
  const judgeUsage = () => (spec.judge ? { judgeUsage: usage() } : {});
  try {
    const end = await job(run, usage);
    run.writeJson('results.json', { ...end.results, ...judgeUsage() });
    run.updateManifest({ status: end.status ?? 'done', outputs: end.outputs, message: end.message, ...judgeUsage() });
    return { run, value: end.value };
  } catch (err) {
    // A full disk anywhere in the job (logs, CSVs, vectors) is one clear error; recording it may fail for the same
    // reason, and must not hide it.
    const e = diskFullError(err) ?? err;
    try {
      run.updateManifest({ status: spec.signal?.aborted ? 'cancelled' : 'failed', message: (e as Error).message, ...judgeUsage() });
    } catch (m) { if (!diskFullError(m)) throw m; }
    throw e;
  }
}
