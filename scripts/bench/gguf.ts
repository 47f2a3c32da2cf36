/**
 * Writes a bench checkpoint (HF Llama safetensors) as GGUF v3 for the llama.cpp peer, in F32, Q8_0 or Q4_0,
 * the way llama.cpp's convert_hf_to_gguf.py + llama-quantize lay it out: llama tensor names, q/k rows permuted
 * for GGML's RoPE, norms in F32, every 2-D weight in the file type (including token_embd and output, so the
 * bytes per token match the format). The vocabulary is a placeholder SentencePiece table (<unk>, <s>, </s>,
 * the 256 byte tokens, then "▁t<i>"): prompts are token ids, so no text is ever tokenized.
 *
 * Quantization follows ggml's reference quantize_row_q8_0 / quantize_row_q4_0 (blocks of 32 with an f16 scale).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { readSafetensorsHeader, readTensor, toFloat32, float32ToF16, type SafetensorsHeader } from '../../src/engine/weights/safetensors.js';

export type GgufType = 'F32' | 'Q8_0' | 'Q4_0';
const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 } as const;
const FILE_TYPE = { F32: 0, Q8_0: 7, Q4_0: 2 } as const;
const QK = 32;

function quantQ8_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[b * QK + j]));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    dv.setUint16(b * 34, float32ToF16(d), true);
    for (let j = 0; j < QK; j++) dv.setInt8(b * 34 + 2 + j, Math.round(x[b * QK + j] * id));
  }
  return out;
}

function quantQ4_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 18);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0, max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[b * QK + j];
      if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
    }
    const d = max / -8;
    const id = d ? 1 / d : 0;
    dv.setUint16(b * 18, float32ToF16(d), true);
    for (let j = 0; j < QK / 2; j++) {
      const q0 = Math.min(15, Math.trunc(x[b * QK + j] * id + 8.5));
      const q1 = Math.min(15, Math.trunc(x[b * QK + QK / 2 + j] * id + 8.5));
      out[b * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** convert_hf_to_gguf LlamaModel.permute: HF rotate-half rows → GGML's interleaved RoPE pairs. */
function permuteQK(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const out = new Float32Array(w.length);
  const per = rows / heads, half = per / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let two = 0; two < 2; two++) {
        const src = h * per + two * half + i; // reshape(heads, 2, half, cols)
        const dst = h * per + i * 2 + two;    // .swapaxes(1, 2)
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

class Buf {
  private parts: Uint8Array[] = [];
  size = 0;
  push(b: Uint8Array) { this.parts.push(b); this.size += b.length; }
  u32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); this.push(b); }
  i32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); this.push(b); }
  u64(v: number) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); this.push(b); }
  f32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); this.push(b); }
  str(s: string) { const e = Buffer.from(s, 'utf8'); this.u64(e.length); this.push(e); }
  bytes(): Uint8Array { return Buffer.concat(this.parts); }
}

type KV = [string, 'u32' | 'f32' | 'str' | 'strs' | 'f32s' | 'i32s', number | string | string[] | number[]];

function writeKv(b: Buf, [k, t, v]: KV) {
  b.str(k);
  if (t === 'u32') { b.u32(4); b.u32(v as number); }
  else if (t === 'f32') { b.u32(6); b.f32(v as number); }
  else if (t === 'str') { b.u32(8); b.str(v as string); }
  else if (t === 'strs') { b.u32(9); b.u32(8); b.u64((v as string[]).length); for (const s of v as string[]) b.str(s); }
  else if (t === 'f32s') { b.u32(9); b.u32(6); b.u64((v as number[]).length); for (const x of v as number[]) b.f32(x); }
  else { b.u32(9); b.u32(5); b.u64((v as number[]).length); for (const x of v as number[]) b.i32(x); }
}

/** Writes `<outDir>/bench-<type>.gguf` once (reused afterwards; never into the model folder); returns its path. */
export function ensureGguf(modelDir: string, type: GgufType, outDir: string, log: (m: string) => void = () => {}): string {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `bench-${type.toLowerCase()}.gguf`);
  if (existsSync(file)) return file;
  const raw = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as Record<string, number & string & boolean>;
  if (raw.model_type !== 'llama') throw new Error(`GGUF export is written for llama checkpoints, not ${raw.model_type}`);
  const H = raw.hidden_size, L = raw.num_hidden_layers, nh = raw.num_attention_heads, nkv = raw.num_key_value_heads ?? nh, V = raw.vocab_size;
  const hd = raw.head_dim ?? H / nh;
  const idx = path.join(modelDir, 'model.safetensors.index.json');
  const files = existsSync(idx) ? [...new Set(Object.values((JSON.parse(readFileSync(idx, 'utf8')) as { weight_map: Record<string, string> }).weight_map))] : ['model.safetensors'];
  const headers = new Map<string, SafetensorsHeader>();
  for (const f of files) { const h = readSafetensorsHeader(path.join(modelDir, f)); for (const n of h.tensors.keys()) headers.set(n, h); }
  const get = (n: string) => toFloat32(readTensor(headers.get(n)!, n));

  const map: [string, string, 'mat' | 'norm' | 'q' | 'k'][] = [['token_embd.weight', 'model.embed_tokens.weight', 'mat']];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    map.push(
      [`blk.${l}.attn_norm.weight`, `${p}input_layernorm.weight`, 'norm'], [`blk.${l}.attn_q.weight`, `${p}self_attn.q_proj.weight`, 'q'],
      [`blk.${l}.attn_k.weight`, `${p}self_attn.k_proj.weight`, 'k'], [`blk.${l}.attn_v.weight`, `${p}self_attn.v_proj.weight`, 'mat'],
      [`blk.${l}.attn_output.weight`, `${p}self_attn.o_proj.weight`, 'mat'], [`blk.${l}.ffn_norm.weight`, `${p}post_attention_layernorm.weight`, 'norm'],
      [`blk.${l}.ffn_gate.weight`, `${p}mlp.gate_proj.weight`, 'mat'], [`blk.${l}.ffn_up.weight`, `${p}mlp.up_proj.weight`, 'mat'],
      [`blk.${l}.ffn_down.weight`, `${p}mlp.down_proj.weight`, 'mat'],
    );
  }
  map.push(['output_norm.weight', 'model.norm.weight', 'norm'], ['output.weight', headers.has('lm_head.weight') ? 'lm_head.weight' : 'model.embed_tokens.weight', 'mat']);

  const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`)];
  const types = [2, 3, 3, ...Array(256).fill(6)];
  for (let i = tokens.length; i < V; i++) { tokens.push(`▁t${i}`); types.push(1); }
  const kvs: KV[] = [
    ['general.architecture', 'str', 'llama'], ['general.name', 'str', path.basename(modelDir)], ['general.file_type', 'u32', FILE_TYPE[type]],
    ['general.alignment', 'u32', 32],
    ['llama.context_length', 'u32', raw.max_position_embeddings ?? 4096], ['llama.embedding_length', 'u32', H], ['llama.block_count', 'u32', L],
    ['llama.feed_forward_length', 'u32', raw.intermediate_size], ['llama.attention.head_count', 'u32', nh], ['llama.attention.head_count_kv', 'u32', nkv],
    ['llama.rope.freq_base', 'f32', raw.rope_theta ?? 10000], ['llama.attention.layer_norm_rms_epsilon', 'f32', raw.rms_norm_eps ?? 1e-6],
    ['llama.rope.dimension_count', 'u32', hd], ['llama.vocab_size', 'u32', V],
    ['tokenizer.ggml.model', 'str', 'llama'], ['tokenizer.ggml.tokens', 'strs', tokens.slice(0, V)], ['tokenizer.ggml.scores', 'f32s', Array(V).fill(0)],
    ['tokenizer.ggml.token_type', 'i32s', types.slice(0, V)], ['tokenizer.ggml.bos_token_id', 'u32', 1], ['tokenizer.ggml.eos_token_id', 'u32', 2],
    ['tokenizer.ggml.unknown_token_id', 'u32', 0], ['tokenizer.ggml.add_bos_token', 'u32', 0],
  ];
  // add_bos_token is a GGUF bool (type 7), written below
  const head = new Buf();
  head.u32(0x46554747); head.u32(3); head.u64(map.length); head.u64(kvs.length);
  for (const kv of kvs) {
    if (kv[0] === 'tokenizer.ggml.add_bos_token') { head.str(kv[0]); head.u32(7); head.push(new Uint8Array([0])); } else writeKv(head, kv);
  }
  // tensor infos need sizes first
  const shapeOf = (hf: string) => headers.get(hf)!.tensors.get(hf)!.shape;
  // rows that are not whole 32-blocks stay F32 (llama.cpp refuses them quantized)
  const ttype = (kind: string, shape: number[]): GgufType => (kind === 'norm' || type === 'F32' || shape[shape.length - 1] % QK !== 0 ? 'F32' : type);
  const nbytes = (shape: number[], t: GgufType) => { const n = shape.reduce((a, b) => a * b, 1); return t === 'F32' ? n * 4 : t === 'Q8_0' ? (n / QK) * 34 : (n / QK) * 18; };
  const align = (x: number) => Math.ceil(x / 32) * 32;
  let off = 0;
  const offsets: number[] = [];
  for (const [name, hf, kind] of map) {
    const shape = shapeOf(hf);
    head.str(name); head.u32(shape.length);
    for (const d of [...shape].reverse()) head.u64(d);
    head.u32(GGML_TYPE[ttype(kind, shape)]); head.u64(off);
    offsets.push(off);
    off = align(off + nbytes(shape, ttype(kind, shape)));
  }
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const h = head.bytes();
    writeSync(fd, h);
    let pos = h.length;
    const pad = (to: number) => { if (to > pos) { writeSync(fd, new Uint8Array(to - pos)); pos = to; } };
    const dataStart = align(pos);
    pad(dataStart);
    map.forEach(([, hf, kind], i) => {
      const shape = shapeOf(hf);
      let w = get(hf);
      if (kind === 'q') w = permuteQK(w, shape[0], shape[1], nh);
      if (kind === 'k') w = permuteQK(w, shape[0], shape[1], nkv);
      const t = ttype(kind, shape);
      const bytes = t === 'F32' ? new Uint8Array(w.buffer, w.byteOffset, w.byteLength) : t === 'Q8_0' ? quantQ8_0(w) : quantQ4_0(w);
      pad(dataStart + offsets[i]);
      writeSync(fd, bytes);
      pos += bytes.length;
    });
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  log(`  wrote ${path.basename(file)}`);
  return file;
}
