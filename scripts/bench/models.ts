/**
 * The bench's models, made by the bench itself (nothing downloads): the toy organism as shipped, and
 * random-initialised Llama checkpoints in HF format (config.json + sharded BF16 safetensors with an
 * index, no tokenizer: prompts are token ids), cached under .cache/bench/models/<name>.
 *
 * Weights are deterministic for a given spec and seed (a counter-based hash per element, uniform with
 * std 1/sqrt(fan_in) so activations stay O(1) and every component moves the outputs, like the parity
 * fixtures). A stamp file records the spec; a different spec or generator version rewrites the folder.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/weights/safetensors.js';

export interface LlamaSpec {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  maxPositions: number;
  seed: number;
  dtype: 'BF16' | 'F32';
  shards: number;
}

export interface BenchModel {
  name: string;
  dir: string;
  params: number;
  /** Bytes of the weight files on disk. */
  fileBytes: number;
  dtype: string;
  layers: number;
  hidden: number;
  vocab: number;
  maxPositions: number;
  /** Bytes one batch-1 decode step must read from the weights in f32 (every matrix but the embedding table, plus one embedding row). */
  f32BytesPerToken: number;
  /** Per-token KV cache bytes in f32 at one position (keys + values, all layers). */
  kvBytesPerPosition: number;
  tied: boolean;
}

const GENERATOR_VERSION = 1;

export const RANDOM_SPECS: Record<string, LlamaSpec> = {
  // ≈ 1.0 B params, 2.0 GB BF16 in 4 shards (TinyLlama-like widths, 20 layers).
  'random-llama-1b': { vocab: 32000, hidden: 2048, layers: 20, heads: 32, kvHeads: 8, intermediate: 5632, maxPositions: 4096, seed: 1, dtype: 'BF16', shards: 4 },
  // ≈ 245 M params, 490 MB BF16 in 2 shards: the development-size model (the 258 M peer comparison).
  'random-llama-250m': { vocab: 32000, hidden: 1024, layers: 16, heads: 16, kvHeads: 4, intermediate: 2816, maxPositions: 4096, seed: 1, dtype: 'BF16', shards: 2 },
  // ≈ 12 M params: fast enough for tests.
  'random-llama-tiny': { vocab: 4096, hidden: 256, layers: 4, heads: 8, kvHeads: 2, intermediate: 704, maxPositions: 4096, seed: 1, dtype: 'BF16', shards: 2 },
};

export const MODEL_NAMES = ['toy', ...Object.keys(RANDOM_SPECS)];

/** splitmix32-style hash of (seed, tensor, index) → uniform in [-1, 1). Counter-based, so any element is reproducible alone. */
function fillUniform(out: Float32Array, seed: number, scale: number): void {
  let s = (seed * 0x9e3779b9) >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 2147483648) - 1) * scale;
  }
}

/** Float32 → BF16 with round-to-nearest-even (the same rounding as torch's .to(bfloat16)). */
function toBf16(a: Float32Array): Uint16Array {
  const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const out = new Uint16Array(a.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

function llamaTensors(spec: LlamaSpec): { name: string; shape: number[]; kind: 'mat' | 'ones' }[] {
  const { vocab: V, hidden: H, layers: L, heads, kvHeads, intermediate: I } = spec;
  const d = H / heads;
  const t: { name: string; shape: number[]; kind: 'mat' | 'ones' }[] = [{ name: 'model.embed_tokens.weight', shape: [V, H], kind: 'mat' }];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    t.push(
      { name: `${p}self_attn.q_proj.weight`, shape: [heads * d, H], kind: 'mat' },
      { name: `${p}self_attn.k_proj.weight`, shape: [kvHeads * d, H], kind: 'mat' },
      { name: `${p}self_attn.v_proj.weight`, shape: [kvHeads * d, H], kind: 'mat' },
      { name: `${p}self_attn.o_proj.weight`, shape: [H, heads * d], kind: 'mat' },
      { name: `${p}mlp.gate_proj.weight`, shape: [I, H], kind: 'mat' },
      { name: `${p}mlp.up_proj.weight`, shape: [I, H], kind: 'mat' },
      { name: `${p}mlp.down_proj.weight`, shape: [H, I], kind: 'mat' },
      { name: `${p}input_layernorm.weight`, shape: [H], kind: 'ones' },
      { name: `${p}post_attention_layernorm.weight`, shape: [H], kind: 'ones' },
    );
  }
  t.push({ name: 'model.norm.weight', shape: [H], kind: 'ones' }, { name: 'lm_head.weight', shape: [V, H], kind: 'mat' });
  return t;
}

/** Writes (or reuses) a random Llama checkpoint. Returns its folder. */
export function ensureRandomLlama(dir: string, spec: LlamaSpec, log: (m: string) => void = () => {}): string {
  const stampFile = path.join(dir, 'bench-model.json');
  const stamp = JSON.stringify({ generator: GENERATOR_VERSION, spec });
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const { vocab: V, hidden: H, layers: L, heads, kvHeads, intermediate: I } = spec;
  const config = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', attention_bias: false, attention_dropout: 0, mlp_bias: false,
    bos_token_id: 1, eos_token_id: 2, head_dim: H / heads, hidden_act: 'silu', hidden_size: H, initializer_range: 0.02,
    intermediate_size: I, max_position_embeddings: spec.maxPositions, num_attention_heads: heads, num_hidden_layers: L,
    num_key_value_heads: kvHeads, rms_norm_eps: 1e-6, rope_scaling: null, rope_theta: 10000, tie_word_embeddings: false,
    torch_dtype: spec.dtype === 'BF16' ? 'bfloat16' : 'float32', vocab_size: V,
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const tensors = llamaTensors(spec);
  const total = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const perShard = Math.ceil(total / spec.shards);
  const shards: (typeof tensors)[] = [[]];
  let acc = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((x, y) => x * y, 1);
    if (acc >= perShard && shards.length < spec.shards) { shards.push([]); acc = 0; }
    shards[shards.length - 1].push(t);
    acc += n;
  }
  const weightMap: Record<string, string> = {};
  const t0 = performance.now();
  shards.forEach((part, s) => {
    const file = shards.length === 1 ? 'model.safetensors' : `model-${String(s + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const out: Record<string, TensorToWrite> = {};
    for (const t of part) {
      weightMap[t.name] = file;
      const idx = tensors.indexOf(t);
      out[t.name] = {
        dtype: spec.dtype, shape: t.shape,
        data: () => {
          const n = t.shape.reduce((x, y) => x * y, 1);
          const a = new Float32Array(n);
          if (t.kind === 'ones') a.fill(1);
          // uniform[-a, a] has std a/√3: a = √3/√fan_in gives std 1/√fan_in
          else fillUniform(a, spec.seed * 100003 + idx, Math.sqrt(3 / t.shape[1]));
          return spec.dtype === 'BF16' ? toBf16(a) : a;
        },
      };
    }
    writeSafetensors(path.join(dir, file), out);
    log(`  wrote ${file} (${part.length} tensors)`);
  });
  if (shards.length > 1) writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total * (spec.dtype === 'BF16' ? 2 : 4) }, weight_map: weightMap }, null, 2));
  log(`  ${(total / 1e6).toFixed(0)} M params in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(stampFile, stamp);
  return dir;
}

/** Describes a checkpoint folder (from its config.json and files). */
export function describeModel(name: string, dir: string): BenchModel {
  const raw = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number & boolean & string>;
  const H = raw.hidden_size, L = raw.num_hidden_layers, V = raw.vocab_size, I = raw.intermediate_size;
  const nh = raw.num_attention_heads, nkv = raw.num_key_value_heads ?? nh, d = raw.head_dim ?? H / nh;
  const tied = raw.tie_word_embeddings === true;
  const perLayer = H * nh * d * 2 + H * nkv * d * 2 + 3 * H * I + 2 * H;
  const params = V * H * (tied ? 1 : 2) + L * perLayer + H;
  const idx = path.join(dir, 'model.safetensors.index.json');
  const files = existsSync(idx)
    ? [...new Set(Object.values((JSON.parse(readFileSync(idx, 'utf8')) as { weight_map: Record<string, string> }).weight_map))]
    : ['model.safetensors'];
  const fileBytes = files.reduce((a, f) => a + statSync(path.join(dir, f)).size, 0);
  // Decode reads every layer matrix and the LM head (tied: the embedding table as the head) once per step.
  const f32BytesPerToken = 4 * (L * perLayer + V * H + 2 * H);
  return {
    name, dir, params, fileBytes, dtype: String(raw.torch_dtype ?? 'float32'), layers: L, hidden: H, vocab: V,
    maxPositions: raw.max_position_embeddings ?? 4096, f32BytesPerToken, kvBytesPerPosition: 4 * 2 * L * nkv * d, tied,
  };
}

/** Resolves a bench model name to its folder, making random checkpoints on first use. */
export function resolveModel(name: string, root: string, cacheRoot: string, log: (m: string) => void): BenchModel {
  if (name === 'toy') return describeModel('toy', path.join(root, 'models', 'toy-persona', 'revisions', 'main'));
  const spec = RANDOM_SPECS[name];
  if (!spec) throw new Error(`unknown bench model '${name}' (known: ${MODEL_NAMES.join(', ')})`);
  const dir = path.join(cacheRoot, 'models', name);
  if (!existsSync(path.join(dir, 'bench-model.json'))) log(`writing ${name} into ${path.relative(root, dir)} (once; cached)…`);
  ensureRandomLlama(dir, spec, log);
  return describeModel(name, dir);
}
