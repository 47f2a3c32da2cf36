/**
 * Apertus family: ApertusForCausalLM (HF modeling_apertus.py; Swiss AI).
 *
 * Llama skeleton with: per-head q/k RMSNorm before RoPE (like Qwen3); norms named
 * attention_layernorm / feedforward_layernorm; a non-gated MLP down(xIELU(up(x))) whose xIELU
 * activation has learned per-layer scalars (mlp.act_fn.{alpha_p, alpha_n, beta, eps});
 * default RoPE is llama3-scaled with theta 12e6.
 */
import type { FamilyDefaults } from '../model/config.js';
import { buildLlamaStyle } from './llama.js';
import type { ModelBuilder } from './blocks.js';
import type { ArchitectureFamily } from './types.js';

function apertusBlock(m: ModelBuilder, h: string, l: number): string {
  const { hiddenSize: H, numHeads: nh, numKvHeads: nkv, headDim: D, intermediateSize: I, qkvBias, outBias } = m.cfg;
  const p = `model.layers.${l}`;
  const x = m.rmsNorm(h, `${p}.attention_layernorm.weight`, H);
  const proj = (name: string, out: number) =>
    m.linear(x, { weight: `${p}.self_attn.${name}.weight`, bias: qkvBias ? `${p}.self_attn.${name}.bias` : null, inFeatures: H, outFeatures: out, requireBias: true });
  const attn = m.selfAttention(proj('q_proj', nh * D), proj('k_proj', nkv * D), proj('v_proj', nkv * D), l,
    { headNorm: { q: `${p}.self_attn.q_norm.weight`, k: `${p}.self_attn.k_norm.weight` } });
  const o = m.linear(attn, { weight: `${p}.self_attn.o_proj.weight`, bias: outBias ? `${p}.self_attn.o_proj.bias` : null, inFeatures: nh * D, outFeatures: H, requireBias: true });
  const { sum, normed } = m.addAndRmsNorm(h, o, `${p}.feedforward_layernorm.weight`);
  const up = m.linear(normed, { weight: `${p}.mlp.up_proj.weight`, inFeatures: H, outFeatures: I });
  const down = m.linear(m.xielu(up, `${p}.mlp.act_fn`), { weight: `${p}.mlp.down_proj.weight`, inFeatures: I, outFeatures: H });
  return m.residualAdd(sum, down);
}

export const apertusFamily: ArchitectureFamily = {
  family: 'apertus',
  architectures: ['ApertusForCausalLM'],
  modelTypes: ['apertus'],
  defaults: (): FamilyDefaults => ({
    tieWordEmbeddings: false, normEps: 1e-5, maxPositions: 65536, activation: 'xielu', slidingWindow: () => null,
    ropeParameters: { rope_type: 'llama3', rope_theta: 12_000_000, factor: 8, original_max_position_embeddings: 8192, low_freq_factor: 1, high_freq_factor: 4 },
  }),
  build: (m) => buildLlamaStyle(m, (h, l) => apertusBlock(m, h, l)),
};
