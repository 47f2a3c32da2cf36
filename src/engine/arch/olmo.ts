/**
 * OLMo family: Olmo2ForCausalLM, Olmo3ForCausalLM (HF modeling_olmo2.py / modeling_olmo3.py).
 *
 * Post-norm blocks — there is no input_layernorm:
 *   h = h + post_attention_layernorm(attn(h))
 *   h = h + post_feedforward_layernorm(mlp(h))
 * q_norm / k_norm are RMSNorms over the *whole* q_proj / k_proj outputs ([numHeads·headDim],
 * [numKvHeads·headDim]) before the reshape into heads and before RoPE.
 * OLMo 3: sliding-window attention on 3 of 4 layers by default (`layer_types`, `sliding_window`
 * default 4096); legacy `rope_scaling` applies only to full-attention layers.
 */
import type { FamilyDefaults, LayerType } from '../model/config.js';
import type { ModelBuilder } from './blocks.js';
import type { ArchitectureFamily } from './types.js';

function olmoBlock(m: ModelBuilder, h: string, l: number): string {
  const { hiddenSize: H, numHeads: nh, numKvHeads: nkv, headDim: D, qkvBias } = m.cfg;
  const p = `model.layers.${l}`;
  const proj = (name: string, out: number) =>
    m.linear(h, { weight: `${p}.self_attn.${name}.weight`, bias: qkvBias ? `${p}.self_attn.${name}.bias` : null, inFeatures: H, outFeatures: out, requireBias: true });
  const q = m.rmsNorm(proj('q_proj', nh * D), `${p}.self_attn.q_norm.weight`, nh * D);
  const k = m.rmsNorm(proj('k_proj', nkv * D), `${p}.self_attn.k_norm.weight`, nkv * D);
  const v = proj('v_proj', nkv * D);
  const attn = m.selfAttention(q, k, v, l);
  const o = m.linear(attn, { weight: `${p}.self_attn.o_proj.weight`, bias: m.cfg.outBias ? `${p}.self_attn.o_proj.bias` : null, inFeatures: nh * D, outFeatures: H, requireBias: true });
  const afterAttn = m.residualAdd(h, m.rmsNorm(o, `${p}.post_attention_layernorm.weight`, H));
  const mlp = m.gatedMlp(afterAttn, { gate: `${p}.mlp.gate_proj.weight`, up: `${p}.mlp.up_proj.weight`, down: `${p}.mlp.down_proj.weight` });
  return m.residualAdd(afterAttn, m.rmsNorm(mlp, `${p}.post_feedforward_layernorm.weight`, H));
}

const olmo3Layers = (_raw: Record<string, unknown>, n: number): LayerType[] =>
  Array.from({ length: n }, (_, i) => ((i + 1) % 4 !== 0 ? 'sliding_attention' : 'full_attention'));

export const olmoFamily: ArchitectureFamily = {
  family: 'olmo',
  architectures: ['Olmo2ForCausalLM', 'Olmo3ForCausalLM'],
  modelTypes: ['olmo2', 'olmo3'],
  defaults: (modelType): FamilyDefaults =>
    modelType === 'olmo3'
      ? {
        tieWordEmbeddings: false, normEps: 1e-5, ropeTheta: 10000, maxPositions: 2048,
        slidingWindow: (raw) => (typeof raw.sliding_window === 'number' ? raw.sliding_window : raw.sliding_window === null ? null : 4096),
        layerTypes: olmo3Layers, slidingRopeUnscaled: true,
      }
      : { tieWordEmbeddings: false, normEps: 1e-5, ropeTheta: 10000, maxPositions: 2048, slidingWindow: () => null },
  build: (m) => {
    const { hiddenSize: H, numLayers: L } = m.cfg;
    let h = m.embed('model.embed_tokens.weight');
    h = m.steerAndCapture(h, 0);
    for (let l = 0; l < L; l++) {
      h = m.layer(l, () => olmoBlock(m, h, l));
      h = m.steerAndCapture(h, l + 1);
    }
    const lmHead = m.cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    m.finalNormAndLogits(h, (x) => m.rmsNorm(x, 'model.norm.weight', H), lmHead);
  },
};
