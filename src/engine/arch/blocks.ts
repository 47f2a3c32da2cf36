/**
 * The shared op vocabulary every architecture file builds from: embed, linear, norms, RoPE,
 * self-attention, MLPs, residual adds, and `steerAndCapture` — the one call at the same point
 * of every block (and once after the embeddings) that adds the steering row and exposes the
 * residual stream as `hidden_states.ℓ`. Architecture files never create raw ONNX nodes.
 *
 * One ModelBuilder serves both graph variants:
 *   portable  standard ONNX ops only (opset 21, IR 10): any EP can run it.
 *   fused     onnxruntime fused/contrib ops where they apply (opset 23, IR 11):
 *             SimplifiedLayerNormalization, SkipSimplifiedLayerNormalization,
 *             com.microsoft RotaryEmbedding, ONNX Attention(23) with an additive mask.
 *             (GroupQueryAttention is not used: it derives key validity from seqlens_k, i.e. assumes
 *             right padding, which is wrong for our left-padded batches with per-row masks.)
 *
 * Activations in the residual stream are kept 2-D [B·S, H] so every projection is a Gemm with
 * transB=1 on the HF [out, in] weight: onnxruntime can then use the external-data weight in place
 * (zero-copy when prepacking is disabled) instead of materialising a transposed copy.
 */
import { DT, f, type DataType, type Graph } from '../onnx/graph.js';
import type { ArchConfig, RopeSpec } from '../model/config.js';
import type { GraphVariant } from '../model/types.js';
import { DIMS, IO } from './names.js';
import type { MatrixWeight, WeightStore } from './weight-store.js';

const FLOAT32_MIN = -3.4028234663852886e38; // torch.finfo(float32).min, HF's additive mask value

export interface LinearSpec {
  /** HF weight name; [out, in] (nn.Linear) unless layout is 'in_out' (GPT-2 Conv1D). */
  weight: string;
  bias?: string | null;
  inFeatures: number;
  outFeatures: number;
  layout?: 'out_in' | 'in_out';
  /** If true, the bias must exist; if false, it is used when present. Default false. */
  requireBias?: boolean;
}

export interface AttentionOptions {
  /** Per-head RMSNorm weights over head_dim applied to q and k before RoPE (Qwen3, Gemma 3). */
  headNorm?: { q: string; k: string; eps?: number; offset?: 0 | 1 };
  /** Gemma 2 attention logit soft-capping. */
  softcap?: number | null;
  /** Score scale for this layer (default cfg.attnScale = head_dim^-0.5). */
  scale?: number;
}

export interface RmsNormOptions {
  eps?: number;
  /** Gemma stores w and multiplies by (1 + w). */
  offset?: 0 | 1;
}

export class ModelBuilder {
  readonly L: number;
  readonly H: number;
  private readonly idsShape: string;
  private readonly shapeCache = new Map<string, string>();
  private readonly maskCache = new Map<string, string>();
  private readonly ropeCache = new Map<RopeSpec, { cos: string; sin: string }>();
  private steerMask3: string | null = null;
  /** capture_weights transposed to [B, K, S], and each hidden state's [B, K, 1, H] reduction (see capture). */
  private captureWeightsT: string | null = null;
  private readonly reduced: string[] = [];
  /** KV cache element type: float16 for the f16 format (its compute precision), else float32. */
  readonly kvType: DataType;

  constructor(
    readonly g: Graph,
    readonly cfg: ArchConfig,
    readonly variant: GraphVariant,
    readonly w: WeightStore,
  ) {
    this.L = cfg.numLayers;
    this.H = cfg.hiddenSize;
    // bf16 keeps a float32 cache: onnxruntime-node cannot pass bfloat16 tensors to or from JS.
    this.kvType = w.format === 'f16' ? DT.FLOAT16 : DT.FLOAT;
    const { batch, seq, total, past } = DIMS;
    g.input(IO.inputIds, DT.INT64, [batch, seq]);
    g.input(IO.attentionMask, DT.INT64, [batch, total]);
    g.input(IO.positionIds, DT.INT64, [batch, seq]);
    g.input(IO.steer, DT.FLOAT, [batch, this.L + 1, this.H]);
    g.input(IO.steerMask, DT.FLOAT, [batch, seq]);
    g.input(IO.logitsToKeep, DT.INT64, [1]);
    g.input(IO.captureWeights, DT.FLOAT, [batch, seq, DIMS.capture]);
    for (let l = 0; l < this.L; l++) {
      g.input(IO.pastKey(l), this.kvType, [batch, cfg.numKvHeads, past, cfg.headDim]);
      g.input(IO.pastValue(l), this.kvType, [batch, cfg.numKvHeads, past, cfg.headDim]);
    }
    this.idsShape = g.scope('shapes', () => g.op('Shape', [IO.inputIds]));
  }

  /** Run `fn` with node names under /model/layers.<l>/… */
  layer<T>(l: number, fn: () => T): T {
    return this.g.scope(`layers.${l}`, fn);
  }

  private c64(values: number[]): string {
    return this.g.constInt64(values);
  }

  /** Shape tensor [B, S, ...rest] (cached), for reshaping the flat [B·S, X] stream. */
  private bs(...rest: number[]): string {
    const key = rest.join(',');
    let s = this.shapeCache.get(key);
    if (!s) {
      s = this.g.scope('shapes', () => this.g.op('Concat', [this.idsShape, this.c64(rest)], { axis: 0 }));
      this.shapeCache.set(key, s);
    }
    return s;
  }

  /** 1-D [1] tensors holding B and S. */
  private dim(i: 0 | 1): string {
    const key = `dim${i}`;
    let s = this.shapeCache.get(key);
    if (!s) {
      s = this.g.scope('shapes', () => this.g.op('Slice', [this.idsShape, this.c64([i]), this.c64([i + 1])]));
      this.shapeCache.set(key, s);
    }
    return s;
  }

  private flat(x: string, width: number): string {
    return this.g.op('Reshape', [x, this.c64([-1, width])]);
  }

  // ---- embeddings ---------------------------------------------------------------------------

  /** Token embedding lookup → [B·S, H]. */
  embed(weight: string): string {
    return this.g.scope('embed_tokens', () => this.gatherRows(weight, this.cfg.vocabSize, IO.inputIds));
  }

  /** Learned absolute position embedding lookup (GPT-2 wpe) → [B·S, H]. */
  positionEmbed(weight: string): string {
    return this.g.scope('embed_positions', () => this.gatherRows(weight, this.cfg.maxPositions, IO.positionIds));
  }

  /**
   * Rows of an embedding table, gathered from the checkpoint's own bytes (F32, F16 or BF16) and only
   * then widened to float32: in every weight format the table stays in its file pages and only the
   * rows actually used are read (no float32 copy of a half-precision table; tied LM heads get their
   * own copy in the weight format, see finalNormAndLogits).
   */
  private gatherRows(weight: string, rows: number, ids: string): string {
    const { value, dtype } = this.w.raw(weight, [rows, this.H]);
    let x = this.g.op('Gather', [value, ids], { axis: 0 });
    if (dtype !== DT.FLOAT) x = this.g.op('Cast', [x], { to: DT.FLOAT });
    return this.flat(x, this.H);
  }

  // ---- steering + capture (the one line per block) ------------------------------------------

  /**
   *   steer [B,L+1,H] ─Gather(ℓ, axis 1)→ [B,H] ─Unsqueeze→ [B,1,H] ─┐
   *   steer_mask [B,S] ─Unsqueeze→ [B,S,1] ──────────────────────────Mul→ [B,S,H] ─Reshape→ [B·S,H] ─┐
   *   h [B·S,H] ──────────────────────────────────────────────────────────────────────────────────Add→ h' ─Reshape→ hidden_states.ℓ
   *
   * Row ℓ of the steering input is added exactly where HF's `hidden_states[ℓ]` is read, and that sum is
   * exposed as `hidden_states.ℓ` [B, S, H]: a vector file's row ℓ (a mean difference of hidden_states[ℓ])
   * is always added in the space it was measured in.
   *   ℓ < L  the residual stream after ℓ blocks — upstream's hook on `layers[ℓ−1]`;
   *   ℓ = L  hidden_states[L] is taken AFTER the final norm, so row L is added after the final norm, in
   *          `finalNormAndLogits` (this call is then a no-op). Upstream adds that post-norm row to the
   *          pre-norm block output, where the norm rescales it (digest §12 bug 4); we do not.
   * Zero steering adds exact zeros, so the result is bitwise identical to an unsteered run.
   */
  steerAndCapture(h: string, layer: number): string {
    if (layer === this.L) return h;
    return this.g.scope(`steer.${layer}`, () => {
      const out = this.g.op('Add', [h, this.steerDelta(layer)]);
      this.capture(out, layer);
      return out;
    });
  }

  /** steer_mask[b,s] · steer[b,ℓ,:] as [B·S, H]. */
  private steerDelta(layer: number): string {
    const g = this.g;
    if (!this.steerMask3) this.steerMask3 = g.op('Unsqueeze', [IO.steerMask, this.c64([-1])]); // [B,S,1]
    const row = g.op('Gather', [IO.steer, g.constInt64([layer], [])], { axis: 1 }); // [B,H]
    const row3 = g.op('Unsqueeze', [row, this.c64([1])]); // [B,1,H]
    return this.flat(g.op('Mul', [this.steerMask3, row3]), this.H); // [B·S,H]
  }

  /**
   * Exposes hidden_states.ℓ [B, S, H], and reduces it in the graph for capture: capture_weightsᵀ · h →
   * [B, K, H] per ℓ, stacked into `captured` [B, K, L+1, H] once the last index (L) is captured. Capture then
   * copies K·(L+1)·H floats per row out of onnxruntime instead of S·(L+1)·H.
   */
  private capture(h: string, index: number): void {
    const g = this.g;
    const h3 = g.op('Reshape', [h, this.bs(this.H)]); // [B, S, H]
    g.output(IO.hiddenState(index), DT.FLOAT, [DIMS.batch, DIMS.seq, this.H], h3);
    g.scope('capture', () => {
      this.captureWeightsT ??= g.op('Transpose', [IO.captureWeights], { perm: [0, 2, 1] }); // [B, K, S]
      this.reduced[index] = g.op('Unsqueeze', [g.op('MatMul', [this.captureWeightsT, h3]), this.c64([2])]); // [B, K, 1, H]
      if (index === this.L) {
        for (let i = 0; i <= this.L; i++) if (!this.reduced[i]) throw new Error(`capture: hidden state ${i} was never captured before the last one`);
        g.output(IO.captured, DT.FLOAT, [DIMS.batch, DIMS.capture, this.L + 1, this.H], g.op('Concat', this.reduced, { axis: 2 }));
      }
    });
  }

  // ---- linear layers, norms, activations -----------------------------------------------------

  linear(x: string, spec: LinearSpec): string {
    const layout = spec.layout ?? 'out_in';
    const W = this.w.matrix(spec.weight, spec.outFeatures, spec.inFeatures, layout);
    const b = spec.bias ? (spec.requireBias ? this.w.get(spec.bias, [spec.outFeatures]) : this.w.optional(spec.bias, [spec.outFeatures])) : null;
    const name = spec.weight.split('.').slice(-2, -1)[0] ?? 'linear';
    return this.g.scope(name, () => this.project(x, W, b, layout));
  }

  /**
   * x [M, K] · Wᵀ (+ b) → [M, N] float32, in the weight's format:
   *   float  Gemm(transB) on the HF [out, in] weight in place (zero-copy when prepacking is off)
   *   half   Cast x to f16/bf16 → Gemm in half precision → Cast back (the residual stream stays float32)
   *   nbits  com.microsoft MatMulNBits on the block-quantized weight (float32 activations)
   * The bias is added in float32 for the half and quantized formats.
   */
  private project(x: string, W: MatrixWeight, b: string | null, layout: 'out_in' | 'in_out' = 'out_in'): string {
    const g = this.g;
    let y: string;
    if (W.kind === 'float') return g.op('Gemm', b ? [x, W.value, b] : [x, W.value], { transB: layout === 'out_in' ? 1 : 0 });
    if (W.kind === 'half') {
      const xh = g.op('Cast', [x], { to: W.dtype });
      y = g.op('Cast', [g.op('Gemm', [xh, W.value], { transB: layout === 'out_in' ? 1 : 0 })], { to: DT.FLOAT });
    } else {
      const inputs = W.zeroPoints ? [x, W.B, W.scales, W.zeroPoints] : [x, W.B, W.scales];
      y = g.op('MatMulNBits', inputs, { K: W.K, N: W.N, bits: W.params.bits, block_size: W.params.blockSize, accuracy_level: W.params.accuracyLevel }, { domain: 'com.microsoft' });
    }
    return b ? g.op('Add', [y, b]) : y;
  }

  /** RMSNorm over the last axis: w · (x · rsqrt(mean(x²) + eps)), in float32. */
  rmsNorm(x: string, weight: string, size: number, opts: RmsNormOptions = {}): string {
    const g = this.g;
    const eps = opts.eps ?? this.cfg.normEps;
    const name = weight.split('.').slice(-2, -1)[0] ?? 'norm';
    return g.scope(name, () => {
      let W = this.w.get(weight, [size]);
      if (opts.offset === 1) W = g.op('Add', [W, g.constFloat([1], [])]);
      if (this.variant === 'fused') {
        return g.op('SimplifiedLayerNormalization', [x, W], { axis: -1, epsilon: f(eps), stash_type: 1 });
      }
      const variance = g.op('ReduceMean', [g.op('Mul', [x, x]), this.c64([-1])], { keepdims: 1 });
      const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, g.constFloat([eps], [])])])]);
      return g.op('Mul', [g.op('Mul', [x, inv]), W]);
    });
  }

  /** LayerNorm with weight and bias (GPT-2). LayerNormalization is standard ONNX (opset 17). */
  layerNorm(x: string, weight: string, bias: string, size: number, eps = this.cfg.normEps): string {
    const name = weight.split('.').slice(-2, -1)[0] ?? 'norm';
    return this.g.scope(name, () => this.g.op('LayerNormalization', [x, this.w.get(weight, [size]), this.w.get(bias, [size])], { axis: -1, epsilon: f(eps) }));
  }

  activation(x: string, act = this.cfg.activation): string {
    const g = this.g;
    switch (act) {
      case 'silu': return g.op('Mul', [x, g.op('Sigmoid', [x])]);
      case 'gelu_tanh': return g.op('Gelu', [x], { approximate: 'tanh' });
      case 'gelu': return g.op('Gelu', [x]);
      case 'relu': return g.op('Relu', [x]);
      case 'xielu': throw new Error('xIELU has learned parameters: call xielu() with the layer\'s act_fn tensors');
    }
  }

  /**
   * xIELU (Apertus, HF activations.XIELUActivation) with the layer's learned scalars:
   *   αp = softplus(alpha_p), αn = β + softplus(alpha_n)
   *   x > 0:  αp·x² + β·x        x ≤ 0:  (expm1(min(x, eps)) − x)·αn + β·x
   * (expm1 as Exp − 1: the absolute error, ~1e-7, is far below float32 tolerance here.)
   */
  xielu(x: string, prefix: string): string {
    const g = this.g;
    return g.scope('xielu', () => {
      const alphaP = g.op('Softplus', [this.w.scalar(`${prefix}.alpha_p`)]);
      const beta = this.w.scalar(`${prefix}.beta`, 0.5);
      const eps = this.w.scalar(`${prefix}.eps`, -1e-6);
      const alphaN = g.op('Add', [beta, g.op('Softplus', [this.w.scalar(`${prefix}.alpha_n`)])]);
      const betaX = g.op('Mul', [beta, x]);
      const pos = g.op('Add', [g.op('Mul', [g.op('Mul', [alphaP, x]), x]), betaX]);
      const em1 = g.op('Sub', [g.op('Exp', [g.op('Min', [x, eps])]), g.constFloat([1], [])]);
      const neg = g.op('Add', [g.op('Mul', [g.op('Sub', [em1, x]), alphaN]), betaX]);
      return g.op('Where', [g.op('Greater', [x, g.constFloat([0], [])]), pos, neg]);
    });
  }

  /** Multiply by a constant (Gemma's embedding normalizer √H, rounded to float32 like HF). */
  scale(x: string, factor: number): string {
    return this.g.op('Mul', [x, this.g.constFloat([factor], [])], {}, { name: 'scale' });
  }

  /** Residual add `h + x`. */
  residualAdd(h: string, x: string): string {
    return this.g.op('Add', [h, x], {}, { name: 'residual_add' });
  }

  /**
   * `sum = h + x; normed = rmsNorm(sum)`, fused into SkipSimplifiedLayerNormalization in the fused
   * variant (same math, one kernel).
   */
  addAndRmsNorm(h: string, x: string, weight: string): { sum: string; normed: string } {
    if (this.variant !== 'fused') {
      const sum = this.residualAdd(h, x);
      return { sum, normed: this.rmsNorm(sum, weight, this.H) };
    }
    const name = weight.split('.').slice(-2, -1)[0] ?? 'norm';
    return this.g.scope(name, () => {
      const [normed, , , sum] = this.g.node('SkipSimplifiedLayerNormalization', [h, x, this.w.get(weight, [this.H])],
        { epsilon: f(this.cfg.normEps) }, { domain: 'com.microsoft', outputs: 4 });
      return { sum, normed };
    });
  }

  /** Split the last axis into consecutive column blocks (e.g. GPT-2's fused c_attn → q, k, v). */
  splitColumns(x: string, sizes: number[]): string[] {
    return this.g.node('Split', [x, this.c64(sizes)], { axis: -1 }, { outputs: sizes.length });
  }

  /** Plain MLP (GPT-2): proj(act(fc(x))), with biases. */
  mlp(x: string, p: { fc: LinearSpec; proj: LinearSpec }): string {
    return this.g.scope('mlp', () => this.linear(this.activation(this.linear(x, p.fc)), p.proj));
  }

  /**
   * Gated MLP (Llama family): down(act(gate(x)) · up(x)). Phi-3 stores gate and up as one
   * `gate_up_proj` ([gate | up] along the output axis): pass `gateUp` instead of gate/up.
   */
  gatedMlp(x: string, p: { gate?: string; up?: string; gateUp?: string; down: string; bias?: boolean }): string {
    return this.g.scope('mlp', () => {
      const I = this.cfg.intermediateSize;
      const bias = (n: string) => (p.bias ? n.replace(/weight$/, 'bias') : null);
      let gate: string;
      let up: string;
      if (p.gateUp) {
        [gate, up] = this.splitColumns(this.linear(x, { weight: p.gateUp, bias: bias(p.gateUp), inFeatures: this.H, outFeatures: 2 * I, requireBias: true }), [I, I]);
      } else {
        gate = this.linear(x, { weight: p.gate!, bias: bias(p.gate!), inFeatures: this.H, outFeatures: I, requireBias: true });
        up = this.linear(x, { weight: p.up!, bias: bias(p.up!), inFeatures: this.H, outFeatures: I, requireBias: true });
      }
      const hidden = this.g.op('Mul', [this.activation(gate), up]);
      return this.linear(hidden, { weight: p.down, bias: bias(p.down), inFeatures: I, outFeatures: this.H, requireBias: true });
    });
  }

  // ---- attention ----------------------------------------------------------------------------

  /**
   * Additive attention mask [B, 1, S, T] (0 allowed, finfo.min blocked), as HF eager builds it:
   * query q (absolute index P+q) may see key j iff j ≤ P+q, attention_mask[b, j] = 1 and, for
   * sliding layers, j > P+q − window (indices are sequence indices, not position_ids).
   */
  private mask(window: number | null): string {
    const key = String(window);
    const cached = this.maskCache.get(key);
    if (cached) return cached;
    const g = this.g;
    const m = g.scope(window ? `mask.sliding_${window}` : 'mask.full', () => {
      const sq = (x: string) => g.op('Squeeze', [x, this.c64([0])]);
      const T = g.op('Slice', [g.op('Shape', [IO.attentionMask]), this.c64([1]), this.c64([2])]);
      const P = g.op('Sub', [T, this.dim(1)]);
      const one = g.constInt64([1], []);
      const kIdx = g.op('Range', [g.constInt64([0], []), sq(T), one]); // [T]
      const qIdx = g.op('Range', [sq(P), sq(T), one]); // [S]
      const k2 = g.op('Unsqueeze', [kIdx, this.c64([0])]); // [1,T]
      const q2 = g.op('Unsqueeze', [qIdx, this.c64([1])]); // [S,1]
      let allowed = g.op('LessOrEqual', [k2, q2]); // [S,T]
      if (window) allowed = g.op('And', [allowed, g.op('Greater', [k2, g.op('Sub', [q2, g.constInt64([window], [])])])]);
      const pad = g.op('Unsqueeze', [g.op('Cast', [IO.attentionMask], { to: DT.BOOL }), this.c64([1, 2])]); // [B,1,1,T]
      return g.op('Where', [g.op('And', [allowed, pad]), g.constFloat([0], []), g.constFloat([FLOAT32_MIN], [])]); // [B,1,S,T]
    });
    this.maskCache.set(key, m);
    return m;
  }

  private ropeFor(layer: number): RopeSpec | null {
    const sliding = this.cfg.layerTypes[layer] === 'sliding_attention';
    return sliding && this.cfg.ropeLocal ? this.cfg.ropeLocal : this.cfg.rope;
  }

  /** cos/sin [B, 1, S, rotaryDim] from position_ids (HF: cat(freqs, freqs), freqs = pos ⊗ inv_freq in f32). */
  private ropeTables(rope: RopeSpec): { cos: string; sin: string } {
    const cached = this.ropeCache.get(rope);
    if (cached) return cached;
    const g = this.g;
    const t = g.scope(`rope.${this.ropeCache.size}`, () => {
      const pos = g.op('Unsqueeze', [g.op('Cast', [IO.positionIds], { to: DT.FLOAT }), this.c64([-1])]); // [B,S,1]
      const freqs = g.op('Mul', [pos, g.constFloat(rope.invFreq, [rope.invFreq.length])]); // [B,S,rd/2]
      const emb = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: -1 }), this.c64([1])]); // [B,1,S,rd]
      return this.scaledCosSin(emb, rope);
    });
    this.ropeCache.set(rope, t);
    return t;
  }

  /** cos/sin caches [maxPositions, rotaryDim/2] for com.microsoft RotaryEmbedding (constant-folded at load). */
  private ropeCaches(rope: RopeSpec): { cos: string; sin: string } {
    const cached = this.ropeCache.get(rope);
    if (cached) return cached;
    const g = this.g;
    const t = g.scope(`rope_cache.${this.ropeCache.size}`, () => {
      const n = Math.max(this.cfg.maxPositions, 1);
      const pos = g.op('Unsqueeze', [g.op('Range', [g.constFloat([0], []), g.constFloat([n], []), g.constFloat([1], [])]), this.c64([-1])]);
      const freqs = g.op('Mul', [pos, g.constFloat(rope.invFreq, [rope.invFreq.length])]); // [n, rd/2]
      return this.scaledCosSin(freqs, rope);
    });
    this.ropeCache.set(rope, t);
    return t;
  }

  /** cos(angles)·s, sin(angles)·s with HF's attention_scaling s (yarn/longrope; 1 for the others). */
  private scaledCosSin(angles: string, rope: RopeSpec): { cos: string; sin: string } {
    const g = this.g;
    let cos = g.op('Cos', [angles]);
    let sin = g.op('Sin', [angles]);
    if (rope.attentionScaling !== 1) {
      const s = g.constFloat([rope.attentionScaling], []);
      cos = g.op('Mul', [cos, s]);
      sin = g.op('Mul', [sin, s]);
    }
    return { cos, sin };
  }

  /** HF apply_rotary_pos_emb on x [B, n, S, D]: x·cos + rotate_half(x)·sin over the first rotaryDim dims. */
  private applyRope(x: string, rope: RopeSpec): string {
    const g = this.g;
    const { cos, sin } = this.ropeTables(rope);
    const D = this.cfg.headDim;
    const rd = rope.rotaryDim;
    let xr = x;
    let xp: string | null = null;
    if (rd < D) [xr, xp] = g.node('Split', [x, this.c64([rd, D - rd])], { axis: -1 }, { outputs: 2 });
    const [x1, x2] = g.node('Split', [xr, this.c64([rd / 2, rd / 2])], { axis: -1 }, { outputs: 2 });
    const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: -1 });
    const out = g.op('Add', [g.op('Mul', [xr, cos]), g.op('Mul', [rotated, sin])]);
    return xp ? g.op('Concat', [out, xp], { axis: -1 }) : out;
  }

  private headNorm(x4: string, weight: string, opts: { eps?: number; offset?: 0 | 1 }): string {
    return this.rmsNorm(x4, weight, this.cfg.headDim, opts);
  }

  /**
   * Causal self-attention with KV cache for layer `layer`. q/k/v are the projections [B·S, heads·D]
   * (biases already added); returns the attention output [B·S, numHeads·D] *before* o_proj.
   * Present keys are post-RoPE, like HF's cache. GQA follows HF repeat_kv: query head h uses
   * kv head ⌊h / (numHeads/numKvHeads)⌋.
   */
  selfAttention(q: string, k: string, v: string, layer: number, opts: AttentionOptions = {}): string {
    return this.g.scope('attn', () => (this.variant === 'fused' ? this.attentionFused(q, k, v, layer, opts) : this.attentionPortable(q, k, v, layer, opts)));
  }

  /*
   *  q [B·S,nh·D] ─Reshape→ [B,S,nh,D] ─(head norm)─Transpose→ [B,nh,S,D] ─RoPE─Reshape→ [B,nkv,rep,S,D] ─┐
   *  k ─Reshape/Transpose/RoPE→ [B,nkv,S,D] (new_key_values.k) ─Concat(past)→ [B,nkv,T,D] ─Unsqueeze/Transpose→ [B,nkv,1,D,T] ─MatMul·scale (+softcap) + mask → Softmax ─┐
   *  v ─Reshape/Transpose→ [B,nkv,S,D] (new_key_values.v) ─Concat(past)→ [B,nkv,T,D] ─Unsqueeze→ [B,nkv,1,T,D] ───────────────────────────────────────────────────────MatMul→ [B,nkv,rep,S,D]
   *  → Reshape [B,nh,S,D] → Transpose [B,S,nh,D] → Reshape [B·S, nh·D]
   */
  private attentionPortable(q: string, k: string, v: string, layer: number, opts: AttentionOptions): string {
    const g = this.g;
    const { numHeads: nh, numKvHeads: nkv, headDim: D } = this.cfg;
    const rep = nh / nkv;
    const heads = (x: string, n: string) => g.op('Transpose', [x], { perm: [0, 2, 1, 3] }, { name: `${n}_heads` });
    let q4 = g.op('Reshape', [q, this.bs(nh, D)]); // [B,S,nh,D]
    let k4 = g.op('Reshape', [k, this.bs(nkv, D)]);
    const v4 = g.op('Reshape', [v, this.bs(nkv, D)]);
    if (opts.headNorm) {
      q4 = this.headNorm(q4, opts.headNorm.q, opts.headNorm);
      k4 = this.headNorm(k4, opts.headNorm.k, opts.headNorm);
    }
    let qh = heads(q4, 'q'); // [B,nh,S,D]
    let kh = heads(k4, 'k'); // [B,nkv,S,D]
    const vh = heads(v4, 'v');
    const rope = this.ropeFor(layer);
    if (rope) {
      qh = g.scope('rope_q', () => this.applyRope(qh, rope));
      kh = g.scope('rope_k', () => this.applyRope(kh, rope));
    }
    const kNew = this.toKv(kh);
    const vNew = this.toKv(vh);
    this.declareNewKv(layer, kNew, vNew);
    let kAll = g.op('Concat', [IO.pastKey(layer), kNew], { axis: 2 }); // [B,nkv,T,D]
    let vAll = g.op('Concat', [IO.pastValue(layer), vNew], { axis: 2 });
    kAll = this.fromKv(kAll);
    vAll = this.fromKv(vAll);
    // Group query heads by their kv head instead of repeating k/v: [B,nkv,rep,S,D] @ [B,nkv,1,D,T].
    const groupShape = g.op('Concat', [this.dim(0), this.c64([nkv, rep]), this.dim(1), this.c64([D])], { axis: 0 });
    const qg = g.op('Reshape', [qh, groupShape]);
    const kT = g.op('Transpose', [g.op('Unsqueeze', [kAll, this.c64([2])])], { perm: [0, 1, 2, 4, 3] });
    let scores = g.op('Mul', [g.op('MatMul', [qg, kT]), g.constFloat([opts.scale ?? this.cfg.attnScale], [])]); // [B,nkv,rep,S,T]
    if (opts.softcap) {
      const c = g.constFloat([opts.softcap], []);
      scores = g.op('Mul', [g.op('Tanh', [g.op('Div', [scores, c])]), c]);
    }
    const window = this.cfg.layerTypes[layer] === 'sliding_attention' ? this.cfg.slidingWindow : null;
    scores = g.op('Add', [scores, g.op('Unsqueeze', [this.mask(window), this.c64([1])])]);
    const probs = g.op('Softmax', [scores], { axis: -1 });
    const ctx = g.op('MatMul', [probs, g.op('Unsqueeze', [vAll, this.c64([2])])]); // [B,nkv,rep,S,D]
    const merged = g.op('Transpose', [g.op('Reshape', [ctx, g.op('Concat', [this.dim(0), this.c64([nh]), this.dim(1), this.c64([D])], { axis: 0 })])], { perm: [0, 2, 1, 3] });
    return this.flat(merged, nh * D);
  }

  private attentionFused(q: string, k: string, v: string, layer: number, opts: AttentionOptions): string {
    const g = this.g;
    const { numHeads: nh, numKvHeads: nkv, headDim: D } = this.cfg;
    let q3 = g.op('Reshape', [q, this.bs(nh * D)]); // [B,S,nh·D]
    let k3 = g.op('Reshape', [k, this.bs(nkv * D)]);
    const v3 = g.op('Reshape', [v, this.bs(nkv * D)]);
    if (opts.headNorm) {
      const perHead = (x: string, n: number, w: string) =>
        g.op('Reshape', [this.headNorm(g.op('Reshape', [x, this.bs(n, D)]), w, opts.headNorm!), this.bs(n * D)]);
      q3 = perHead(q3, nh, opts.headNorm.q);
      k3 = perHead(k3, nkv, opts.headNorm.k);
    }
    const rope = this.ropeFor(layer);
    if (rope) {
      const { cos, sin } = this.ropeCaches(rope);
      const rot = (x: string, n: number, name: string) => g.op('RotaryEmbedding', [x, IO.positionIds, cos, sin],
        { interleaved: 0, num_heads: n, rotary_embedding_dim: rope.rotaryDim }, { domain: 'com.microsoft', name });
      q3 = rot(q3, nh, 'rope_q');
      k3 = rot(k3, nkv, 'rope_k');
    }
    const window = this.cfg.layerTypes[layer] === 'sliding_attention' ? this.cfg.slidingWindow : null;
    const attrs: Record<string, number | ReturnType<typeof f>> = { q_num_heads: nh, kv_num_heads: nkv, scale: f(opts.scale ?? this.cfg.attnScale) };
    if (opts.softcap) attrs.softcap = f(opts.softcap);
    // The op's present outputs (past + new, concatenated inside it) are left unread: the graph returns only this
    // forward's keys and values, laid out as the op lays them into present ([B,S,nkv·D] → [B,nkv,S,D]).
    const [y] = g.node('Attention', [q3, k3, v3, this.mask(window), this.fromKv(IO.pastKey(layer)), this.fromKv(IO.pastValue(layer))], attrs, { outputs: 3 });
    const perKvHead = (x: string) => g.op('Transpose', [g.op('Reshape', [x, this.bs(nkv, D)])], { perm: [0, 2, 1, 3] });
    this.declareNewKv(layer, this.toKv(perKvHead(k3)), this.toKv(perKvHead(v3)));
    return this.flat(y, nh * D);
  }

  private declareNewKv(layer: number, k: string, v: string): void {
    const dims = [DIMS.batch, this.cfg.numKvHeads, DIMS.seq, this.cfg.headDim];
    this.g.output(IO.newKey(layer), this.kvType, dims, k);
    this.g.output(IO.newValue(layer), this.kvType, dims, v);
  }

  /** float32 → the KV cache's element type (identity for float32 caches). */
  private toKv(x: string): string {
    return this.kvType === DT.FLOAT ? x : this.g.op('Cast', [x], { to: this.kvType });
  }

  /** KV cache element type → float32 for the attention arithmetic. */
  private fromKv(x: string): string {
    return this.kvType === DT.FLOAT ? x : this.g.op('Cast', [x], { to: DT.FLOAT });
  }

  // ---- head ---------------------------------------------------------------------------------

  /**
   * Final norm (given by the architecture) + steering row L → `hidden_states.L`, then logits for the
   * last `logits_to_keep` positions only, so decoding and 'last' never pay for a [B, S, V] LM head.
   */
  finalNormAndLogits(h: string, finalNorm: (h: string) => string, lmHead: string, opts: { softcap?: number | null } = {}): void {
    const g = this.g;
    const normed = g.scope('norm', () => finalNorm(h));
    const hn = g.scope(`steer.${this.L}`, () => g.op('Add', [normed, this.steerDelta(this.L)]));
    this.capture(hn, this.L);
    g.scope('lm_head', () => {
      const h3 = g.op('Reshape', [hn, this.bs(this.H)]);
      const start = g.op('Sub', [this.dim(1), IO.logitsToKeep]);
      const kept = g.op('Slice', [h3, start, this.dim(1), this.c64([1])]); // [B,K,H]
      let logits = this.project(this.flat(kept, this.H), this.w.matrix(lmHead, this.cfg.vocabSize, this.H), null);
      if (opts.softcap) {
        const c = g.constFloat([opts.softcap], []);
        logits = g.op('Mul', [g.op('Tanh', [g.op('Div', [logits, c])]), c]);
      }
      const shape = g.op('Concat', [this.dim(0), this.c64([-1, this.cfg.vocabSize])], { axis: 0 });
      g.output(IO.logits, DT.FLOAT, [DIMS.batch, DIMS.keep, this.cfg.vocabSize], g.op('Reshape', [logits, shape]));
    });
  }

  /** Opset/IR pair for this variant. */
  get opsets(): { irVersion: number; opsets: Record<string, number> } {
    if (this.variant === 'fused') return { irVersion: 11, opsets: { '': 23, 'com.microsoft': 1 } };
    // MatMulNBits (int8/int4) is a com.microsoft contrib op in either variant.
    const quantized = this.w.format === 'int8' || this.w.format === 'int4';
    return { irVersion: 10, opsets: quantized ? { '': 21, 'com.microsoft': 1 } : { '': 21 } };
  }
}
