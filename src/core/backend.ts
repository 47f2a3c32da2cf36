/**
 * What the pipeline needs from an inference engine: the worker's generate and capture requests
 * (src/engine/protocol.ts). `InferenceClient` (src/engine/client.ts) satisfies this structurally; the core
 * depends only on the protocol types, so the CLI, the extension and tests can hand in any client.
 */
import type { CaptureParams, CaptureResult, GenerateParams, GenerateResult, ModelInfo, SamplingParams } from '../engine/protocol.js';
import type { Judge } from './judge/types.js';
import type { RunStore } from './storage/run.js';
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

/** What every generate-and-judge stage (extraction, evaluation) takes, besides its own inputs. */
export interface StageOptions {
  trait: string;
  model: ModelHandle;
  judge: Judge;
  run: RunStore;
  samples: number;
  sampling: SamplingParams;
  seed: number;
  /** Use only the first N questions (for quick runs). */
  maxQuestions?: number;
  /** Rows per worker request and durable append. */
  chunkSize?: number;
  /** Worker batch size. */
  batchSize?: number;
  progress?: ProgressSink;
  signal?: AbortSignal;
}
