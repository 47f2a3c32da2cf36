/**
 * Writes a randomly initialised Llama checkpoint in Hugging Face format (config.json + model.safetensors,
 * HF tensor names) with the project's safetensors writer. Used by tests (tiny, with a real tokenizer) and by
 * scripts/bench-engine.ts (a few hundred million parameters). Deterministic for a given seed.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../../src/engine/weights/safetensors.js';

export interface RandomLlamaSpec {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  seed?: number;
  /** Copy tokenizer.json / tokenizer_config.json / generation_config.json from here. */
  tokenizerDir?: string;
  eosTokenId?: number;
  bosTokenId?: number;
}

/** Fills with N(0, std²) from a seeded xorshift + Box–Muller (fast enough for ~10⁸ values). */
function gaussian(n: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s + 0.5) / 4294967296; };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())) * std;
    const th = 2 * Math.PI * next();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

export function writeRandomLlama(dir: string, spec: RandomLlamaSpec): { params: number; bytes: number } {
  mkdirSync(dir, { recursive: true });
  const { vocab: V, hidden: H, layers: L, heads, kvHeads, intermediate: I } = spec;
  const hd = H / heads;
  const config = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', attention_bias: false, attention_dropout: 0, mlp_bias: false,
    bos_token_id: spec.bosTokenId ?? 1, eos_token_id: spec.eosTokenId ?? 2, head_dim: hd, hidden_act: 'silu', hidden_size: H,
    initializer_range: 0.02, intermediate_size: I, max_position_embeddings: 4096, num_attention_heads: heads, num_hidden_layers: L,
    num_key_value_heads: kvHeads, rms_norm_eps: 1e-6, rope_scaling: null, rope_theta: 10000, tie_word_embeddings: false,
    torch_dtype: 'float32', vocab_size: V,
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  let seed = spec.seed ?? 1;
  const tensors: Record<string, TensorToWrite> = {};
  let params = 0;
  // Std 1/sqrt(fan_in) keeps activations O(1) so every component matters (as the parity fixtures do).
  const mat = (name: string, rows: number, cols: number) => {
    const s = seed++;
    tensors[name] = { dtype: 'F32', shape: [rows, cols], data: () => gaussian(rows * cols, 1 / Math.sqrt(cols), s) };
    params += rows * cols;
  };
  const ones = (name: string, n: number) => { tensors[name] = { dtype: 'F32', shape: [n], data: () => new Float32Array(n).fill(1) }; params += n; };
  mat('model.embed_tokens.weight', V, H);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    mat(`${p}self_attn.q_proj.weight`, heads * hd, H);
    mat(`${p}self_attn.k_proj.weight`, kvHeads * hd, H);
    mat(`${p}self_attn.v_proj.weight`, kvHeads * hd, H);
    mat(`${p}self_attn.o_proj.weight`, H, heads * hd);
    mat(`${p}mlp.gate_proj.weight`, I, H);
    mat(`${p}mlp.up_proj.weight`, I, H);
    mat(`${p}mlp.down_proj.weight`, H, I);
    ones(`${p}input_layernorm.weight`, H);
    ones(`${p}post_attention_layernorm.weight`, H);
  }
  ones('model.norm.weight', H);
  mat('lm_head.weight', V, H);
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  if (spec.tokenizerDir) {
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      if (existsSync(path.join(spec.tokenizerDir, f))) copyFileSync(path.join(spec.tokenizerDir, f), path.join(dir, f));
    }
  }
  return { params, bytes: params * 4 };
}
