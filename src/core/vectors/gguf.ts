/**
 * llama.cpp / repeng GGUF control vectors: `general.architecture = "controlvector"`, one float32 tensor
 * `direction.N` of shape [H] per steered layer (repeng's ControlVector.export_gguf also writes
 * `controlvector.model_hint` and `controlvector.layer_count`).
 *
 * Layer index convention (llama.cpp source: common.cpp `llama_control_vector_load_one`, src/llama-adapter.cpp
 * `llama_adapter_cvec` / `llama_control_vector`, and the model graphs' `cvec.apply_to(ctx0, cur, il)`):
 *   - `direction.N` is added to `cur` at the end of transformer block `il = N` (0-based), i.e. to the residual
 *     stream *after* block N — HF `hidden_states[N + 1]`. In our convention (row ℓ = hidden_states[ℓ], steering at
 *     row ℓ adds to the output of block ℓ − 1) that is **row N + 1**.
 *   - llama.cpp never has a tensor for il = 0 (`tensors.push_back(nullptr); // there's never a tensor for layer 0`)
 *     and the loader refuses `direction.0` ("invalid (zero) direction tensor layer index"): our row 1 (output of
 *     block 0) cannot be expressed, nor can row 0 (the embeddings).
 *   - `direction.(L − 1)` is added to the last block's output *before* the final norm; our row L is *after* the
 *     final norm (HF's last hidden_states entry), so it is not the same place and is not exported; an imported
 *     `direction.(L − 1)` is refused unless the caller drops it (`dropLast`).
 *   So export writes rows 2 … L − 1 as direction.1 … direction.(L − 2) (all-zero rows are left out, as repeng
 *   writes only the layers it trained), and import is the inverse.
 *
 * Why hand-written: a GGUF file of this kind is a header, a few key/values and N float32 vectors (≈150 lines both
 * ways); there is no maintained JavaScript GGUF *writer* on npm, and `@huggingface/gguf` (the maintained reader)
 * fetches over HTTP ranges and parses model metadata — a dependency for 40 lines of reading we also need to
 * mirror for writing. The format follows ggml's docs/gguf.md (version 3, little-endian, alignment 32).
 */
import { readFileSync } from 'node:fs';
import { PipelineError } from '../errors.js';
import { writeFileAtomic } from '../storage/run.js';

const MAGIC = 0x46554747; // "GGUF" little-endian
const ALIGN = 32;
const T = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12, UINT8: 0, INT8: 1, UINT16: 2, INT16: 3 } as const;
const GGML_F32 = 0;

export interface ControlVector {
  /** GGUF layer index N (llama.cpp's il) → direction [H]. */
  directions: Map<number, Float32Array>;
  hidden: number;
  modelHint: string;
  metadata: Record<string, string | number | boolean>;
}

/**
 * llama.cpp's architecture name (a GGUF model's `general.architecture`, src/llama-arch.cpp) for the HF
 * `model_type`s and `architectures[0]` classes our families load (convert_hf_to_gguf.py's registrations: Mistral
 * converts to "llama", OLMo 3 to "olmo2", Gemma 3's text and multimodal classes to "gemma3").
 */
const LLAMA_CPP_ARCH: Readonly<Record<string, string>> = {
  llama: 'llama', mistral: 'llama', mixtral: 'llama', LlamaForCausalLM: 'llama', MistralForCausalLM: 'llama', MixtralForCausalLM: 'llama',
  qwen2: 'qwen2', Qwen2ForCausalLM: 'qwen2', qwen3: 'qwen3', Qwen3ForCausalLM: 'qwen3',
  olmo2: 'olmo2', olmo3: 'olmo2', Olmo2ForCausalLM: 'olmo2', Olmo3ForCausalLM: 'olmo2',
  apertus: 'apertus', ApertusForCausalLM: 'apertus',
  gemma: 'gemma', GemmaForCausalLM: 'gemma', gemma2: 'gemma2', Gemma2ForCausalLM: 'gemma2',
  gemma3: 'gemma3', gemma3_text: 'gemma3', Gemma3ForCausalLM: 'gemma3', Gemma3ForConditionalGeneration: 'gemma3',
  phi3: 'phi3', Phi3ForCausalLM: 'phi3', gpt2: 'gpt2', GPT2LMHeadModel: 'gpt2',
};

/**
 * `controlvector.model_hint` of an exported vector, in one place for `vectors export --format gguf` and the editor's
 * Export Vector. llama.cpp's own cvector-generator writes the model's `general.architecture` there (its loader, common.cpp
 * common_control_vector_load, reads only the direction tensors; tools that list GGUFs show the hint as the vector's
 * architecture), so ours is llama.cpp's name for the vector's model: the hint given (--model-hint, as is), else the
 * vector's `model_type` metadata (an imported one), else its `architecture` (the HF class extraction records), mapped
 * to llama.cpp's name where they differ; a model_type llama.cpp has no entry for here is kept as it is; "llama" when
 * neither is known (blank counts as absent).
 */
export function ggufModelHint(metadata: Readonly<Record<string, string>>, given?: string): string {
  if (given?.trim()) return given.trim();
  const known = (name: string | undefined) => (name && Object.hasOwn(LLAMA_CPP_ARCH, name) ? LLAMA_CPP_ARCH[name] : undefined);
  const modelType = metadata.model_type?.trim();
  if (modelType) return known(modelType) ?? modelType;
  return known(metadata.architecture?.trim()) ?? 'llama';
}

/** Our row ℓ ↔ llama.cpp's direction index ℓ − 1 (see the header). */
export const rowToDirection = (row: number) => row - 1;
export const directionToRow = (n: number) => n + 1;

// ------------------------------------------------------------------ writing
class Writer {
  private parts: Buffer[] = [];
  private size = 0;
  push(b: Buffer) { this.parts.push(b); this.size += b.length; }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  str(s: string) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  pad() { const r = this.size % ALIGN; if (r) this.push(Buffer.alloc(ALIGN - r)); }
  get length() { return this.size; }
  concat() { return Buffer.concat(this.parts); }
}

export function encodeControlVector(cv: ControlVector): Buffer {
  const kv: [string, string | number | boolean][] = [
    ['general.architecture', 'controlvector'],
    ['controlvector.model_hint', cv.modelHint],
    ['controlvector.layer_count', cv.directions.size],
    ...Object.entries(cv.metadata).filter(([k]) => !['general.architecture', 'controlvector.model_hint', 'controlvector.layer_count'].includes(k)).sort(([a], [b]) => a.localeCompare(b)),
  ];
  const ids = [...cv.directions.keys()].sort((a, b) => a - b);
  const w = new Writer();
  w.u32(MAGIC); w.u32(3); w.u64(ids.length); w.u64(kv.length);
  for (const [k, v] of kv) {
    w.str(k);
    if (typeof v === 'string') { w.u32(T.STRING); w.str(v); }
    else if (typeof v === 'boolean') { w.u32(T.BOOL); w.push(Buffer.from([v ? 1 : 0])); }
    else if (Number.isInteger(v) && v >= 0) { w.u32(T.UINT32); w.u32(v); /* repeng: add_uint32(controlvector.layer_count) */ }
    else { w.u32(T.FLOAT32); const b = Buffer.alloc(4); b.writeFloatLE(v); w.push(b); }
  }
  const bytes = cv.hidden * 4;
  const stride = Math.ceil(bytes / ALIGN) * ALIGN;
  ids.forEach((id, i) => { w.str(`direction.${id}`); w.u32(1); w.u64(cv.hidden); w.u32(GGML_F32); w.u64(i * stride); });
  w.pad();
  for (const id of ids) {
    const d = cv.directions.get(id)!;
    if (d.length !== cv.hidden) throw new PipelineError('vector-invalid', `direction.${id} has ${d.length} values, not ${cv.hidden}`);
    w.push(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    w.pad();
  }
  return w.concat();
}

// ------------------------------------------------------------------ reading
export function decodeControlVector(buf: Buffer, file = 'GGUF file'): ControlVector {
  let o = 0;
  const bad = (msg: string) => new PipelineError('vector-invalid', `${file}: ${msg}`);
  const need = (n: number) => { if (o + n > buf.length) throw bad(`truncated at byte ${o}`); };
  const u32 = () => { need(4); const v = buf.readUInt32LE(o); o += 4; return v; };
  const u64 = () => { need(8); const v = Number(buf.readBigUInt64LE(o)); o += 8; return v; };
  const str = () => { const n = u64(); need(n); const s = buf.toString('utf8', o, o + n); o += n; return s; };
  const value = (t: number): unknown => {
    switch (t) {
      case T.UINT8: need(1); return buf.readUInt8(o++);
      case T.INT8: need(1); return buf.readInt8(o++);
      case T.UINT16: { need(2); const v = buf.readUInt16LE(o); o += 2; return v; }
      case T.INT16: { need(2); const v = buf.readInt16LE(o); o += 2; return v; }
      case T.UINT32: return u32();
      case T.INT32: { need(4); const v = buf.readInt32LE(o); o += 4; return v; }
      case T.FLOAT32: { need(4); const v = buf.readFloatLE(o); o += 4; return v; }
      case T.BOOL: need(1); return buf.readUInt8(o++) !== 0;
      case T.STRING: return str();
      case T.UINT64: return u64();
      case T.INT64: { need(8); const v = Number(buf.readBigInt64LE(o)); o += 8; return v; }
      case T.FLOAT64: { need(8); const v = buf.readDoubleLE(o); o += 8; return v; }
      case T.ARRAY: { const et = u32(); const n = u64(); const a: unknown[] = []; for (let i = 0; i < n; i++) a.push(value(et)); return a; }
      default: throw bad(`unknown metadata value type ${t}`);
    }
  };
  if (buf.length < 24 || buf.readUInt32LE(0) !== MAGIC) throw bad('not a GGUF file (no "GGUF" magic)');
  o = 4;
  const version = u32();
  if (version !== 2 && version !== 3) throw bad(`GGUF version ${version} (2 and 3 are read)`);
  const nTensors = u64(), nKv = u64();
  const meta: Record<string, unknown> = {};
  for (let i = 0; i < nKv; i++) { const k = str(); meta[k] = value(u32()); }
  if (meta['general.architecture'] !== 'controlvector') throw bad(`general.architecture is ${JSON.stringify(meta['general.architecture'])}, not "controlvector" (a model, not a control vector?)`);
  const align = typeof meta['general.alignment'] === 'number' ? meta['general.alignment'] : ALIGN;
  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str(); const nd = u32(); const dims: number[] = [];
    for (let d = 0; d < nd; d++) dims.push(u64());
    infos.push({ name, dims, type: u32(), offset: u64() });
  }
  const dataStart = Math.ceil(o / align) * align;
  const directions = new Map<number, Float32Array>();
  let hidden = -1;
  for (const t of infos) {
    const m = /^direction\.(\d+)$/.exec(t.name);
    if (!m) throw bad(`tensor ${t.name}: a control vector holds only direction.N tensors`);
    if (t.type !== GGML_F32) throw bad(`${t.name} has ggml type ${t.type}; only F32 (0) control vectors are read`);
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (t.dims.filter((d) => d !== 1).length > 1) throw bad(`${t.name} has shape [${t.dims.join(', ')}], not a vector`);
    if (hidden >= 0 && n !== hidden) throw bad(`${t.name} has ${n} values, other directions ${hidden}`);
    hidden = n;
    const start = dataStart + t.offset;
    if (start + n * 4 > buf.length) throw bad(`${t.name} runs past the end of the file`);
    const d = new Float32Array(n);
    for (let j = 0; j < n; j++) d[j] = buf.readFloatLE(start + 4 * j);
    directions.set(Number(m[1]), d);
  }
  if (!directions.size) throw bad('no direction.N tensors');
  const metadata: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(meta)) if (['string', 'number', 'boolean'].includes(typeof v)) metadata[k] = v as string | number | boolean;
  return { directions, hidden, modelHint: String(meta['controlvector.model_hint'] ?? ''), metadata };
}

export const readControlVector = (file: string) => decodeControlVector(readFileSync(file), file);
export const writeControlVector = (file: string, cv: ControlVector) => writeFileAtomic(file, encodeControlVector(cv));

// ------------------------------------------------------------------ our [L+1, H] rows ↔ directions
/**
 * Our vector rows [L+1, H] → directions: rows 2 … L − 1 as direction.1 … direction.(L − 2); `rows` picks a subset.
 * Returns the rows left out and why, so a caller can say so.
 */
export function rowsToControlVector(data: Float32Array, layers: number, hidden: number, opts: { rows?: number[]; modelHint: string; metadata?: Record<string, string | number | boolean> }):
  { cv: ControlVector; skipped: { row: number; why: string }[] } {
  const L = layers - 1;
  const skipped: { row: number; why: string }[] = [];
  const directions = new Map<number, Float32Array>();
  for (let row = 0; row <= L; row++) {
    if (opts.rows && !opts.rows.includes(row)) continue;
    const v = data.slice(row * hidden, (row + 1) * hidden);
    if (row === 0) { skipped.push({ row, why: 'the embeddings: llama.cpp has no control vector before block 0' }); continue; }
    if (row === 1) { skipped.push({ row, why: 'the output of block 0 would be direction.0, which llama.cpp refuses' }); continue; }
    if (row === L) { skipped.push({ row, why: 'after the final norm: llama.cpp adds its last direction before the norm' }); continue; }
    if (v.every((x) => x === 0)) { skipped.push({ row, why: 'all zero' }); continue; }
    directions.set(rowToDirection(row), v);
  }
  if (!directions.size) throw new PipelineError('vector-invalid', `no row of this vector can be a llama.cpp control vector (rows 2..${L - 1} are; ${skipped.map((s) => `row ${s.row}: ${s.why}`).join('; ')})`);
  return { cv: { directions, hidden, modelHint: opts.modelHint, metadata: opts.metadata ?? {} }, skipped };
}

/**
 * Directions → our rows [L+1, H] for a model with `layers` blocks and width `hidden`; refuses a file that does not
 * fit (width, or a direction index past the model's blocks) before anything is written.
 */
export function controlVectorToRows(cv: ControlVector, model: { layers: number; hidden: number; name?: string }, file = 'GGUF file', opts: { dropLast?: boolean } = {}): { data: Float32Array; rows: number[] } {
  const L = model.layers;
  const who = model.name ? `${model.name} (${L} layers, hidden ${model.hidden})` : `the model (${L} layers, hidden ${model.hidden})`;
  if (cv.hidden !== model.hidden) throw new PipelineError('vector-invalid', `${file}: directions have width ${cv.hidden} but ${who} has hidden size ${model.hidden}; it was made for another model${cv.modelHint ? ` (model_hint ${cv.modelHint})` : ''}`);
  const max = Math.max(...cv.directions.keys());
  if (max > L - 1) throw new PipelineError('vector-invalid', `${file}: direction.${max} needs at least ${max + 1} layers but ${who} has ${L}; it was made for another model${cv.modelHint ? ` (model_hint ${cv.modelHint})` : ''}`);
  if (cv.directions.has(0)) throw new PipelineError('vector-invalid', `${file}: direction.0 is not a valid llama.cpp layer index (llama.cpp refuses it too)`);
  const data = new Float32Array((L + 1) * model.hidden);
  const rows: number[] = [];
  for (const [n, d] of [...cv.directions].sort(([a], [b]) => a - b)) {
    if (n === L - 1) {
      if (opts.dropLast) continue;
      throw new PipelineError('vector-invalid', `${file}: direction.${n} is added before the final norm of ${who}; Persona Lab's row ${L} is after it. Pass --drop-last to import the other directions`);
    }
    data.set(d, directionToRow(n) * model.hidden);
    rows.push(directionToRow(n));
  }
  return { data, rows };
}
