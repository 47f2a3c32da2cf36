/**
 * Qwen family: Qwen2ForCausalLM, Qwen3ForCausalLM (HF modeling_qwen2.py / modeling_qwen3.py).
 *
 * Llama-style blocks with two differences:
 *   Qwen2: q/k/v biases are hard-coded on (no config flag); o_proj has none.
 *   Qwen3: no q/k/v biases by default (`attention_bias`, default false) and a per-head RMSNorm
 *          (q_norm, k_norm over head_dim) on q and k before RoPE.
 * Sliding windows: only when `use_sliding_window` is true, for layers ≥ `max_window_layers`
 * (config's `layer_types` wins when present).
 */
import type { FamilyDefaults, LayerType } from '../model/config.js';
import { buildLlamaStyle, llamaBlock } from './llama.js';
import type { ArchitectureFamily } from './types.js';

const qwenWindow = (raw: Record<string, unknown>): number | null =>
  raw.use_sliding_window === true && typeof raw.sliding_window === 'number' ? raw.sliding_window : null;

const qwenLayers = (raw: Record<string, unknown>, n: number, window: number | null): LayerType[] => {
  const first = typeof raw.max_window_layers === 'number' ? raw.max_window_layers : n;
  return Array.from({ length: n }, (_, i) => (window && i >= first ? 'sliding_attention' : 'full_attention'));
};

export const qwenFamily: ArchitectureFamily = {
  family: 'qwen',
  architectures: ['Qwen2ForCausalLM', 'Qwen3ForCausalLM'],
  modelTypes: ['qwen2', 'qwen3'],
  defaults: (modelType): FamilyDefaults => ({
    tieWordEmbeddings: false, normEps: 1e-6, ropeTheta: 10000, maxPositions: 32768,
    qkvBias: modelType === 'qwen2', slidingWindow: qwenWindow, layerTypes: qwenLayers,
  }),
  build: (m) => {
    const qwen3 = m.cfg.modelType === 'qwen3' || m.cfg.architecture === 'Qwen3ForCausalLM';
    buildLlamaStyle(m, (h, l) => llamaBlock(m, h, l, {
      qkvBias: qwen3 ? m.cfg.qkvBias : true,
      outBias: qwen3 ? m.cfg.outBias : false,
      headNorm: qwen3,
    }));
  },
};
