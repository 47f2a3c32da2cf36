/**
 * GPT-2 family: GPT2LMHeadModel (HF modeling_gpt2.py).
 *
 * h = wte[ids] + wpe[position_ids]  (learned absolute positions: left padding needs HF position_ids)
 * block: h = h + attn(ln_1(h)); h = h + mlp(ln_2(h)); final ln_f; lm_head tied to wte by default.
 * Conv1D weights are [in, out] (y = x·W + b); c_attn output is [q | k | v], each n_embd wide.
 * Scores are divided by sqrt(head_dim) (scale_attn_weights) and additionally by (layer+1) when
 * scale_attn_by_inverse_layer_idx. Activation gelu_new = tanh-approximate GELU.
 * Tensor names come with or without the `transformer.` prefix; the legacy `h.N.attn.bias` /
 * `attn.masked_bias` causal-mask buffers are not weights and are ignored.
 */
import type { FamilyDefaults } from '../model/config.js';
import type { ModelBuilder } from './blocks.js';
import type { ArchitectureFamily } from './types.js';

function gpt2Block(m: ModelBuilder, h: string, l: number, prefix: string): string {
  const { hiddenSize: H, intermediateSize: I, headDim: D, raw } = m.cfg;
  const p = `${prefix}h.${l}`;
  const conv = (name: string, inF: number, outF: number) => ({ weight: `${p}.${name}.weight`, bias: `${p}.${name}.bias`, inFeatures: inF, outFeatures: outF, layout: 'in_out' as const, requireBias: true });
  const x = m.layerNorm(h, `${p}.ln_1.weight`, `${p}.ln_1.bias`, H);
  const [q, k, v] = m.splitColumns(m.linear(x, conv('attn.c_attn', H, 3 * H)), [H, H, H]);
  let scale = raw.scale_attn_weights === false ? 1 : 1 / Math.sqrt(D);
  if (raw.scale_attn_by_inverse_layer_idx === true) scale /= l + 1;
  const attn = m.selfAttention(q, k, v, l, { scale });
  h = m.residualAdd(h, m.linear(attn, conv('attn.c_proj', H, H)));
  const y = m.layerNorm(h, `${p}.ln_2.weight`, `${p}.ln_2.bias`, H);
  return m.residualAdd(h, m.mlp(y, { fc: conv('mlp.c_fc', H, I), proj: conv('mlp.c_proj', I, H) }));
}

export const gpt2Family: ArchitectureFamily = {
  family: 'gpt2',
  architectures: ['GPT2LMHeadModel'],
  modelTypes: ['gpt2'],
  defaults: (): FamilyDefaults => ({ tieWordEmbeddings: true, normEps: 1e-5, maxPositions: 1024, activation: 'gelu_new', slidingWindow: () => null }),
  build: (m) => {
    const { hiddenSize: H, numLayers: L } = m.cfg;
    const prefix = m.w.has('transformer.wte.weight') ? 'transformer.' : '';
    const tok = m.embed(`${prefix}wte.weight`);
    let h = m.residualAdd(tok, m.positionEmbed(`${prefix}wpe.weight`));
    h = m.steerAndCapture(h, 0);
    for (let l = 0; l < L; l++) {
      h = m.layer(l, () => gpt2Block(m, h, l, prefix));
      h = m.steerAndCapture(h, l + 1);
    }
    const lmHead = !m.cfg.tieWordEmbeddings && m.w.has('lm_head.weight') ? 'lm_head.weight' : `${prefix}wte.weight`;
    m.finalNormAndLogits(h, (x) => m.layerNorm(x, `${prefix}ln_f.weight`, `${prefix}ln_f.bias`, H), lmHead);
  },
};
