/**
 * What the pipeline needs from an inference engine: the worker's generate and capture requests
 * (src/engine/protocol.ts). `InferenceClient` (src/engine/client.ts) satisfies this structurally; the core
 * depends only on the protocol types, so the CLI, the extension and tests can hand in any client.
 */
import type { CaptureParams, CaptureResult, GenerateParams, GenerateResult, ModelInfo, SamplingParams } from '../engine/protocol.js';
import type { Judge } from './judge/types.js';
import type { RunStore } from './storage/run.js';
import type { Workspace } from './storage/workspace.js';
import type { ModelKind } from './prompts.js';

export interface InferenceBackend {
  generate(params: GenerateParams, opts?: { signal?: AbortSignal }): Promise<GenerateResult>;
  capture(params: CaptureParams, opts?: { signal?: AbortSignal }): Promise<CaptureResult>;
}

export interface ModelHandle {
  backend: InferenceBackend;
  info: ModelInfo;
  /** Short model name for folders and CSVs (e.g. "toy-persona", "Qwen--Qwen2.5-7B-Instruct"). */
  name: string;
  revision: string;
  /** Commit hash when known (HF cache refs), else undefined. */
  commit?: string;
}

/** Chat models get system+user messages; base models raw text (upstream picks by chat-template presence). */
export function modelKind(m: ModelHandle): ModelKind {
  return m.info.hasChatTemplate ? 'chat' : 'base';
}

export interface Progress { stage: string; done: number; total: number; note?: string }
export type ProgressSink = (p: Progress) => void;

/**
 * What every job takes, besides its own inputs — one type for the orchestrators (./jobs), the CLI and the extension.
 * Jobs that need less say so with Omit (screening needs no judge; a sweep opens its models itself).
 */
export interface JobBase {
  ws: Workspace;
  model: ModelHandle;
  judge: Judge;
  trait: string;
  sampling: SamplingParams;
  /** The sampler preset's name, recorded in the configuration. */
  samplerPreset?: string;
  seed: number;
  samples: number;
  /** Use only the first N questions (for quick runs). */
  maxQuestions?: number;
  /** Run folder name; default: kind-model-revision-trait-<config hash>. */
  runId?: string;
  /** Rows per worker request and durable append. */
  chunkSize?: number;
  /** Worker batch size. */
  batchSize?: number;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

/** A stage (extraction, evaluation) runs inside its job's open run folder. */
export type StageOptions = Omit<JobBase, 'ws' | 'runId' | 'samplerPreset'> & { run: RunStore };
