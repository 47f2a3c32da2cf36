/**
 * safetensors reader and writer (hand-written: the format is an 8-byte length, a JSON header and
 * raw little-endian data, and we need exact byte offsets for ONNX external data, header-only
 * reads of multi-GB files, and precise validation errors — no library gives all three).
 *
 * Format: u64 LE header length N, N bytes of JSON
 *   { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { str: str } }
 * then the data section; offsets are relative to its start (byte 8 + N).
 *
 * Used by the model compiler (weights), by core (vector files) and by benchmarks (random checkpoints).
 */
import fs from 'node:fs';
import { ReasonError } from '../errors.js';

export const DTYPE_SIZES = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
} as const;
export type StDType = keyof typeof DTYPE_SIZES;
export const SUPPORTED_DTYPES = Object.keys(DTYPE_SIZES) as StDType[];

export type SafetensorsErrorReason = 'missing' | 'truncated' | 'corrupt' | 'unknown-dtype' | 'unknown-tensor';

export class SafetensorsError extends ReasonError<SafetensorsErrorReason> {
  override readonly name = 'SafetensorsError';
  constructor(reason: SafetensorsErrorReason, message: string, readonly path?: string) {
    super(reason, message);
  }
}

export interface TensorInfo {
  name: string;
  dtype: StDType;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file (8 + N + begin). */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** Absolute offset of the data section (8 + N). */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

/** Largest header we accept; real checkpoints have headers of a few hundred KB. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Read and validate only the header of a .safetensors file. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new SafetensorsError('missing', `cannot open safetensors file ${path}: ${(e as Error).message}`, path);
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    const where = `${path} (${fileSize} bytes)`;
    if (fileSize < 8) throw new SafetensorsError('truncated', `safetensors file ${where} is truncated: it is shorter than the 8-byte header length. Re-download the file.`, path);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n64 = lenBuf.readBigUInt64LE(0);
    if (n64 > BigInt(MAX_HEADER_BYTES)) {
      throw new SafetensorsError('corrupt', `safetensors file ${where} is corrupt: header length ${n64} is implausible (is this really a safetensors file?)`, path);
    }
    const n = Number(n64);
    if (8 + n > fileSize) {
      throw new SafetensorsError('truncated', `safetensors file ${where} is truncated: the header claims ${n} bytes but the file ends first. Re-download the file.`, path);
    }
    const hb = Buffer.alloc(n);
    fs.readSync(fd, hb, 0, n, 8);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(hb.toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new SafetensorsError('corrupt', `safetensors file ${where} is corrupt: its header is not valid JSON (${(e as Error).message})`, path);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new SafetensorsError('corrupt', `safetensors file ${where} is corrupt: the header is not a JSON object`, path);
    }
    const dataStart = 8 + n;
    const dataSize = fileSize - dataStart;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(json)) {
      if (name === '__metadata__') {
        metadata = (raw ?? {}) as Record<string, string>;
        continue;
      }
      const r = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!r || typeof r !== 'object' || typeof r.dtype !== 'string' || !Array.isArray(r.shape) || !Array.isArray(r.data_offsets) || r.data_offsets.length !== 2) {
        throw new SafetensorsError('corrupt', `safetensors file ${where} is corrupt: entry "${name}" lacks dtype/shape/data_offsets`, path);
      }
      if (!(r.dtype in DTYPE_SIZES)) {
        throw new SafetensorsError('unknown-dtype', `tensor "${name}" in ${path} has dtype "${r.dtype}", which Persona Lab cannot read (supported: ${SUPPORTED_DTYPES.join(', ')})`, path);
      }
      const dtype = r.dtype as StDType;
      const shape = r.shape as number[];
      if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new SafetensorsError('corrupt', `safetensors file ${where} is corrupt: tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`, path);
      }
      const [b, e] = r.data_offsets as number[];
      const expected = numel(shape) * DTYPE_SIZES[dtype];
      if (!Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < b || e - b !== expected) {
        throw new SafetensorsError('corrupt', `safetensors file ${where} is corrupt: tensor "${name}" (${dtype} ${JSON.stringify(shape)}) needs ${expected} bytes but its data_offsets are [${b}, ${e}]`, path);
      }
      if (e > dataSize) {
        throw new SafetensorsError('truncated', `safetensors file ${where} is truncated: tensor "${name}" ends at byte ${dataStart + e} but the file has ${fileSize}. Re-download the file.`, path);
      }
      tensors.set(name, { name, dtype, shape: [...shape], offset: dataStart + b, byteLength: e - b });
    }
    // Overlapping tensors mean a corrupt or hostile header.
    const sorted = [...tensors.values()].sort((x, y) => x.offset - y.offset);
    for (let i = 1; i < sorted.length; i++) {
      const p = sorted[i - 1];
      if (sorted[i].offset < p.offset + p.byteLength) {
        throw new SafetensorsError('corrupt', `safetensors file ${where} is corrupt: tensors "${p.name}" and "${sorted[i].name}" overlap`, path);
      }
    }
    return { path, fileSize, dataStart, tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

export type TypedArray = Float32Array | Float64Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

export interface Tensor {
  dtype: StDType;
  shape: number[];
  /**
   * Values as the natural typed array: F32→Float32Array, F64→Float64Array, I64→BigInt64Array, …;
   * F16/BF16 stay raw Uint16Array (use toFloat32 to widen), BOOL/F8 raw Uint8Array.
   */
  data: TypedArray;
}

function viewAs(dtype: StDType, bytes: Uint8Array): TypedArray {
  // Copy into a fresh aligned buffer so typed views never fail on odd offsets.
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  switch (dtype) {
    case 'F32': return new Float32Array(buf);
    case 'F64': return new Float64Array(buf);
    case 'F16': case 'BF16': case 'U16': return new Uint16Array(buf);
    case 'I64': return new BigInt64Array(buf);
    case 'U64': return new BigUint64Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'U32': return new Uint32Array(buf);
    case 'I16': return new Int16Array(buf);
    case 'I8': return new Int8Array(buf);
    default: return new Uint8Array(buf);
  }
}

/** Read one tensor's data (reads only its bytes). */
export function readTensor(header: SafetensorsHeader, name: string): Tensor {
  const info = header.tensors.get(name);
  if (!info) throw new SafetensorsError('unknown-tensor', `tensor "${name}" is not in ${header.path}`, header.path);
  const bytes = Buffer.alloc(info.byteLength);
  const fd = fs.openSync(header.path, 'r');
  try {
    let got = 0;
    while (got < info.byteLength) {
      const r = fs.readSync(fd, bytes, got, info.byteLength - got, info.offset + got);
      if (r === 0) throw new SafetensorsError('truncated', `safetensors file ${header.path} ended while reading "${name}"`, header.path);
      got += r;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { dtype: info.dtype, shape: [...info.shape], data: viewAs(info.dtype, bytes) };
}

/** Read every tensor of a (small) file, e.g. a vector file or a test fixture. */
export function loadSafetensors(path: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const header = readSafetensorsHeader(path);
  const tensors = new Map<string, Tensor>();
  for (const name of header.tensors.keys()) tensors.set(name, readTensor(header, name));
  return { tensors, metadata: header.metadata };
}

// ---- float conversions -------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bf16ToFloat32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** Round-to-nearest-even float32 → bfloat16 bits (as torch does); NaN stays NaN. */
export function float32ToBf16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f16ToFloat32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Round-to-nearest-even float32 → IEEE half bits. */
export function float32ToF16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/** Widen any floating/integer tensor to float32 (F16/BF16 decoded). */
export function toFloat32(t: Tensor): Float32Array {
  if (t.dtype === 'F32') return t.data as Float32Array;
  const n = numel(t.shape);
  const out = new Float32Array(n);
  const d = t.data;
  if (t.dtype === 'BF16') for (let i = 0; i < n; i++) out[i] = bf16ToFloat32((d as Uint16Array)[i]);
  else if (t.dtype === 'F16') for (let i = 0; i < n; i++) out[i] = f16ToFloat32((d as Uint16Array)[i]);
  else if (t.dtype === 'I64' || t.dtype === 'U64') for (let i = 0; i < n; i++) out[i] = Number((d as BigInt64Array)[i]);
  else if (t.dtype === 'F8_E4M3' || t.dtype === 'F8_E5M2') {
    throw new SafetensorsError('unknown-dtype', `converting ${t.dtype} to float32 is not supported`);
  } else for (let i = 0; i < n; i++) out[i] = Number((d as Float32Array)[i]);
  return out;
}

// ---- writer ------------------------------------------------------------------------------

export interface TensorToWrite {
  dtype: StDType;
  shape: number[];
  /** Raw little-endian bytes or a typed array of the right element size; a function is called lazily while writing. */
  data: ArrayBufferView | (() => ArrayBufferView);
}

function asBytes(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * Write a safetensors file: tensors in name order, contiguous, header padded with spaces to a
 * multiple of 8 (the layout HF's writer produces). Data callbacks let callers stream
 * multi-GB checkpoints one tensor at a time.
 */
export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = { format: 'pt' }): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const name of names) {
    const t = tensors[name];
    if (!(t.dtype in DTYPE_SIZES)) throw new SafetensorsError('unknown-dtype', `cannot write dtype ${t.dtype} (supported: ${SUPPORTED_DTYPES.join(', ')})`);
    const len = numel(t.shape) * DTYPE_SIZES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + len] };
    off += len;
  }
  let json = JSON.stringify(header);
  const jsonLen = Buffer.byteLength(json);
  json += ' '.repeat((8 - ((8 + jsonLen) % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(hb.length));
  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, lenBuf);
    fs.writeSync(fd, hb);
    for (const name of names) {
      const t = tensors[name];
      const bytes = asBytes(typeof t.data === 'function' ? t.data() : t.data);
      const len = numel(t.shape) * DTYPE_SIZES[t.dtype];
      if (bytes.byteLength !== len) throw new Error(`tensor "${name}": ${bytes.byteLength} bytes given, ${t.dtype} ${JSON.stringify(t.shape)} needs ${len}`);
      let w = 0;
      while (w < bytes.byteLength) w += fs.writeSync(fd, bytes, w, Math.min(bytes.byteLength - w, 1 << 26));
    }
  } finally {
    fs.closeSync(fd);
  }
}
