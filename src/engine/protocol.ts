/**
 * The one typed protocol between the inference worker and its clients (extension, CLI, tests).
 * Each method is declared once (method literal + params + result) and imported by both ends
 * (pattern: vscode-languageserver-node's protocol.*.ts). Transport: vscode-jsonrpc over stdio/IPC.
 *
 * Layer convention: see src/engine/model/types.ts. Vectors have L+1 rows indexed like HF hidden_states.
 * Float arrays cross the process boundary as base64-encoded little-endian float32 (`F32B64`).
 */
import { NotificationType, RequestType } from 'vscode-jsonrpc';
import type { ExecutionProvider, GraphVariant, NormalizedConfig, WeightFormat } from './model/types.js';

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
  /** Directory for compiled graphs (defaults to the compiler's own choice). */
  cacheDir?: string;
  /**
   * 'mapped': weights stay in the mmapped files; 'prepacked': private repacked copy, faster CPU decode. Default:
   * mapped for F32 checkpoints, prepacked for BF16/F16 ones (f32 format); int8/int4 are always prepacked.
   */
  weightMemory?: 'mapped' | 'prepacked';
  /** How weights live in memory (default 'f32'): f32 | f16 | bf16 | int8 | int4. */
  weightFormat?: WeightFormat;
  /** Extra variables for the chat template, e.g. `{ enable_thinking: false }` for Qwen3. */
  chatTemplateKwargs?: Record<string, unknown>;
}
export interface ModelInfo {
  modelId: string;
  path: string;
  revision?: string;
  config: NormalizedConfig;
  executionProvider: ExecutionProvider;
  variant: GraphVariant;
  /** COMPILER_VERSION of the graph this worker built: runs record it, since a compiler change can change outputs. */
  compiler: string;
  threads: number;
  /** The weight memory actually used (see LoadModelParams.weightMemory for the defaults). */
  weightMemory: 'mapped' | 'prepacked';
  /** The weight format the graph was compiled for. */
  weightFormat: WeightFormat;
  /** Bytes the weights occupy in memory in that format (checkpoint file bytes are `weightBytes`). */
  residentWeightBytes: number;
  /** KV cache bytes per token per batch row (all layers, keys + values) in the cache's element type. */
  kvBytesPerToken: number;
  loadMs: number;
  compileMs: number;
  cacheHit: boolean;
  /** Where the load's time went and whether onnxruntime's session came from the session cache (LoadedModel.info.loadStages). */
  loadStages?: { checkpointMs: number; compileMs: number; sessionMs: number; sessionCache: 'hit' | 'written' | 'off' | 'failed' };
  weightBytes: number;
  rssBytes: number;
  /** True when the tokenizer has a chat template (instruct model); base models take raw text. */
  hasChatTemplate: boolean;
  /** False for checkpoints without tokenizer.json (e.g. the parity fixtures): only `{ ids }` prompts work. */
  hasTokenizer: boolean;
  eosTokenIds: number[];
  /** Execution providers tried before the one used, with the error each threw ('auto' only). */
  providersFailed?: { provider: ExecutionProvider; error: string }[];
}

// ---------------------------------------------------------------- prompts
export interface ChatMessage { role: 'system' | 'user' | 'assistant'; content: string }
/**
 * A prompt is raw text (base models, or an already-rendered template), chat messages
 * (rendered with the model's chat template, add_generation_prompt=true), or token ids used as-is
 * (tokenizer-less checkpoints such as the parity fixtures, or callers that tokenized themselves).
 * Raw text is tokenized with the tokenizer's default special tokens (BOS if the tokenizer adds one);
 * a rendered chat template is tokenized with add_special_tokens=false (the template carries its own).
 * Capture and projection tokenize prompts exactly the same way, so extraction sees the tokens generation saw.
 */
export type PromptInput = { text: string } | { messages: ChatMessage[] } | { ids: number[] };

// ---------------------------------------------------------------- steering
export type SteerPositions = 'all' | 'prompt' | 'response';
export type SteerScaling = { mode: 'raw' } | { mode: 'unit' } | { mode: 'target-norm'; norm: number };
export type VectorRef =
  /** inline: one row of H floats */
  | { values: number[] | F32B64 }
  /** a stored vector file (safetensors [L+1, H]); `tensor` names the kind, row defaults to the steering layer */
  | { file: string; tensor?: string; row?: number };
/**
 * Steering positions, upstream `ActivationSteerer` semantics with a KV cache:
 *   'response': at prefill only the last prompt token, then every generated token that is forwarded;
 *   'prompt':   every prompt position at prefill, nothing while decoding;
 *   'all':      every position, prefill and decode.
 * Scaling: 'raw' adds coef·v; 'unit' adds coef·v/|v|; 'target-norm' adds coef·norm·v/|v|.
 * Several specs on one row add up (different layers and/or positions at once).
 */
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
/**
 * HF `generate` semantics, applied in this order: repetition penalty (over the row's prompt and generated
 * tokens, pads excluded) → EOS suppressed until minNewTokens → temperature → top-k (ties kept) → top-p
 * (HF: drop the ascending-sorted prefix whose cumulative probability ≤ 1−top_p) → sample.
 * Unlike HF, nothing is read from generation_config.json: unset means disabled (topK 0, topP 1, penalty 1).
 * Defaults: temperature 0 (greedy, first maximum wins), minNewTokens 0, maxNewTokens 64, seed 0.
 * Stop strings (vLLM semantics): generation ends when the decoded text contains one; `text` is cut before it,
 * `tokenIds` keep every generated token. EOS ends a row; the EOS id is kept in `tokenIds`, not in `text`.
 */
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
  /** Upper bound on rows per batch; the worker lowers it to fit free memory and reports its choice in `batching`. */
  batchSize?: number;
  /** Send TokenNotification per row while generating. */
  stream?: boolean;
  /** Correlates stream notifications with this request. */
  requestId?: string;
  /**
   * Per generated token, return its log-probability and the `logprobs` most likely alternatives (0 = the chosen
   * token only; at most 20, like OpenAI). They are log-softmax of the model's raw logits at that step — after
   * steering, before repetition penalty, temperature, top-k and top-p (vLLM's default "raw" logprobs) — so a
   * judge reading them sees the model's distribution, not the sampler's.
   */
  logprobs?: number;
  /**
   * Diagnostics/tests: return these hidden-state layers (0..L) at every forwarded position of each row
   * (prompt tokens, then generated tokens except the last, which is never forwarded), after steering.
   */
  returnHiddenStates?: number[];
}
export type FinishReason = 'eos' | 'stop' | 'length' | 'cancelled';
/**
 * "Was the vector applied?" — read back from the `steer`/`steer_mask` tensors the forwards were actually fed
 * (positions included), per steered layer of a row: `norm` is the L2 norm of what was added to each token
 * there (the largest, if phases add different sums: e.g. |coef|·‖v_ℓ‖ for one 'raw' spec, coef·norm for
 * 'target-norm'), `tokens` how many forwarded tokens received it. A spec with coef ≠ 0 that adds nothing is
 * refused; coef 0 reports norm 0 and tokens 0.
 */
export interface SteeringApplied { layer: number; norm: number; tokens: number }
export interface TokenLogprob {
  tokenId: number;
  logprob: number;
  /** The most likely tokens at this step, most likely first (ties by lower id). */
  top: { tokenId: number; logprob: number }[];
}
export interface GeneratedRow {
  text: string;
  promptText: string;
  promptTokenIds: number[];
  tokenIds: number[];
  finishReason: FinishReason;
  /** Only with `logprobs`: one entry per generated token (tokenIds order). */
  logprobs?: TokenLogprob[];
  /** Only with `returnHiddenStates`: layer → [T, H] float32 base64, T = prompt + generated − 1 positions. */
  hiddenStates?: Record<string, F32B64>;
  /** Steered rows only: what was actually added at each steered layer, in layer order. */
  steeringApplied?: SteeringApplied[];
}
/**
 * How rows were batched, chosen from free memory: `batchSize` rows per batch, as many as fit `budgetBytes`
 * (a quarter of the memory free at the request, at least 64 MiB, at most 512 MiB for capture and 8 GiB for
 * generation) at the estimated `bytesPerRow`
 * (generation: KV cache + prefill activations of the longest prompt; capture: activations + outputs),
 * capped by the request's `batchSize` (default 64 for generation).
 * `limitedBy` says which bound chose it. Capture reports the largest forward it ran.
 */
export interface Batching {
  batchSize: number;
  requested?: number;
  limitedBy: 'memory' | 'requested' | 'default' | 'rows';
  budgetBytes: number;
  bytesPerRow: number;
}
export interface GenerateResult { rows: GeneratedRow[]; tokensPerSecond: number; elapsedMs: number; batching?: Batching }
export interface TokenNotificationParams { requestId: string; row: number; text: string; tokenId: number }

// ---------------------------------------------------------------- capture (extraction)
export type Reduction = 'prompt_avg' | 'response_avg' | 'prompt_last';
/**
 * One forward over prompt + response (upstream `get_hidden_p_and_r`). Text: the prompt is rendered and
 * tokenized exactly as for generation (same BOS/special-token policy), the response string is appended to
 * the rendered prompt text and the concatenation is tokenized with that same policy; promptTokens is the
 * length of the prompt tokenized alone (upstream: BPE merges across the boundary can shift it by one).
 * `{ ids }` responses are appended to the prompt ids verbatim (no boundary effects).
 * Means: prompt_avg over [0, promptTokens), response_avg over [promptTokens, end) — NaN when the response
 * has no tokens — and prompt_last at promptTokens−1. All L+1 hidden states (HF convention).
 */
export interface CaptureItem { prompt: PromptInput; response: string | { ids: number[] } }
export interface CaptureParams {
  modelId: string;
  items: CaptureItem[];
  reductions: Reduction[];
  batchSize?: number;
  /** Diagnostics/tests: also return these layers in full, [S, H] per item. Large; avoid in pipelines. */
  returnHiddenStates?: number[];
}
export interface CapturedItem {
  promptTokens: number;
  responseTokens: number;
  /** per reduction: [L+1, H] float32, base64 */
  values: Partial<Record<Reduction, F32B64>>;
  /** Only with `returnHiddenStates`: layer → [S, H] float32 base64. */
  hiddenStates?: Record<string, F32B64>;
  tokenIds: number[];
}
export interface CaptureResult { items: CapturedItem[]; layers: number; hiddenSize: number; batching?: Batching }

// ---------------------------------------------------------------- projection (monitoring)
export interface ProjectParams {
  modelId: string;
  /** Tokenized like capture items; without a response only the prompt is forwarded. */
  items: { prompt: PromptInput; response?: string | { ids: number[] } }[];
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

/**
 * Cancellation: a cancelled generate/capture/project stops at the next forward step, frees its rows and
 * fails with `Cancelled` (the client rejects with WorkerError reason 'cancelled'; streamed tokens were delivered).
 * Error codes outside JSON-RPC's reserved range (-32768..-32000). */
export const WorkerErrorCodes = {
  ModelNotLoaded: 1001,
  LoadFailed: 1002,
  BadRequest: 1003,
  Cancelled: 1004,
  WorkerDied: 1005,
  OutOfMemory: 1006,
  Internal: 1007,
} as const;

// ---------------------------------------------------------------- float32 wire format
/** Float32Array → base64 of its little-endian bytes (all supported platforms are little-endian). */
export function encodeF32(a: Float32Array): F32B64 {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}
/** base64 → Float32Array (a fresh, aligned copy). */
export function decodeF32(b64: F32B64): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  if (buf.byteLength % 4 !== 0) throw new Error(`decodeF32: ${buf.byteLength} bytes is not a whole number of float32 values`);
  const out = new Float32Array(buf.byteLength / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}
