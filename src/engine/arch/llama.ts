/**
 * Llama family: LlamaForCausalLM, MistralForCausalLM (HF modeling_llama.py / modeling_mistral.py).
 *
 * Pre-norm decoder: h = h + attn(input_layernorm(h)); h = h + mlp(post_attention_layernorm(h)).
 * RMSNorm, RoPE (all rope_scaling types via model/config.ts), GQA, optional attention_bias
 * (q/k/v/o biases), optional mlp_bias, tied or untied lm_head. Mistral differs only in config:
 * a `sliding_window` that applies to every layer when set.
 */
import type { FamilyDefaults, LayerType } from '../model/config.js';
import type { ModelBuilder } from './blocks.js';
import type { ArchitectureFamily } from './types.js';

/** Weights and forward of one Llama-style decoder layer (shared by the Qwen family). */
export function llamaBlock(m: ModelBuilder, h: string, l: number, opts: { qkvBias: boolean; outBias: boolean; headNorm?: boolean }): string {
  const { hiddenSize: H, numHeads: nh, numKvHeads: nkv, headDim: D } = m.cfg;
  const p = `model.layers.${l}`;
  const x = m.rmsNorm(h, `${p}.input_layernorm.weight`, H);
  const proj = (name: string, out: number, bias: boolean) =>
    m.linear(x, { weight: `${p}.self_attn.${name}.weight`, bias: bias ? `${p}.self_attn.${name}.bias` : null, inFeatures: H, outFeatures: out, requireBias: true });
  const q = proj('q_proj', nh * D, opts.qkvBias);
  const k = proj('k_proj', nkv * D, opts.qkvBias);
  const v = proj('v_proj', nkv * D, opts.qkvBias);
  const headNorm = opts.headNorm ? { q: `${p}.self_attn.q_norm.weight`, k: `${p}.self_attn.k_norm.weight` } : undefined;
  const attn = m.selfAttention(q, k, v, l, { headNorm });
  const o = m.linear(attn, { weight: `${p}.self_attn.o_proj.weight`, bias: opts.outBias ? `${p}.self_attn.o_proj.bias` : null, inFeatures: nh * D, outFeatures: H, requireBias: true });
  const { sum, normed } = m.addAndRmsNorm(h, o, `${p}.post_attention_layernorm.weight`);
  const mlp = m.gatedMlp(normed, { gate: `${p}.mlp.gate_proj.weight`, up: `${p}.mlp.up_proj.weight`, down: `${p}.mlp.down_proj.weight`, bias: m.cfg.mlpBias });
  return m.residualAdd(sum, mlp);
}

/** Embeddings → L blocks (each followed by steerAndCapture) → final norm → lm_head. */
export function buildLlamaStyle(m: ModelBuilder, block: (h: string, l: number) => string): void {
  const { hiddenSize: H, numLayers: L } = m.cfg;
  let h = m.embed('model.embed_tokens.weight');
  h = m.steerAndCapture(h, 0);
  for (let l = 0; l < L; l++) {
    h = m.layer(l, () => block(h, l));
    h = m.steerAndCapture(h, l + 1);
  }
  const lmHead = m.cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  m.finalNormAndLogits(h, (x) => m.rmsNorm(x, 'model.norm.weight', H), lmHead);
}

const mistralLayers = (_raw: Record<string, unknown>, n: number, window: number | null): LayerType[] =>
  Array<LayerType>(n).fill(window ? 'sliding_attention' : 'full_attention');

export const llamaFamily: ArchitectureFamily = {
  family: 'llama',
  architectures: ['LlamaForCausalLM', 'MistralForCausalLM'],
  modelTypes: ['llama', 'mistral'],
  defaults: (modelType): FamilyDefaults =>
    modelType === 'mistral'
      ? { tieWordEmbeddings: false, normEps: 1e-6, ropeTheta: 10000, maxPositions: 4096 * 32, layerTypes: mistralLayers }
      // LlamaConfig ignores sliding_window entirely.
      : { tieWordEmbeddings: false, normEps: 1e-6, ropeTheta: 10000, maxPositions: 2048, slidingWindow: () => null },
  build: (m) => buildLlamaStyle(m, (h, l) => llamaBlock(m, h, l, { qkvBias: m.cfg.qkvBias, outBias: m.cfg.outBias })),
};
