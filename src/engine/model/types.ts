/**
 * The contract between the model compiler/runtime (src/engine/model, src/engine/arch, src/engine/onnx)
 * and everything that drives a model (generation, capture, projection in the worker).
 *
 * Layer convention (used everywhere in Persona Lab):
 *   hidden state index ℓ ∈ 0..L is HF `hidden_states[ℓ]`:
 *     ℓ = 0      the embedding output that enters block 0,
 *     1 ≤ ℓ < L  the raw residual stream after ℓ decoder blocks,
 *     ℓ = L      the output of the last block AFTER the final norm (what the LM head sees).
 *   "Steering at layer ℓ" adds coef·v exactly where hidden_states[ℓ] is read: for ℓ < L the residual
 *   stream after ℓ blocks (the output of block ℓ−1, before block ℓ), exactly like upstream's hook on
 *   `layers[ℓ−1]`; for ℓ = L after the final norm, because row L of a vector file is a difference of
 *   post-norm states (upstream adds it before the norm: digest §12 bug 4, fixed here).
 *   A vector file therefore has L+1 rows and row ℓ is the direction for layer ℓ.
 */

/** Architecture-independent view of an HF config.json. Nothing downstream reads raw HF keys. */
export interface NormalizedConfig {
  architecture: string;      // e.g. "LlamaForCausalLM"
  modelType: string;         // e.g. "llama"
  numLayers: number;         // L
  hiddenSize: number;        // H
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  bosTokenId?: number | number[] | null;
  eosTokenId?: number | number[] | null;
  padTokenId?: number | null;
}

/** Where a checkpoint lives: a plain HF folder, or an HF cache repo plus a revision. */
export type ModelRef =
  | { kind: 'folder'; path: string }
  | { kind: 'hf-cache'; repoDir: string; revision: string };

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';
export type GraphVariant = 'portable' | 'fused';
/**
 * How weights live in memory. The residual stream, the steering add and activation capture stay
 * float32 in every format; only the projection weights (and the KV cache for f16/bf16) change.
 *   f32        reference path (parity <= 1e-4)
 *   f16, bf16  half-precision compute for GPU providers, the checkpoint's own bytes
 *   int8, int4 weight-only quantization (onnxruntime MatMulNBits), made at compile time into the cache
 */
export type WeightFormat = 'f32' | 'f16' | 'bf16' | 'int8' | 'int4';
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['f32', 'f16', 'bf16', 'int8', 'int4'];

export interface LoadOptions {
  /** Graph flavour. 'fused' uses onnxruntime contrib ops where they apply; both pass the same parity tests. */
  variant?: GraphVariant;
  executionProvider?: ExecutionProvider;
  intraOpNumThreads?: number;
  /** Directory for compiled graphs (keyed by config + weight identity + compiler version). */
  cacheDir?: string;
  /**
   * 'mapped': weights stay in the mmapped safetensors pages (no private copy, instant load).
   * 'prepacked': onnxruntime repacks weights into a private copy (≈ weight bytes of RAM, slower load,
   * faster decode on CPU). Default (f32): 'mapped' for F32 checkpoints; 'prepacked' for BF16/F16 ones,
   * whose float32 widening is a private copy either way, so 'mapped' would only lose the prepacking.
   * int8/int4 are always prepacked (MatMulNBits has no fast unpacked path); f16/bf16 default to 'mapped'.
   */
  weightMemory?: 'mapped' | 'prepacked';
  /** How weights live in memory (default 'f32'); see WeightFormat. */
  weightFormat?: WeightFormat;
  /**
   * int8/int4 only, advanced: override the quantization defaults (quant/nbits.ts DEFAULT_QUANT; DESIGN.md
   * "Weight formats" says why they are what they are). Part of the compile-cache key.
   */
  quantization?: { blockSize?: number; symmetric?: boolean; accuracyLevel?: 0 | 1 | 2 | 3 | 4 };
  /**
   * Tests only: let the f16 graph run on the CPU provider. onnxruntime runs it there by inserting float32
   * casts around the half-precision ops (correct, so the f16 graph is testable without a GPU, but it holds a
   * float32 copy besides the f16 weights and is slower than f32), so users are refused instead.
   */
  testOnlyCpuHalf?: boolean;
  /**
   * f32 on CPU, default true: keep onnxruntime's optimised graph with its prepacked and (half-precision
   * checkpoints) widened float32 weights in the compile-cache entry (`ort-<tag>/`), so a warm load maps them instead
   * of rebuilding them, and they stay file-backed page cache (model/ort-cache.ts). Costs disk: ≈ 2 × the float32
   * weight bytes. false: always build the session from the compiled graph (outputs are bit-identical either way).
   */
  sessionCache?: boolean;
}

/**
 * Where a format runs. onnxruntime 1.30's CPU provider has no bfloat16 matrix multiply and computes float16
 * through inserted float32 casts (no memory or speed gain); WebGPU has no bfloat16 type.
 */
export const FORMATS_BY_PROVIDER: Record<ExecutionProvider, readonly WeightFormat[]> = {
  cpu: ['f32', 'int8', 'int4'],
  webgpu: ['f32', 'f16', 'int8', 'int4'],
  cuda: ['f32', 'f16', 'bf16', 'int8', 'int4'],
};

/** Opaque KV cache returned by one forward and passed to the next. */
export interface KvCache {
  readonly batch: number;
  readonly pastLength: number;
  /** Keep only these rows (in this order), e.g. when finished or cancelled rows leave a batch. */
  selectRows(rows: number[]): KvCache;
  dispose(): void;
}

export interface ForwardInputs {
  batch: number;                    // B
  seqLen: number;                   // S (new tokens in this call)
  inputIds: BigInt64Array;          // [B, S]
  positionIds: BigInt64Array;       // [B, S]  HF semantics (cumsum(mask)-1, pads → 1)
  attentionMask: BigInt64Array;     // [B, pastLength + S]  1 = real token, 0 = left pad
  past?: KvCache | null;
  /** [B, L+1, H]: row ℓ is added (times steerMask) where hidden_states[ℓ] is read (row L: after the final norm). */
  steer?: Float32Array | null;
  /** [B, S]: 1 where the steering of that row applies, 0 elsewhere. */
  steerMask?: Float32Array | null;
  /** Which logits to return: only the last position of each row, every position, or none. */
  logits: 'last' | 'all' | 'none';
  /** Return all L+1 hidden states (HF semantics, see above). */
  hiddenStates?: boolean;
  /**
   * Capture reduced in the graph: `weights` [B, S, k] (k token weightings per row); the forward then returns
   * `captured` [B, k, L+1, H] = Σ_s weights[b,s,j] · hidden_states[ℓ][b,s,:], without copying hidden states out.
   */
  capture?: { weights: Float32Array; k: number } | null;
}

export interface ForwardOutputs {
  /** 'last' → [B, V]; 'all' → [B, S, V]. */
  logits?: Float32Array;
  present: KvCache;
  /** L+1 arrays, each [B, S, H]. */
  hiddenStates?: Float32Array[];
  /** Only with `capture`: [B, k, L+1, H]. */
  captured?: Float32Array;
}

export interface LoadedModel {
  readonly config: NormalizedConfig;
  readonly variant: GraphVariant;
  readonly executionProvider: ExecutionProvider;
  /** Folder holding config.json, tokenizer.json, ... (the resolved snapshot for HF cache refs). */
  readonly modelDir: string;
  readonly info: {
    loadMs: number; compileMs: number; cacheHit: boolean; onnxPath: string; threads: number;
    /**
     * Where the load's time went: checkpoint headers + config, the compile-cache lookup (or compile), onnxruntime's
     * session creation; and whether the session came from the session cache ('hit'), was written to it on this load
     * ('written'), could not be ('failed': a plain session was opened) or was not used ('off').
     */
    loadStages: { checkpointMs: number; compileMs: number; sessionMs: number; sessionCache: 'hit' | 'written' | 'off' | 'failed' };
    /** Bytes of the checkpoint's weight files. */
    weightBytes: number;
    weightFormat: WeightFormat;
    /** The weight memory actually used (see LoadOptions.weightMemory for the defaults). */
    weightMemory: 'mapped' | 'prepacked';
    /** Bytes the weights occupy in memory in this format (quantized + scales, half copies, float32 norms, embedding tables). */
    residentWeightBytes: number;
    /** KV cache bytes per token per batch row (all layers, keys and values) in the cache's element type. */
    kvBytesPerToken: number;
  };
  forward(inputs: ForwardInputs): Promise<ForwardOutputs>;
  dispose(): Promise<void>;
}
