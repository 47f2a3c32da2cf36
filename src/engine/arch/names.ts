/**
 * Public input/output names of every compiled graph, defined once (the session and the graph
 * builders both import them; nobody types these strings by hand).
 *
 * Layer convention (see src/engine/model/types.ts): `hidden_states.ℓ` for ℓ ∈ 0..L is HF
 * `hidden_states[ℓ]` — ℓ = 0 the embeddings, 1 ≤ ℓ < L the residual stream after ℓ blocks,
 * ℓ = L after the final norm. Row ℓ of `steer` is added exactly where `hidden_states.ℓ` is read: row 0 to
 * the embeddings, rows 1..L−1 to the residual stream after ℓ blocks, row L *after* the final norm (the LM
 * head's input; `finalNormAndLogits` in ./blocks.ts — upstream adds it before the norm, a bug we fix).
 */
export const IO = {
  /** int64 [B, S] */
  inputIds: 'input_ids',
  /** int64 [B, P+S]: 1 real token, 0 left pad; covers past and new tokens. */
  attentionMask: 'attention_mask',
  /** int64 [B, S]: HF semantics (cumsum(mask) - 1, pads → 1). */
  positionIds: 'position_ids',
  /** float32 [B, L+1, H] */
  steer: 'steer',
  /** float32 [B, S] */
  steerMask: 'steer_mask',
  /** int64 [1]: logits are computed for the last K positions only (K=1 for decoding). */
  logitsToKeep: 'logits_to_keep',
  /** float32 [B, K, V] */
  logits: 'logits',
  /** float32 [B, kvHeads, P, headDim] (post-RoPE keys, as HF caches them) */
  pastKey: (layer: number) => `past_key_values.${layer}.key`,
  pastValue: (layer: number) => `past_key_values.${layer}.value`,
  /**
   * float32 [B, kvHeads, S, headDim]: this forward's own keys and values, post-RoPE (the cache's new positions).
   * The graph returns only these, not past + new: onnxruntime-node copies every output it returns into a fresh
   * JS buffer, which for a whole `present` cache was 7–15 % of a batched decode step. The caller appends them to
   * the past (model/session.ts `appendKv`); the attention's own Concat stays inside the runtime.
   */
  newKey: (layer: number) => `new_key_values.${layer}.key`,
  newValue: (layer: number) => `new_key_values.${layer}.value`,
  /** float32 [B, S, H]; ℓ ∈ 0..L (HF hidden_states[ℓ]). */
  hiddenState: (index: number) => `hidden_states.${index}`,
  /**
   * float32 [B, S, K]: K token weightings per row (capture reductions: prompt / response masks, the last
   * prompt token). Generation feeds K = 0.
   */
  captureWeights: 'capture_weights',
  /** float32 [B, K, L+1, H]: Σ_s capture_weights[b,s,k] · hidden_states[ℓ][b,s,:] — capture reduced in the graph. */
  captured: 'captured',
} as const;

/** Symbolic dimension names used in the graph's value infos. */
export const DIMS = {
  batch: 'batch',
  seq: 'sequence',
  total: 'total_sequence',
  past: 'past_sequence',
  keep: 'logits_kept',
  capture: 'capture_reductions',
} as const;
