/**
 * A run folder: the manifest (everything needed to reproduce the run), and two append-only logs —
 * every generation and every judgement is appended (and fsync'd per batch) as soon as it exists.
 *
 * Resumability: run ids are derived from the run's configuration by default, so running the same command
 * again opens the same folder; records are keyed deterministically (row key, metric), and the pipeline
 * stages only compute what is missing. A run killed with kill -9 therefore resumes without regenerating or
 * re-judging anything that reached disk.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { FinishReason, PromptInput } from '../../engine/protocol.js';
import { PipelineError } from '../errors.js';
import type { JudgeMetric, JudgeUsage } from '../judge/types.js';
import { JsonlLog } from './jsonl.js';
import { withLock } from './lock.js';
import type { Workspace } from './workspace.js';

export type RunKind = 'extract' | 'evaluate' | 'grid' | 'controls' | 'generate' | 'sweep' | 'transfer' | 'monitor' | 'screen' | 'slurm' | 'discourse' | 'facets' | 'shift';

export interface GenerationRecord {
  /** Deterministic row key, e.g. "evil_3_pos_1#0" (extraction) or "L2_c3|evil_3#1" (evaluation). */
  key: string;
  prompt: PromptInput;
  /** The prompt as rendered by the worker (chat template applied): upstream's `prompt` CSV column. */
  promptText: string;
  question: string;
  seed: number;
  answer: string;
  finishReason: FinishReason;
  tokens: number;
}

/** `probs`: the LLM judge's first-token distribution behind the score (token → probability; absent for the rubric judge). */
export interface JudgementRecord { key: string; metric: JudgeMetric; score: number | null; probs?: Record<string, number> }

export interface RunManifest {
  format: 'persona-lab-run/1';
  runId: string;
  kind: RunKind;
  configHash: string;
  /** Resolved configuration: model, revision, trait file + hash, sampler, seeds, judge, grid … */
  config: Record<string, unknown>;
  /** `cancelled`: stopped by its caller (Ctrl-C, Cancel); rerunning resumes it like a failed run. */
  status: 'running' | 'done' | 'failed' | 'cancelled' | 'not-extractable';
  createdAt: string;
  updatedAt: string;
  /** How many times the run was (re)started. */
  starts: number;
  environment: { node: string; platform: string; arch: string };
  judgeUsage?: JudgeUsage;
  outputs?: Record<string, string>;
  message?: string;
}

/** Stable JSON (sorted keys) for hashing configurations. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

export function configHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Writes a whole file or nothing: a temporary name unique across hosts and processes (a shared workspace may be
 * written by tasks on several nodes), fsync'd, then renamed over the target — readers see the old or the new file.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${hostname()}-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try { writeFileSync(fd, data); fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true }); // a full disk leaves no half-written temporary behind; the old file stays whole
    throw e;
  }
}

export class RunStore {
  readonly generations = new Map<string, GenerationRecord>();
  readonly judgements = new Map<string, JudgementRecord>();
  private readonly genLog: JsonlLog<GenerationRecord>;
  private readonly judgeLog: JsonlLog<JudgementRecord>;

  private constructor(readonly dir: string, public manifest: RunManifest) {
    this.genLog = JsonlLog.open<GenerationRecord>(path.join(dir, 'generations.jsonl'));
    this.judgeLog = JsonlLog.open<JudgementRecord>(path.join(dir, 'judgements.jsonl'));
    for (const g of this.genLog.records) this.generations.set(g.key, g);
    for (const j of this.judgeLog.records) this.judgements.set(RunStore.judgementKey(j.key, j.metric), j);
  }

  static judgementKey(key: string, metric: JudgeMetric): string { return `${metric}|${key}`; }

  /** Default run id: kind + label + the first 12 hex digits of the configuration hash. */
  static defaultRunId(kind: RunKind, label: string, config: Record<string, unknown>): string {
    return `${kind}-${label.replace(/[^A-Za-z0-9._-]+/g, '_')}-${configHash(config).slice(0, 12)}`;
  }

  /** Creates the run, or reopens it for resuming when the configuration matches. */
  static open(ws: Workspace, kind: RunKind, config: Record<string, unknown>, runId: string): RunStore {
    const dir = ws.runDir(runId);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'manifest.json');
    const hash = configHash(config);
    // Read-modify-write of the manifest under its lock: concurrent tasks (Slurm) that reopen a run never lose a start.
    const manifest = withLock(`${file}.lock`, () => RunStore.openManifest(file, dir, kind, config, runId, hash));
    return new RunStore(dir, manifest);
  }

  private static openManifest(file: string, dir: string, kind: RunKind, config: Record<string, unknown>, runId: string, hash: string): RunManifest {
    const now = new Date().toISOString();
    let manifest: RunManifest;
    if (existsSync(file)) {
      const old = JSON.parse(readFileSync(file, 'utf8')) as RunManifest;
      if (old.configHash !== hash) {
        throw new PipelineError('run-mismatch', `run ${runId} exists in ${dir} with a different configuration; ` +
          'choose another --run-id, or delete the folder to start over');
      }
      manifest = { ...old, status: 'running', updatedAt: now, starts: (old.starts ?? 1) + 1 };
    } else {
      manifest = { format: 'persona-lab-run/1', runId, kind, configHash: hash, config, status: 'running', createdAt: now, updatedAt: now, starts: 1,
        environment: { node: process.version, platform: process.platform, arch: process.arch } };
    }
    writeJsonAtomic(file, manifest);
    return manifest;
  }

  get runId(): string { return this.manifest.runId; }

  appendGenerations(recs: GenerationRecord[]): void {
    const fresh = recs.filter((r) => !this.generations.has(r.key));
    this.genLog.append(fresh);
    for (const r of fresh) this.generations.set(r.key, r);
  }

  appendJudgements(recs: JudgementRecord[]): void {
    const fresh = recs.filter((r) => !this.judgements.has(RunStore.judgementKey(r.key, r.metric)));
    this.judgeLog.append(fresh);
    for (const r of fresh) this.judgements.set(RunStore.judgementKey(r.key, r.metric), r);
  }

  score(key: string, metric: JudgeMetric): number | null | undefined {
    return this.judgements.get(RunStore.judgementKey(key, metric))?.score;
  }

  path(name: string): string { return path.join(this.dir, name); }

  writeJson(name: string, value: unknown): void { writeJsonAtomic(this.path(name), value); }

  updateManifest(patch: Partial<RunManifest>): void {
    this.manifest = { ...this.manifest, ...patch, updatedAt: new Date().toISOString() };
    writeJsonAtomic(this.path('manifest.json'), this.manifest);
  }
}
