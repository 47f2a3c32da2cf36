/**
 * Phi-3 family: Phi3ForCausalLM (HF modeling_phi3.py).
 *
 * Llama-style pre-norm blocks with fused projections: `qkv_proj` ([q | k | v] along the output
 * axis) and `gate_up_proj` ([gate | up]); no biases. Partial rotary (`partial_rotary_factor`)
 * rotates only the leading dims of each head. `sliding_window`, when set, applies to every layer.
 * LongRoPE checkpoints are compiled with their short factors (the regime up to
 * original_max_position_embeddings).
 */
import type { FamilyDefaults, LayerType } from '../model/config.js';
import { buildLlamaStyle } from './llama.js';
import type { ModelBuilder } from './blocks.js';
import type { ArchitectureFamily } from './types.js';

function phi3Block(m: ModelBuilder, h: string, l: number): string {
  const { hiddenSize: H, numHeads: nh, numKvHeads: nkv, headDim: D } = m.cfg;
  const p = `model.layers.${l}`;
  const x = m.rmsNorm(h, `${p}.input_layernorm.weight`, H);
  const qkv = m.linear(x, { weight: `${p}.self_attn.qkv_proj.weight`, inFeatures: H, outFeatures: (nh + 2 * nkv) * D });
  const [q, k, v] = m.splitColumns(qkv, [nh * D, nkv * D, nkv * D]);
  const attn = m.selfAttention(q, k, v, l);
  const o = m.linear(attn, { weight: `${p}.self_attn.o_proj.weight`, inFeatures: nh * D, outFeatures: H });
  const { sum, normed } = m.addAndRmsNorm(h, o, `${p}.post_attention_layernorm.weight`);
  return m.residualAdd(sum, m.gatedMlp(normed, { gateUp: `${p}.mlp.gate_up_proj.weight`, down: `${p}.mlp.down_proj.weight` }));
}

export const phi3Family: ArchitectureFamily = {
  family: 'phi3',
  architectures: ['Phi3ForCausalLM'],
  modelTypes: ['phi3'],
  defaults: (): FamilyDefaults => ({
    tieWordEmbeddings: false, normEps: 1e-5, ropeTheta: 10000, maxPositions: 4096,
    layerTypes: (_raw, n, w): LayerType[] => Array<LayerType>(n).fill(w ? 'sliding_attention' : 'full_attention'),
  }),
  build: (m) => buildLlamaStyle(m, (h, l) => phi3Block(m, h, l)),
};
