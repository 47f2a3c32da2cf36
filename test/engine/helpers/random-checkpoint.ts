/**
 * Tiny random HF-style checkpoints for compiler tests: HF tensor names written here independently
 * of the compiler's architecture files, seeded weights (std 1/sqrt(fan_in) like the parity fixtures,
 * so every component visibly moves the outputs).
 */
import fs from 'node:fs';
import path from 'node:path';
import { float32ToBf16, float32ToF16, writeSafetensors, type StDType, type TensorToWrite } from '../../../src/engine/weights/safetensors.js';

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = Math.max(uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

export type Weights = Map<string, { shape: number[]; data: Float32Array }>;

/** Every tensor name → shape for a raw config (HF naming), per family. */
export function tensorShapes(raw: Record<string, any>): Map<string, number[]> {
  const mt = raw.model_type as string;
  const out = new Map<string, number[]>();
  if (mt === 'gpt2') {
    const H = raw.n_embd, I = raw.n_inner ?? 4 * H, p = raw._prefix ?? '';
    out.set(`${p}wte.weight`, [raw.vocab_size, H]);
    out.set(`${p}wpe.weight`, [raw.n_positions, H]);
    for (let l = 0; l < raw.n_layer; l++) {
      const b = `${p}h.${l}`;
      for (const n of ['ln_1', 'ln_2']) { out.set(`${b}.${n}.weight`, [H]); out.set(`${b}.${n}.bias`, [H]); }
      out.set(`${b}.attn.c_attn.weight`, [H, 3 * H]); out.set(`${b}.attn.c_attn.bias`, [3 * H]);
      out.set(`${b}.attn.c_proj.weight`, [H, H]); out.set(`${b}.attn.c_proj.bias`, [H]);
      out.set(`${b}.mlp.c_fc.weight`, [H, I]); out.set(`${b}.mlp.c_fc.bias`, [I]);
      out.set(`${b}.mlp.c_proj.weight`, [I, H]); out.set(`${b}.mlp.c_proj.bias`, [H]);
    }
    out.set(`${p}ln_f.weight`, [H]); out.set(`${p}ln_f.bias`, [H]);
    if (raw.tie_word_embeddings === false) out.set('lm_head.weight', [raw.vocab_size, H]);
    return out;
  }
  const H = raw.hidden_size, nh = raw.num_attention_heads, nkv = raw.num_key_value_heads ?? nh;
  const D = raw.head_dim ?? H / nh, I = raw.intermediate_size;
  out.set('model.embed_tokens.weight', [raw.vocab_size, H]);
  if (mt === 'phi3' || mt === 'apertus' || mt === 'gemma2' || mt === 'gemma3_text') {
    for (let l = 0; l < raw.num_hidden_layers; l++) {
      const b = `model.layers.${l}`;
      if (mt === 'phi3') {
        out.set(`${b}.self_attn.qkv_proj.weight`, [(nh + 2 * nkv) * D, H]);
        out.set(`${b}.mlp.gate_up_proj.weight`, [2 * I, H]);
        out.set(`${b}.input_layernorm.weight`, [H]); out.set(`${b}.post_attention_layernorm.weight`, [H]);
      } else {
        out.set(`${b}.self_attn.q_proj.weight`, [nh * D, H]); out.set(`${b}.self_attn.k_proj.weight`, [nkv * D, H]); out.set(`${b}.self_attn.v_proj.weight`, [nkv * D, H]);
      }
      out.set(`${b}.self_attn.o_proj.weight`, [H, nh * D]);
      out.set(`${b}.mlp.down_proj.weight`, [H, I]);
      if (mt === 'apertus') {
        out.set(`${b}.mlp.up_proj.weight`, [I, H]);
        for (const n of ['alpha_p', 'alpha_n']) out.set(`${b}.mlp.act_fn.${n}`, [1]);
        for (const n of ['beta', 'eps']) out.set(`${b}.mlp.act_fn.${n}`, []);
        out.set(`${b}.attention_layernorm.weight`, [H]); out.set(`${b}.feedforward_layernorm.weight`, [H]);
        out.set(`${b}.self_attn.q_norm.weight`, [D]); out.set(`${b}.self_attn.k_norm.weight`, [D]);
      }
      if (mt.startsWith('gemma')) {
        out.set(`${b}.mlp.gate_proj.weight`, [I, H]); out.set(`${b}.mlp.up_proj.weight`, [I, H]);
        for (const n of ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm']) out.set(`${b}.${n}.weight`, [H]);
        if (mt === 'gemma3_text') { out.set(`${b}.self_attn.q_norm.weight`, [D]); out.set(`${b}.self_attn.k_norm.weight`, [D]); }
      }
    }
    out.set('model.norm.weight', [H]);
    const tied = mt.startsWith('gemma') ? raw.tie_word_embeddings !== false : raw.tie_word_embeddings === true;
    if (!tied) out.set('lm_head.weight', [raw.vocab_size, H]);
    return out;
  }
  const qkvBias = mt === 'qwen2' || raw.attention_bias === true;
  const oBias = mt !== 'qwen2' && raw.attention_bias === true;
  for (let l = 0; l < raw.num_hidden_layers; l++) {
    const b = `model.layers.${l}`;
    out.set(`${b}.self_attn.q_proj.weight`, [nh * D, H]);
    out.set(`${b}.self_attn.k_proj.weight`, [nkv * D, H]);
    out.set(`${b}.self_attn.v_proj.weight`, [nkv * D, H]);
    out.set(`${b}.self_attn.o_proj.weight`, [H, nh * D]);
    if (qkvBias) for (const [n, s] of [['q', nh * D], ['k', nkv * D], ['v', nkv * D]] as const) out.set(`${b}.self_attn.${n}_proj.bias`, [s]);
    if (oBias) out.set(`${b}.self_attn.o_proj.bias`, [H]);
    out.set(`${b}.mlp.gate_proj.weight`, [I, H]); out.set(`${b}.mlp.up_proj.weight`, [I, H]); out.set(`${b}.mlp.down_proj.weight`, [H, I]);
    if (mt === 'olmo2' || mt === 'olmo3') {
      out.set(`${b}.self_attn.q_norm.weight`, [nh * D]); out.set(`${b}.self_attn.k_norm.weight`, [nkv * D]);
      out.set(`${b}.post_attention_layernorm.weight`, [H]); out.set(`${b}.post_feedforward_layernorm.weight`, [H]);
    } else {
      out.set(`${b}.input_layernorm.weight`, [H]); out.set(`${b}.post_attention_layernorm.weight`, [H]);
      if (mt === 'qwen3') { out.set(`${b}.self_attn.q_norm.weight`, [D]); out.set(`${b}.self_attn.k_norm.weight`, [D]); }
    }
  }
  out.set('model.norm.weight', [H]);
  if (raw.tie_word_embeddings !== true) out.set('lm_head.weight', [raw.vocab_size, H]);
  return out;
}

/** Seeded random weights for a config. */
export function randomWeights(raw: Record<string, any>, seed = 1): Weights {
  const gauss = rng(seed);
  const w: Weights = new Map();
  for (const [name, shape] of tensorShapes(raw)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = /(norm|ln_\d|ln_f)\.weight$/.test(name);
    const isBias = name.endsWith('.bias');
    // Conv1D (GPT-2) is [in, out]; Linear is [out, in]; embeddings [V, H].
    const fanIn = name.includes('.c_') && !isBias ? shape[0] : shape.length === 2 ? shape[1] : 1;
    const std = isNorm ? 0.1 : isBias ? 0.25 : 1 / Math.sqrt(fanIn);
    for (let i = 0; i < n; i++) data[i] = (isNorm ? 1 : 0) + std * gauss();
    // xIELU learned scalars (Apertus): beta/eps are fixed buffers, alphas vary.
    if (name.endsWith('act_fn.beta')) data[0] = 0.5;
    if (name.endsWith('act_fn.eps')) data[0] = -1e-6;
    if (/act_fn\.alpha_[pn]$/.test(name)) data[0] = 0.5 * gauss();
    if (/(ln_\d|ln_f)\.bias$/.test(name)) for (let i = 0; i < n; i++) data[i] = 0.1 * gauss();
    w.set(name, { shape, data });
  }
  return w;
}

export function toTensors(w: Weights, dtype: StDType = 'F32', names?: string[]): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const [name, t] of w) {
    if (names && !names.includes(name)) continue;
    if (dtype === 'F32') out[name] = { dtype, shape: t.shape, data: t.data };
    else out[name] = { dtype, shape: t.shape, data: Uint16Array.from(t.data, dtype === 'BF16' ? float32ToBf16 : float32ToF16) };
  }
  return out;
}

/** Write config.json + model.safetensors (or `shards` shards + index) into dir. */
export function writeCheckpoint(dir: string, raw: Record<string, any>, w: Weights, opts: { dtype?: StDType; shards?: number } = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  const { _prefix: _, ...config } = raw;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const names = [...w.keys()].sort();
  const shards = opts.shards ?? 1;
  if (shards === 1) {
    writeSafetensors(path.join(dir, 'model.safetensors'), toTensors(w, opts.dtype));
    return dir;
  }
  const weightMap: Record<string, string> = {};
  const per = Math.ceil(names.length / shards);
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = names.slice(s * per, (s + 1) * per);
    for (const n of part) weightMap[n] = file;
    writeSafetensors(path.join(dir, file), toTensors(w, opts.dtype, part));
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  return dir;
}

/**
 * Standard HF configs for random checkpoints of the families the benchmarks and memory tests use, at a given
 * width/depth (Llama: untied, no biases; Qwen2: q/k/v biases, tied; OLMo 2: q/k norms over all heads, post-norms).
 */
export function familyConfig(family: 'llama' | 'qwen2' | 'olmo2', dims: { hidden: number; intermediate: number; layers: number; heads: number; kvHeads: number; vocab: number; maxPositions?: number }): Record<string, any> {
  const common = {
    hidden_size: dims.hidden, intermediate_size: dims.intermediate, num_hidden_layers: dims.layers, num_attention_heads: dims.heads,
    num_key_value_heads: dims.kvHeads, vocab_size: dims.vocab, max_position_embeddings: dims.maxPositions ?? 4096, hidden_act: 'silu',
    rope_theta: 10000, bos_token_id: 1, eos_token_id: 2,
  };
  if (family === 'qwen2') return { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', rms_norm_eps: 1e-6, tie_word_embeddings: true, ...common };
  if (family === 'olmo2') return { architectures: ['Olmo2ForCausalLM'], model_type: 'olmo2', rms_norm_eps: 1e-6, tie_word_embeddings: false, ...common };
  return { architectures: ['LlamaForCausalLM'], model_type: 'llama', rms_norm_eps: 1e-6, tie_word_embeddings: false, ...common };
}

/**
 * Like writeCheckpoint(randomWeights(raw, seed)), but streaming: each tensor is generated when its shard is
 * written (seeded by its name), so a 1 B-parameter BF16 checkpoint never holds more than one tensor in
 * float32. Same initialisation rule as randomWeights (norms 1 ± 0.1, biases σ 0.25, matrices σ 1/√fan_in);
 * not bit-identical to it (different per-tensor seeding). Returns the number of parameters.
 */
export function writeRandomCheckpoint(dir: string, raw: Record<string, any>, opts: { seed?: number; dtype?: StDType; shards?: number } = {}): { dir: string; params: number } {
  fs.mkdirSync(dir, { recursive: true });
  const { _prefix: _, ...config } = raw;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const shapes = tensorShapes(raw);
  const names = [...shapes.keys()].sort();
  const dtype = opts.dtype ?? 'BF16';
  let params = 0;
  const tensor = (name: string): TensorToWrite => {
    const shape = shapes.get(name)!;
    const n = shape.reduce((a, b) => a * b, 1);
    params += n;
    return {
      dtype, shape, data: () => {
        let h = opts.seed ?? 1;
        for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 2654435761) >>> 0;
        const gauss = rng(h);
        const isNorm = /norm\.weight$/.test(name);
        const isBias = name.endsWith('.bias');
        const std = isNorm ? 0.1 : isBias ? 0.25 : 1 / Math.sqrt(shape.length === 2 ? shape[1] : 1);
        const f = new Float32Array(n);
        for (let i = 0; i < n; i++) f[i] = (isNorm ? 1 : 0) + std * gauss();
        return dtype === 'F32' ? f : Uint16Array.from(f, dtype === 'BF16' ? float32ToBf16 : float32ToF16);
      },
    };
  };
  const shards = opts.shards ?? 1;
  if (shards === 1) {
    writeSafetensors(path.join(dir, 'model.safetensors'), Object.fromEntries(names.map((n) => [n, tensor(n)])));
    return { dir, params };
  }
  const weightMap: Record<string, string> = {};
  const per = Math.ceil(names.length / shards);
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = names.slice(s * per, (s + 1) * per);
    for (const n of part) weightMap[n] = file;
    writeSafetensors(path.join(dir, file), Object.fromEntries(part.map((n) => [n, tensor(n)])));
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  return { dir, params };
}
