/**
 * HF config.json → ArchConfig, in one place. Nothing else in the compiler reads raw HF keys:
 * key aliases (GPT-2's n_embd/n_head/…), family defaults (supplied as data by each architecture
 * file), RoPE parameters (legacy `rope_theta` + `rope_scaling`, and the newer `rope_parameters`)
 * and per-layer attention types (`layer_types` + `sliding_window`) are resolved here into
 * capability fields.
 *
 * It is also where degenerate configs are refused, before anything is compiled or cached: every
 * size (layers, heads, kv heads, head_dim, hidden, intermediate, vocab, positions, window) must be a
 * positive integer, heads divisible by kv heads, hidden_size divisible by heads when head_dim is
 * implied, the rotary dimension even; rms_norm_eps and the RoPE parameters positive and finite. A
 * ConfigError names the file and the field and says what to fix (issue 12).
 */
import { ReasonError } from '../errors.js';
import type { NormalizedConfig } from './types.js';

/** config.json cannot describe a graph: a key is missing, a value is unsupported, or two keys disagree. */
export type ConfigErrorReason = 'missing-key' | 'unsupported' | 'inconsistent' | 'invalid-value';

export class ConfigError extends ReasonError<ConfigErrorReason> {
  override readonly name = 'ConfigError';
  /** The config field at fault (raw HF key, `text_config.`-prefixed for nested configs), when one is. */
  field?: string;
}

function configError(reason: ConfigErrorReason, field: string | undefined, message: string): ConfigError {
  const e = new ConfigError(reason, message);
  e.field = field;
  return e;
}

const FIX = 'fix config.json (compare it with the checkpoint\'s original) or re-download the checkpoint';

/** A size field: a positive integer, or a ConfigError naming the key. */
function positiveInt(key: string, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw configError('invalid-value', key, `${key} is ${JSON.stringify(v)}, but it must be a positive integer (${what}); ${FIX}`);
  }
  return v;
}

/** A real-valued parameter: finite and > 0, or a ConfigError naming the key. */
function positiveReal(key: string, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw configError('invalid-value', key, `${key} is ${JSON.stringify(v)}, but it must be a positive finite number (${what}); ${FIX}`);
  }
  return v;
}

export type RopeType = 'default' | 'linear' | 'dynamic' | 'yarn' | 'llama3' | 'longrope';
export const SUPPORTED_ROPE_TYPES: RopeType[] = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'];

/** RoPE as the graph needs it: HF `rotate_half` convention, cos/sin = cos/sin(pos·invFreq) · attentionScaling. */
export interface RopeSpec {
  type: RopeType;
  theta: number;
  /** Number of leading head dims that are rotated (head_dim · partial_rotary_factor). */
  rotaryDim: number;
  /** float32 inverse frequencies, length rotaryDim/2, computed exactly as modeling_rope_utils does. */
  invFreq: Float32Array;
  /** Post-processing factor applied to cos and sin (yarn/longrope), 1 otherwise. */
  attentionScaling: number;
}

export type LayerType = 'full_attention' | 'sliding_attention';
export type Activation = 'silu' | 'gelu_tanh' | 'gelu' | 'relu' | 'xielu';

/** Everything a graph builder needs; extends the public NormalizedConfig. */
export interface ArchConfig extends NormalizedConfig {
  normEps: number;
  /** null for learned absolute positions (GPT-2). */
  rope: RopeSpec | null;
  /** RoPE for sliding-window layers when it differs (Gemma 3 local rope). */
  ropeLocal: RopeSpec | null;
  tieWordEmbeddings: boolean;
  /** q/k/v projection biases. */
  qkvBias: boolean;
  /** o_proj bias. */
  outBias: boolean;
  mlpBias: boolean;
  activation: Activation;
  layerTypes: LayerType[];
  /** Window in tokens for sliding layers (the query itself counts), or null. */
  slidingWindow: number | null;
  /** Attention score scale (default head_dim^-0.5). */
  attnScale: number;
  /** Gemma 2: tanh soft-capping of attention scores / final logits, or null. */
  attnSoftcap: number | null;
  finalSoftcap: number | null;
  /** The raw HF config, for architecture files that need a family-specific key. */
  raw: Record<string, unknown>;
}

/** Family defaults, as HF's configuration classes define them (the config.json may omit keys). */
export interface FamilyDefaults {
  tieWordEmbeddings: boolean;
  normEps: number;
  ropeTheta?: number;
  maxPositions: number;
  activation?: string;
  qkvBias?: boolean;
  /** Default per-layer attention types when config.json has no `layer_types`. */
  layerTypes?: (raw: Record<string, unknown>, numLayers: number, slidingWindow: number | null) => LayerType[];
  /** Some families only use `sliding_window` when a flag is set (Qwen2's `use_sliding_window`). */
  slidingWindow?: (raw: Record<string, unknown>) => number | null;
  /** Legacy `rope_scaling` applies to full-attention layers only; sliding layers use default RoPE (OLMo 3). */
  slidingRopeUnscaled?: boolean;
  /** Soft-capping defaults (Gemma 2: 50 / 30) when config.json omits the keys. */
  attnSoftcap?: number | null;
  finalSoftcap?: number | null;
  /** Gemma: query_pre_attn_scalar default (scores scale by its inverse square root). */
  queryPreAttnScalar?: number;
  /**
   * The HF configuration class's defaults for keys config.json may omit (raw HF keys; config.json
   * wins). Needed where checkpoints ship minimal configs (Gemma 3's nested text_config).
   */
  rawDefaults?: Record<string, unknown>;
  /** RoPE parameters when config.json has none of rope_theta / rope_scaling / rope_parameters (Apertus: llama3). */
  ropeParameters?: Record<string, unknown>;
}

/** The first of `keys` that config.json sets (null counts as unset, as in HF's config classes). */
function present(raw: Record<string, unknown>, keys: string[]): string | undefined {
  return keys.find((k) => raw[k] !== undefined && raw[k] !== null);
}

function num(raw: Record<string, unknown>, keys: string[], fallback?: number): number {
  const k = present(raw, keys);
  if (k !== undefined) {
    const v = raw[k];
    if (typeof v !== 'number') throw configError('invalid-value', k, `${k} is ${JSON.stringify(v)}, but it must be a number; ${FIX}`);
    return v;
  }
  if (fallback === undefined) throw configError('missing-key', keys[0], `config.json lacks ${keys.join(' / ')}; cannot build the graph without it`);
  return fallback;
}

function optNum(raw: Record<string, unknown>, keys: string[]): number | undefined {
  return present(raw, keys) === undefined ? undefined : num(raw, keys);
}

/** `num` + positiveInt, the error naming the key config.json actually uses (prefixed for nested configs). */
function size(raw: Record<string, unknown>, keys: string[], what: string, prefix: string, fallback?: number): number {
  const v = num(raw, keys, fallback);
  return positiveInt(prefix + (present(raw, keys) ?? keys[0]), v, what);
}

const ACTIVATIONS: Record<string, Activation> = {
  silu: 'silu', swish: 'silu',
  gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', gelu_fast: 'gelu_tanh', 'gelu-tanh': 'gelu_tanh',
  gelu: 'gelu', relu: 'relu', xielu: 'xielu',
};

/**
 * Normalize and validate a raw HF config. `source` names the file in error messages (the loader
 * passes the config.json path); every ConfigError thrown from here starts with it.
 */
export function normalizeConfig(input: Record<string, unknown>, defaults: FamilyDefaults, source = 'config.json'): ArchConfig {
  try {
    return normalizeChecked(input, defaults);
  } catch (e) {
    if (e instanceof ConfigError && !e.message.startsWith(source)) {
      const err = configError(e.reason, e.field, `${source}: ${e.message}`);
      err.stack = e.stack;
      throw err;
    }
    throw e;
  }
}

function normalizeChecked(input: Record<string, unknown>, defaults: FamilyDefaults): ArchConfig {
  const architecture = Array.isArray(input.architectures) ? String(input.architectures[0]) : String(input.model_type ?? 'unknown');
  // Multimodal wrappers (e.g. Gemma3ForConditionalGeneration) nest the language model's config.
  const text = input.text_config && typeof input.text_config === 'object' ? (input.text_config as Record<string, unknown>) : null;
  const at = text ? 'text_config.' : '';
  const raw: Record<string, unknown> = { ...(defaults.rawDefaults ?? {}), ...(text ?? input) };
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  const numLayers = size(raw, ['num_hidden_layers', 'n_layer', 'num_layers'], 'the number of decoder blocks', at);
  const hiddenSize = size(raw, ['hidden_size', 'n_embd', 'd_model'], 'the residual stream width', at);
  const numHeads = size(raw, ['num_attention_heads', 'n_head'], 'query heads per layer', at);
  const numKvHeads = size(raw, ['num_key_value_heads'], 'key/value heads per layer', at, numHeads);
  const headDimKey = present(raw, ['head_dim']);
  if (headDimKey === undefined && hiddenSize % numHeads !== 0) {
    throw configError('inconsistent', `${at}hidden_size`, `${at}hidden_size (${hiddenSize}) is not divisible by ${at}num_attention_heads (${numHeads}) `
      + `and there is no head_dim; set head_dim or ${FIX}`);
  }
  const headDim = headDimKey === undefined ? hiddenSize / numHeads : size(raw, ['head_dim'], 'the width of one attention head', at);
  if (numHeads % numKvHeads !== 0) {
    throw configError('inconsistent', `${at}num_key_value_heads`, `${at}num_attention_heads (${numHeads}) must be a multiple of ${at}num_key_value_heads `
      + `(${numKvHeads}): each key/value head serves the same number of query heads; ${FIX}`);
  }
  const intermediateSize = optNum(raw, ['intermediate_size', 'n_inner']) === undefined ? 4 * hiddenSize
    : size(raw, ['intermediate_size', 'n_inner'], 'the MLP width', at);
  const vocabSize = size(raw, ['vocab_size'], 'the number of token embeddings', at);
  const maxPositions = size(raw, ['max_position_embeddings', 'n_positions', 'n_ctx'], 'the context window', at, defaults.maxPositions);
  // Gemma 2/3 read `hidden_activation` (their configs may also carry a stale `hidden_act`).
  const actName = String(raw.hidden_activation ?? raw.hidden_act ?? raw.activation_function ?? defaults.activation ?? 'silu');
  const activation = ACTIVATIONS[actName];
  if (!activation) throw new ConfigError('unsupported', `activation "${actName}" is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);

  const rawWindow = defaults.slidingWindow ? defaults.slidingWindow(raw) : (typeof raw.sliding_window === 'number' ? raw.sliding_window : null);
  let layerTypes: LayerType[];
  if (Array.isArray(raw.layer_types)) {
    layerTypes = (raw.layer_types as string[]).map((t, i) => {
      if (t !== 'full_attention' && t !== 'sliding_attention') throw new ConfigError('unsupported', `layer_types[${i}] = "${t}" is not supported (full_attention, sliding_attention)`);
      return t;
    });
    if (layerTypes.length !== numLayers) throw new ConfigError('inconsistent', `layer_types has ${layerTypes.length} entries but num_hidden_layers is ${numLayers}`);
  } else {
    layerTypes = defaults.layerTypes ? defaults.layerTypes(raw, numLayers, rawWindow) : Array<LayerType>(numLayers).fill(rawWindow ? 'sliding_attention' : 'full_attention');
  }
  const slidingWindow = layerTypes.includes('sliding_attention') ? rawWindow : null;
  if (layerTypes.includes('sliding_attention') && !slidingWindow) throw new ConfigError('inconsistent', 'layer_types has sliding_attention layers but sliding_window is not set');
  if (slidingWindow !== null) positiveInt(`${at}sliding_window`, slidingWindow, 'the attention window of sliding layers, in tokens');

  const cfgNoRope = { hiddenSize, numHeads, headDim, maxPositions };
  const rope = raw.position_embedding_type === 'absolute' || raw.model_type === 'gpt2' ? null : ropeFromConfig(raw, cfgNoRope, defaults, 'full_attention');
  const ropeLocal = rope && layerTypes.includes('sliding_attention') ? ropeFromConfig(raw, cfgNoRope, defaults, 'sliding_attention') : null;

  const epsKeys = ['rms_norm_eps', 'layer_norm_epsilon', 'layer_norm_eps', 'norm_epsilon'];
  const normEps = positiveReal(at + (present(raw, epsKeys) ?? epsKeys[0]), num(raw, epsKeys, defaults.normEps), 'the normalization epsilon');
  const tie = typeof raw.tie_word_embeddings === 'boolean' ? raw.tie_word_embeddings : defaults.tieWordEmbeddings;
  const qkvBias = typeof raw.attention_bias === 'boolean' ? raw.attention_bias : (defaults.qkvBias ?? false);
  return {
    architecture,
    modelType: String(raw.model_type ?? ''),
    numLayers, hiddenSize, numHeads, numKvHeads, headDim, intermediateSize, vocabSize, maxPositions,
    // Special tokens: the top-level config wins over a nested text_config.
    bosTokenId: (input.bos_token_id ?? raw.bos_token_id ?? null) as NormalizedConfig['bosTokenId'],
    eosTokenId: (input.eos_token_id ?? raw.eos_token_id ?? null) as NormalizedConfig['eosTokenId'],
    padTokenId: (input.pad_token_id ?? raw.pad_token_id ?? null) as number | null,
    normEps,
    rope,
    ropeLocal: ropeLocal && !sameRope(rope, ropeLocal) ? ropeLocal : null,
    tieWordEmbeddings: tie,
    qkvBias,
    outBias: typeof raw.attention_bias === 'boolean' ? raw.attention_bias : false,
    mlpBias: raw.mlp_bias === true,
    activation,
    layerTypes,
    slidingWindow,
    // Gemma: scores scale by query_pre_attn_scalar^-0.5 instead of head_dim^-0.5.
    attnScale: (optNum(raw, ['query_pre_attn_scalar']) ?? defaults.queryPreAttnScalar ?? headDim) ** -0.5,
    attnSoftcap: raw.attn_logit_softcapping === undefined ? (defaults.attnSoftcap ?? null) : ((raw.attn_logit_softcapping as number | null) ?? null),
    finalSoftcap: raw.final_logit_softcapping === undefined ? (defaults.finalSoftcap ?? null) : ((raw.final_logit_softcapping as number | null) ?? null),
    raw,
  };
}

function sameRope(a: RopeSpec | null, b: RopeSpec | null): boolean {
  if (!a || !b) return a === b;
  return a.attentionScaling === b.attentionScaling && a.rotaryDim === b.rotaryDim && a.invFreq.every((v, i) => v === b.invFreq[i]);
}

/**
 * The rope parameter dict for a layer type, in the newer `rope_parameters` shape:
 * `{rope_type, rope_theta, factor, …}`, possibly nested per layer type (Gemma 3 style),
 * or built from the legacy `rope_theta` + `rope_scaling` keys.
 */
function ropeParams(raw: Record<string, unknown>, defaults: FamilyDefaults, layerType: LayerType): Record<string, unknown> {
  const rp = raw.rope_parameters as Record<string, unknown> | undefined | null;
  if (rp && typeof rp === 'object') {
    const nested = rp[layerType] as Record<string, unknown> | undefined;
    if (nested && typeof nested === 'object') return nested;
    if (!('rope_type' in rp) && !('rope_theta' in rp) && 'full_attention' in rp) return rp.full_attention as Record<string, unknown>;
    return rp;
  }
  if (defaults.ropeParameters && raw.rope_scaling == null && raw.rope_theta == null) return { ...defaults.ropeParameters };
  const scaling = (raw.rope_scaling ?? {}) as Record<string, unknown>;
  let theta = raw.rope_theta ?? defaults.ropeTheta ?? 10000;
  if (layerType === 'sliding_attention' && typeof raw.rope_local_base_freq === 'number') {
    // Gemma 3: local layers use their own base and no scaling.
    return { rope_type: 'default', rope_theta: raw.rope_local_base_freq, partial_rotary_factor: raw.partial_rotary_factor };
  }
  if (typeof scaling.rope_theta === 'number') theta = scaling.rope_theta;
  if (layerType === 'sliding_attention' && defaults.slidingRopeUnscaled) {
    return { rope_type: 'default', rope_theta: theta, partial_rotary_factor: raw.partial_rotary_factor };
  }
  return { partial_rotary_factor: raw.partial_rotary_factor, ...scaling, rope_theta: theta };
}

const f32 = Math.fround;

export function ropeFromConfig(
  raw: Record<string, unknown>,
  cfg: { hiddenSize: number; numHeads: number; headDim: number; maxPositions: number },
  defaults: FamilyDefaults,
  layerType: LayerType,
): RopeSpec {
  const p = ropeParams(raw, defaults, layerType);
  const type = String(p.rope_type ?? p.type ?? 'default') as RopeType;
  if (!SUPPORTED_ROPE_TYPES.includes(type)) {
    throw new ConfigError('unsupported', `rope type "${type}" is not supported (supported: ${SUPPORTED_ROPE_TYPES.join(', ')})`);
  }
  const where = raw.rope_parameters && typeof raw.rope_parameters === 'object' ? 'rope_parameters' : 'rope_theta/rope_scaling';
  const theta = positiveReal(`rope_theta (${where})`, p.rope_theta ?? defaults.ropeTheta ?? 10000, 'the RoPE base');
  const partial = p.partial_rotary_factor === undefined || p.partial_rotary_factor === null ? 1
    : positiveReal('partial_rotary_factor', p.partial_rotary_factor, 'the rotated fraction of head_dim');
  if (partial > 1) throw configError('invalid-value', 'partial_rotary_factor', `partial_rotary_factor is ${partial}, but it must be in (0, 1]; ${FIX}`);
  const dim = Math.floor(cfg.headDim * partial);
  if (dim < 2 || dim % 2 !== 0) {
    throw configError('inconsistent', 'head_dim', `the rotary dimension head_dim × partial_rotary_factor = ${cfg.headDim} × ${partial} → ${dim} `
      + `must be even and ≥ 2 (RoPE rotates pairs of dimensions); ${FIX}`);
  }
  const half = dim / 2;
  // HF: base ** (arange(0, dim, 2).float() / dim) in float32.
  const posFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) posFreq[i] = f32(theta ** f32(f32(2 * i) / dim));
  const defaultInv = posFreq.map((v) => f32(1 / v));
  const factor = p.factor === undefined || p.factor === null ? undefined : positiveReal(`rope "factor" (${where})`, p.factor, 'the context scaling factor');
  const need = (k: string): number => {
    const v = p[k];
    if (typeof v !== 'number') throw configError('inconsistent', k, `rope type "${type}" needs a numeric "${k}" in rope_scaling/rope_parameters`);
    return positiveReal(`rope "${k}" (${where})`, v, `a ${type} RoPE parameter`);
  };
  switch (type) {
    case 'default':
      return { type, theta, rotaryDim: dim, invFreq: defaultInv, attentionScaling: 1 };
    case 'dynamic':
      // Dynamic NTK equals default RoPE for sequences within max_position_embeddings (HF recomputes only beyond it).
      return { type, theta, rotaryDim: dim, invFreq: defaultInv, attentionScaling: 1 };
    case 'linear': {
      const fct = need('factor');
      return { type, theta, rotaryDim: dim, invFreq: defaultInv.map((v) => f32(v / fct)), attentionScaling: 1 };
    }
    case 'llama3': {
      const fct = need('factor');
      const lowF = need('low_freq_factor');
      const highF = need('high_freq_factor');
      const oldCtx = need('original_max_position_embeddings');
      if (!(highF > lowF)) {
        throw configError('inconsistent', 'high_freq_factor', `rope "high_freq_factor" (${highF}) must be greater than "low_freq_factor" (${lowF}) `
          + `for llama3 RoPE (their difference divides the smoothing ramp); ${FIX}`);
      }
      const lowWave = oldCtx / lowF;
      const highWave = oldCtx / highF;
      const inv = new Float32Array(half);
      for (let i = 0; i < half; i++) {
        const f = defaultInv[i];
        const wave = f32(f32(2 * Math.PI) / f);
        let v = wave > lowWave ? f32(f / fct) : f;
        const medium = !(wave < highWave) && !(wave > lowWave);
        if (medium) {
          const smooth = f32(f32(f32(oldCtx / wave) - lowF) / (highF - lowF));
          v = f32(f32(f32(f32(1 - smooth) * v) / fct) + f32(smooth * v));
        }
        inv[i] = v;
      }
      return { type, theta, rotaryDim: dim, invFreq: inv, attentionScaling: 1 };
    }
    case 'yarn': {
      const origMax = p.original_max_position_embeddings === undefined || p.original_max_position_embeddings === null ? cfg.maxPositions
        : positiveInt('rope "original_max_position_embeddings"', p.original_max_position_embeddings, 'the pre-extension context window');
      const fct = factor ?? cfg.maxPositions / origMax;
      const getMscale = (s: number, m = 1) => (s <= 1 ? 1 : 0.1 * m * Math.log(s) + 1);
      let attn = typeof p.attention_factor === 'number' ? p.attention_factor : undefined;
      const mscale = p.mscale as number | undefined;
      const mscaleAll = p.mscale_all_dim as number | undefined;
      if (attn === undefined) attn = mscale && mscaleAll ? getMscale(fct, mscale) / getMscale(fct, mscaleAll) : getMscale(fct);
      const betaFast = (p.beta_fast as number) || 32;
      const betaSlow = (p.beta_slow as number) || 1;
      const truncate = p.truncate === undefined ? true : Boolean(p.truncate);
      const corrDim = (rot: number) => (dim * Math.log(origMax / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
      let low = corrDim(betaFast);
      let high = corrDim(betaSlow);
      if (truncate) {
        low = Math.floor(low);
        high = Math.ceil(high);
      }
      low = Math.max(low, 0);
      high = Math.min(high, dim - 1);
      if (low === high) high += 0.001;
      const inv = new Float32Array(half);
      for (let i = 0; i < half; i++) {
        const extra = f32(1 / posFreq[i]);
        const inter = f32(1 / f32(fct * posFreq[i]));
        const ramp = Math.min(1, Math.max(0, f32(f32(i - low) / f32(high - low))));
        const extraFactor = f32(1 - ramp);
        inv[i] = f32(f32(inter * f32(1 - extraFactor)) + f32(extra * extraFactor));
      }
      return { type, theta, rotaryDim: dim, invFreq: inv, attentionScaling: attn };
    }
    case 'longrope': {
      // Short factors apply within original_max_position_embeddings; we compile for that regime.
      const short = p.short_factor as number[] | undefined;
      if (!Array.isArray(short) || short.length !== half) throw new ConfigError('inconsistent', `rope type "longrope" needs short_factor with ${half} entries`);
      short.forEach((v, i) => positiveReal(`rope "short_factor"[${i}]`, v, 'a longrope frequency divisor'));
      const origMax = typeof p.original_max_position_embeddings === 'number' ? p.original_max_position_embeddings
        : (typeof raw.original_max_position_embeddings === 'number' ? raw.original_max_position_embeddings : cfg.maxPositions);
      const fct = factor ?? cfg.maxPositions / origMax;
      let attn = typeof p.attention_factor === 'number' ? p.attention_factor : undefined;
      if (attn === undefined) attn = fct <= 1 ? 1 : Math.sqrt(1 + Math.log(fct) / Math.log(origMax));
      const inv = new Float32Array(half);
      for (let i = 0; i < half; i++) inv[i] = f32(1 / f32(f32(short[i]) * posFreq[i]));
      return { type, theta, rotaryDim: dim, invFreq: inv, attentionScaling: attn };
    }
  }
}
