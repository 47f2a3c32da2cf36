/**
 * Persona vector files: safetensors holding one float32 tensor [L+1, H] per kind
 *   prompt_avg_diff, response_avg_diff (the one the papers use), prompt_last_diff
 * plus string metadata describing exactly how the vector was made. Upstream's bare-tensor `.pt` files
 * (`<trait>_<kind>_diff.pt`, one kind each, same row convention) are read too, through ./torch.ts.
 *
 * Layer convention (src/engine/model/types.ts): row ℓ comes from HF hidden_states[ℓ]; row 0 is the
 * embedding output, row ℓ the residual stream after ℓ blocks, row L is after the final norm. Steering at
 * layer ℓ adds coef·row ℓ where hidden_states[ℓ] is read: to the embeddings (ℓ = 0), to the output of block
 * ℓ−1 (0 < ℓ < L), after the final norm (ℓ = L).
 *
 * Determinism: the file holds no timestamps or paths that vary between runs, tensor names are written in
 * sorted order and metadata keys sorted, so the same inputs and seed give a byte-identical file (times
 * live in the run manifest).
 */
import { mkdirSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Reduction } from '../../engine/protocol.js';
import { loadSafetensors, toFloat32, writeSafetensors } from '../../engine/weights/safetensors.js';
import { PipelineError } from '../errors.js';
import { readTorchTensor, torchVectorKind } from './torch.js';

export const VECTOR_FORMAT = 'persona-lab-vector/1';
export const LAYER_CONVENTION = 'hf-hidden-states: row l = hidden_states[l], l=0..L; row 0 = embeddings; row l = residual after l blocks; row L = after final norm; steering at l adds coef*row[l] where hidden_states[l] is read (l=0 the embeddings, 0<l<L the output of block l-1, l=L after the final norm)';
export const VECTOR_KINDS = ['prompt_avg', 'response_avg', 'prompt_last'] as const satisfies readonly Reduction[];
export type VectorKind = typeof VECTOR_KINDS[number];
export const tensorName = (k: VectorKind) => `${k}_diff`;

export interface PersonaVector {
  layers: number;   // L+1 rows
  hidden: number;   // H
  /** kind → [L+1, H] row-major (Persona Lab files hold all three kinds; an upstream .pt file holds one) */
  data: Partial<Record<VectorKind, Float32Array>>;
  metadata: Record<string, string>;
}

/** Writes the vector file (creating folders). Metadata values are strings; keys are sorted. */
export function writeVectorFile(file: string, v: PersonaVector): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const meta: Record<string, string> = {};
  const all = { ...v.metadata, format: VECTOR_FORMAT, layer_convention: LAYER_CONVENTION, shape: `${v.layers},${v.hidden}` };
  for (const k of Object.keys(all).sort()) meta[k] = all[k as keyof typeof all];
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const k of VECTOR_KINDS) {
    const data = v.data[k];
    if (data) tensors[tensorName(k)] = { dtype: 'F32', shape: [v.layers, v.hidden], data };
  }
  // Whole file or nothing, under a name unique across hosts: concurrent tasks on a shared workspace read it as it was or as it is.
  const tmp = `${file}.tmp-${hostname()}-${process.pid}`;
  writeSafetensors(tmp, tensors, meta);
  renameSync(tmp, file);
}

/** The kind an upstream file name states (`…_prompt_last_diff.pt`), else response_avg (upstream's default). */
export const kindFromFileName = (file: string): VectorKind => torchVectorKind(file);

function readTorchVector(file: string): PersonaVector {
  const t = readTorchTensor(file);
  if (t.shape.length !== 2) {
    throw new PipelineError('vector-invalid', `${file}: a persona vector is a [L+1, H] matrix (row ℓ = hidden_states[ℓ]); this tensor has shape [${t.shape.join(', ')}]`);
  }
  const kind = kindFromFileName(file);
  assertFinite(t.data, t.shape[1], file, `${kind}_diff`);
  return { layers: t.shape[0], hidden: t.shape[1], data: { [kind]: t.data }, metadata: { format: 'torch-pt', source_dtype: t.dtype, kind } };
}

/** NaN or ±Inf anywhere in a [rows, H] tensor is refused, naming the row (= layer) and column of the first one. */
export function assertFinite(data: Float32Array, hidden: number, file: string, tensor: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const row = Math.floor(i / hidden);
      throw new PipelineError('vector-invalid', `${file}: tensor ${tensor} row ${row} (layer ${row}), column ${i % hidden} is ${data[i]}; a vector with NaN or infinite values cannot steer or project. ` +
        'Re-extract it (a NaN usually means a layer\'s activations overflowed, or no pair passed the filter).');
    }
  }
}

export interface ReadVectorOptions {
  /** Read this tensor instead of the kinds' `<kind>_diff` names (`--vector-key`), as `kind`. */
  key?: string;
  /** The kind the keyed tensor stands for (default response_avg). */
  kind?: VectorKind;
}

/**
 * Reads a vector file and checks it on load: the tensors we or upstream write (`<kind>_diff`; `--vector-key` names any
 * other), float [L+1, H], all of the same shape, and every value finite (NaN/±Inf refused naming the row).
 */
export function readVectorFile(file: string, opts: ReadVectorOptions = {}): PersonaVector {
  if (file.endsWith('.pt')) return readTorchVector(file);
  let st;
  try { st = loadSafetensors(file); } catch (e) {
    throw new PipelineError('vector-missing', `cannot read vector file ${file}: ${(e as Error).message}. Run \`persona-lab extract\` first.`);
  }
  const found = [...st.tensors.keys()];
  const data: PersonaVector['data'] = {};
  let shape: number[] | undefined;
  const wanted: [VectorKind, string][] = opts.key !== undefined ? [[opts.kind ?? 'response_avg', opts.key]] : VECTOR_KINDS.map((k) => [k, tensorName(k)]);
  if (opts.key !== undefined && !st.tensors.has(opts.key)) {
    throw new PipelineError('vector-invalid', `${file} has no tensor ${JSON.stringify(opts.key)} (--vector-key); it has: ${found.join(', ') || 'no tensors'}`);
  }
  for (const [k, name] of wanted) {
    const t = st.tensors.get(name);
    if (!t) continue;
    const float = ['F32', 'F16', 'BF16', 'F64'].includes(t.dtype);
    if (!float || t.shape.length !== 2) throw new PipelineError('vector-invalid', `${file}: tensor ${name} is ${t.dtype} [${t.shape.join(', ')}], not a float [L+1, H] matrix (row ℓ = hidden_states[ℓ])`);
    if (shape && (shape[0] !== t.shape[0] || shape[1] !== t.shape[1])) throw new PipelineError('vector-invalid', `${file}: tensors have different shapes`);
    shape = t.shape;
    data[k] = t.dtype === 'F32' ? t.data as Float32Array : toFloat32(t);
    assertFinite(data[k]!, shape[1], file, name);
  }
  if (!shape) {
    throw new PipelineError('vector-invalid', `${file} holds none of the tensors Persona Lab or upstream write (${VECTOR_KINDS.map(tensorName).join(', ')}); ` +
      `it has: ${found.join(', ') || 'no tensors'}. If one of those is the [L+1, H] persona vector, pick it with --vector-key <name>.`);
  }
  return { layers: shape[0], hidden: shape[1], data, metadata: st.metadata };
}

/** What a vector row is used for: projection and unit / target-norm scaling divide by its norm; raw steering adds it as is. */
export type RowUse = 'projection' | 'unit' | 'target-norm' | 'raw';

/**
 * An all-zero row: refused where its norm divides (projection, unit and target-norm scaling); for raw steering it is
 * allowed and the returned warning says that steering there adds nothing.
 */
export function checkRowUsable(row: Float32Array, use: RowUse, file: string, layer: number): string | undefined {
  if (row.some((x) => x !== 0)) return undefined;
  if (use === 'raw') return `${file}: row ${layer} is all zeros; steering at layer ${layer} adds nothing`;
  throw new PipelineError('vector-invalid', `${file}: row ${layer} (layer ${layer}) is all zeros, so ${use === 'projection' ? 'there is no direction to project onto' : `${use} scaling would divide by a zero norm`}. ` +
    'Pick another --layer (row 0 is often zero: the embeddings differ little between answers), or re-extract the vector.');
}

/**
 * Fails clearly when a vector was made for another model: it must have L+1 rows and H columns of the model
 * it steers (a vector from OLMo-3-7B is [33, 4096]; the toy model takes [5, 128]).
 */
export function assertVectorFits(v: PersonaVector, file: string, model: { name: string; numLayers: number; hiddenSize: number }): void {
  if (v.hidden !== model.hiddenSize || v.layers !== model.numLayers + 1) {
    throw new PipelineError('vector-invalid', `${file} is [${v.layers}, ${v.hidden}] but ${model.name} takes [${model.numLayers + 1}, ${model.hiddenSize}] ` +
      `(L+1 rows, row ℓ = hidden_states[ℓ], hidden size ${model.hiddenSize}): it was made for a different model`);
  }
}

/** Row ℓ of one kind, as a fresh Float32Array. */
export function vectorRow(v: PersonaVector, kind: VectorKind, layer: number): Float32Array {
  if (!Number.isInteger(layer) || layer < 0 || layer >= v.layers) {
    throw new PipelineError('vector-invalid', `layer ${layer} is outside 0..${v.layers - 1} (the vector has L+1 = ${v.layers} rows)`);
  }
  const data = v.data[kind];
  if (!data) {
    const have = VECTOR_KINDS.filter((k) => v.data[k]);
    throw new PipelineError('vector-invalid', `the vector file has no ${kind} vector (it has: ${have.join(', ')}); pass --kind ${have[0]}`);
  }
  return data.slice(layer * v.hidden, (layer + 1) * v.hidden);
}

export function norm(a: Float32Array): number {
  let s = 0;
  for (const x of a) s += x * x;
  return Math.sqrt(s);
}
