/**
 * Gemma family: Gemma2ForCausalLM, Gemma3ForCausalLM (text-only, model_type gemma3_text)
 * (HF modeling_gemma2.py / modeling_gemma3.py).
 *
 * - Embeddings are multiplied by √hidden_size (as a float32 constant); hidden_states[0] is the scaled value.
 * - RMSNorm multiplies by (1 + w).
 * - "Sandwich" blocks: h = h + post_attention_layernorm(attn(input_layernorm(h)));
 *                      h = h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h))).
 * - Scores scale by query_pre_attn_scalar^-0.5. Gemma 2: tanh soft-capping of scores (50) and
 *   final logits (30). Gemma 3: per-head q/k RMSNorm (1 + w), no soft-capping, local layers use
 *   rope_local_base_freq.
 * - Alternating sliding/full layers via layer_types (defaults: Gemma 2 every other layer,
 *   Gemma 3 five sliding then one full).
 * - Gemma3ForConditionalGeneration (multimodal) checkpoints: the text tower is compiled (config from
 *   `text_config` over Gemma3TextConfig defaults; tensors under `language_model.model.` or
 *   `model.language_model.`); vision weights are ignored.
 */
import type { FamilyDefaults, LayerType } from '../model/config.js';
import type { ModelBuilder } from './blocks.js';
import type { ArchitectureFamily } from './types.js';

function gemmaBlock(m: ModelBuilder, h: string, l: number, qkNorm: boolean, prefix: string): string {
  const { hiddenSize: H, numHeads: nh, numKvHeads: nkv, headDim: D, qkvBias, outBias } = m.cfg;
  const p = `${prefix}layers.${l}`;
  const norm = (x: string, name: string) => m.rmsNorm(x, `${p}.${name}.weight`, H, { offset: 1 });
  const x = norm(h, 'input_layernorm');
  const proj = (name: string, out: number) =>
    m.linear(x, { weight: `${p}.self_attn.${name}.weight`, bias: qkvBias ? `${p}.self_attn.${name}.bias` : null, inFeatures: H, outFeatures: out, requireBias: true });
  const q = proj('q_proj', nh * D);
  const k = proj('k_proj', nkv * D);
  const v = proj('v_proj', nkv * D);
  const headNorm = qkNorm ? { q: `${p}.self_attn.q_norm.weight`, k: `${p}.self_attn.k_norm.weight`, offset: 1 as const } : undefined;
  const attn = m.selfAttention(q, k, v, l, { headNorm, softcap: m.cfg.attnSoftcap });
  const o = m.linear(attn, { weight: `${p}.self_attn.o_proj.weight`, bias: outBias ? `${p}.self_attn.o_proj.bias` : null, inFeatures: nh * D, outFeatures: H, requireBias: true });
  h = m.residualAdd(h, norm(o, 'post_attention_layernorm'));
  const mlp = m.gatedMlp(norm(h, 'pre_feedforward_layernorm'), { gate: `${p}.mlp.gate_proj.weight`, up: `${p}.mlp.up_proj.weight`, down: `${p}.mlp.down_proj.weight` });
  return m.residualAdd(h, norm(mlp, 'post_feedforward_layernorm'));
}

/** Gemma3TextConfig defaults (multimodal checkpoints ship a minimal text_config). */
const GEMMA3_TEXT_DEFAULTS = {
  model_type: 'gemma3_text', vocab_size: 262_208, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26,
  num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256, hidden_activation: 'gelu_pytorch_tanh',
  max_position_embeddings: 131_072, rms_norm_eps: 1e-6, rope_theta: 1_000_000, attention_bias: false, query_pre_attn_scalar: 256,
  sliding_window: 4096, final_logit_softcapping: null, attn_logit_softcapping: null, rope_local_base_freq: 10_000,
  sliding_window_pattern: 6, tie_word_embeddings: true,
};

const window = (raw: Record<string, unknown>) => (typeof raw.sliding_window === 'number' ? raw.sliding_window : raw.sliding_window === null ? null : 4096);

export const gemmaFamily: ArchitectureFamily = {
  family: 'gemma',
  architectures: ['Gemma2ForCausalLM', 'Gemma3ForCausalLM', 'Gemma3ForConditionalGeneration'],
  modelTypes: ['gemma2', 'gemma3_text', 'gemma3'],
  defaults: (modelType): FamilyDefaults => {
    const common = { tieWordEmbeddings: true, normEps: 1e-6, activation: 'gelu_pytorch_tanh', queryPreAttnScalar: 256, slidingWindow: window };
    if (modelType === 'gemma2') {
      return {
        ...common, ropeTheta: 10000, maxPositions: 8192, attnSoftcap: 50, finalSoftcap: 30,
        layerTypes: (_raw, n): LayerType[] => Array.from({ length: n }, (_, i) => ((i + 1) % 2 ? 'sliding_attention' : 'full_attention')),
      };
    }
    return {
      ...common, ropeTheta: 1_000_000, maxPositions: 131072, attnSoftcap: null, finalSoftcap: null, rawDefaults: GEMMA3_TEXT_DEFAULTS,
      layerTypes: (raw, n): LayerType[] => {
        const pattern = typeof raw.sliding_window_pattern === 'number' ? raw.sliding_window_pattern : 6;
        return Array.from({ length: n }, (_, i) => ((i + 1) % pattern ? 'sliding_attention' : 'full_attention'));
      },
    };
  },
  build: (m) => {
    const { hiddenSize: H, numLayers: L } = m.cfg;
    const gemma3 = m.cfg.modelType !== 'gemma2';
    const prefix = ['model.', 'language_model.model.', 'model.language_model.'].find((p) => m.w.has(`${p}embed_tokens.weight`)) ?? 'model.';
    const embed = `${prefix}embed_tokens.weight`;
    let h = m.scale(m.embed(embed), Math.sqrt(H));
    h = m.steerAndCapture(h, 0);
    for (let l = 0; l < L; l++) {
      h = m.layer(l, () => gemmaBlock(m, h, l, gemma3, prefix));
      h = m.steerAndCapture(h, l + 1);
    }
    const lmHead = m.cfg.tieWordEmbeddings || !m.w.has('lm_head.weight') ? embed : 'lm_head.weight';
    m.finalNormAndLogits(h, (x) => m.rmsNorm(x, `${prefix}norm.weight`, H, { offset: 1 }), lmHead, { softcap: m.cfg.finalSoftcap });
  },
};
