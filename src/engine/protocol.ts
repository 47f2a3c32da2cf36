/**
 * The one typed protocol between the inference worker and its clients (extension, CLI, tests).
 * Each method is declared once (method literal + params + result) and imported by both ends
 * (pattern: vscode-languageserver-node's protocol.*.ts). Transport: vscode-jsonrpc over stdio/IPC.
 *
 * Layer convention: see src/engine/model/types.ts. Vectors have L+1 rows indexed like HF hidden_states.
 * Float arrays cross the process boundary as base64-encoded little-endian float32 (`F32B64`).
 */
import { NotificationType, RequestType } from 'vscode-jsonrpc';
import type { ExecutionProvider, GraphVariant, NormalizedConfig } from './model/types.js';

/** base64 of a little-endian Float32Array. */
export type F32B64 = string;

// ---------------------------------------------------------------- models
export interface LoadModelParams {
  /** A checkpoint folder, or an HF cache repo folder (models--org--name) with `revision`. */
  path: string;
  revision?: string;
  /** 'auto' tries cuda, then webgpu, then cpu, each on its own. */
  executionProvider?: ExecutionProvider | 'auto';
  variant?: GraphVariant;
  threads?: number;
}
export interface ModelInfo {
  modelId: string;
  path: string;
  revision?: string;
  config: NormalizedConfig;
  executionProvider: ExecutionProvider;
  variant: GraphVariant;
  threads: number;
  loadMs: number;
  compileMs: number;
  cacheHit: boolean;
  weightBytes: number;
  rssBytes: number;
  /** True when the tokenizer has a chat template (instruct model); base models take raw text. */
  hasChatTemplate: boolean;
  eosTokenIds: number[];
}

// ---------------------------------------------------------------- prompts
export interface ChatMessage { role: 'system' | 'user' | 'assistant'; content: string }
/**
 * A prompt is either raw text (base models, or an already-rendered template) or chat messages
 * (rendered with the model's chat template, add_generation_prompt=true).
 * Raw text is tokenized with the tokenizer's default special tokens (BOS if the tokenizer adds one);
 * a rendered chat template is tokenized with add_special_tokens=false (the template carries its own).
 */
export type PromptInput = { text: string } | { messages: ChatMessage[] };

// ---------------------------------------------------------------- steering
export type SteerPositions = 'all' | 'prompt' | 'response';
export type SteerScaling = { mode: 'raw' } | { mode: 'unit' } | { mode: 'target-norm'; norm: number };
export type VectorRef =
  /** inline: one row of H floats */
  | { values: number[] | F32B64 }
  /** a stored vector file (safetensors [L+1, H]); `tensor` names the kind, row defaults to the steering layer */
  | { file: string; tensor?: string; row?: number };
export interface SteerSpec {
  vector: VectorRef;
  /** ℓ ∈ 0..L: added to the residual stream after ℓ blocks. */
  layer: number;
  coef: number;
  /** 'response' (upstream default): last prompt token at prefill, then every generated token. */
  positions?: SteerPositions;
  scaling?: SteerScaling;
}

// ---------------------------------------------------------------- generation
export interface SamplingParams {
  temperature?: number;        // 0 = greedy
  topP?: number;
  topK?: number;
  minNewTokens?: number;
  maxNewTokens?: number;
  repetitionPenalty?: number;  // HF semantics
  stop?: string[];
  /** Extra EOS ids; the model's eos ids always stop. */
  eosTokenIds?: number[];
  seed?: number;
}
export interface GenerateRow {
  prompt: PromptInput;
  steer?: SteerSpec[];
  /** Per-row seed; defaults to sampling.seed + row index. Row output depends only on (prompt, steer, seed). */
  seed?: number;
}
export interface GenerateParams {
  modelId: string;
  rows: GenerateRow[];
  sampling: SamplingParams;
  batchSize?: number;
  /** Send TokenNotification per row while generating. */
  stream?: boolean;
  /** Correlates stream notifications with this request. */
  requestId?: string;
}
export type FinishReason = 'eos' | 'stop' | 'length' | 'cancelled';
export interface GeneratedRow {
  text: string;
  promptText: string;
  promptTokenIds: number[];
  tokenIds: number[];
  finishReason: FinishReason;
}
export interface GenerateResult { rows: GeneratedRow[]; tokensPerSecond: number; elapsedMs: number }
export interface TokenNotificationParams { requestId: string; row: number; text: string; tokenId: number }

// ---------------------------------------------------------------- capture (extraction)
export type Reduction = 'prompt_avg' | 'response_avg' | 'prompt_last';
export interface CaptureItem { prompt: PromptInput; response: string }
export interface CaptureParams {
  modelId: string;
  items: CaptureItem[];
  reductions: Reduction[];
  batchSize?: number;
}
export interface CapturedItem {
  promptTokens: number;
  responseTokens: number;
  /** per reduction: [L+1, H] float32, base64 */
  values: Partial<Record<Reduction, F32B64>>;
}
export interface CaptureResult { items: CapturedItem[]; layers: number; hiddenSize: number }

// ---------------------------------------------------------------- projection (monitoring)
export interface ProjectParams {
  modelId: string;
  items: { prompt: PromptInput; response?: string }[];
  vectors: { id: string; vector: VectorRef; layer: number }[];
}
export interface ProjectedItem {
  tokens: string[];
  promptTokens: number;
  /** per vector id: scalar projection onto unit(v) of hidden_states[layer] at every token */
  projections: Record<string, number[]>;
}
export interface ProjectResult { items: ProjectedItem[] }

// ---------------------------------------------------------------- tokenizer
export interface TokenizeParams { modelId: string; prompt: PromptInput }
export interface TokenizeResult { text: string; ids: number[]; tokens: string[] }

// ---------------------------------------------------------------- requests
export const LoadModelRequest = new RequestType<LoadModelParams, ModelInfo, void>('model/load');
export const UnloadModelRequest = new RequestType<{ modelId: string }, void, void>('model/unload');
export const ListModelsRequest = new RequestType<void, ModelInfo[], void>('model/list');
export const TokenizeRequest = new RequestType<TokenizeParams, TokenizeResult, void>('tokenizer/tokenize');
export const DetokenizeRequest = new RequestType<{ modelId: string; ids: number[]; skipSpecialTokens?: boolean }, string, void>('tokenizer/detokenize');
export const ApplyChatTemplateRequest = new RequestType<{ modelId: string; messages: ChatMessage[]; addGenerationPrompt?: boolean }, string, void>('tokenizer/applyChatTemplate');
export const GenerateRequest = new RequestType<GenerateParams, GenerateResult, void>('generate');
export const CaptureRequest = new RequestType<CaptureParams, CaptureResult, void>('capture');
export const ProjectRequest = new RequestType<ProjectParams, ProjectResult, void>('project');
export const ShutdownRequest = new RequestType<void, void, void>('shutdown');
export const TokenNotification = new NotificationType<TokenNotificationParams>('generate/token');
export const LogNotification = new NotificationType<{ level: 'info' | 'warn' | 'error'; message: string }>('log');

/** Error codes outside JSON-RPC's reserved range (-32768..-32000). */
export const WorkerErrorCodes = {
  ModelNotLoaded: 1001,
  LoadFailed: 1002,
  BadRequest: 1003,
  Cancelled: 1004,
  WorkerDied: 1005,
  OutOfMemory: 1006,
} as const;
