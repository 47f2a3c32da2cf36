/**
 * HF tensor name → ONNX initializer. Every checkpoint weight becomes an *external-data* initializer
 * that points at its bytes inside the safetensors file (no copy). Shapes are checked against what
 * the config implies, so a config/weight mismatch fails at compile time with both shapes in the message.
 *
 * How a projection weight lives in memory depends on the weight format (LoadOptions.weightFormat):
 *   f32        the checkpoint's bytes, BF16/F16 Cast to float32 in-graph (folded once at load)
 *   f16, bf16  the checkpoint's bytes when they already are that type, else one Cast (folded at load
 *              into a half-precision copy — never a float32 one)
 *   int8, int4 quantized here at compile time (quant/nbits.ts) into the cache entry's quant.bin
 * Norms, biases and other small tensors are always float32 (`get`); embeddings are gathered from the
 * checkpoint's own bytes and only the gathered rows are widened (`raw` + Cast in blocks.ts).
 */
import fs from 'node:fs';
import { DT, type DataType, type Graph } from '../onnx/graph.js';
import type { WeightEntry, WeightFile } from '../model/checkpoint.js';
import { CompileError } from '../model/errors.js';
import type { WeightFormat } from '../model/types.js';
import { quantizeMatrix, quantizedBytes, type QuantParams } from '../quant/nbits.js';
import type { ExternalDataWriter } from '../quant/data-file.js';
import { bf16ToFloat32, f16ToFloat32, type StDType } from '../weights/safetensors.js';

const ONNX_DTYPES: Partial<Record<StDType, DataType>> = {
  F32: DT.FLOAT, F16: DT.FLOAT16, BF16: DT.BFLOAT16, F64: DT.DOUBLE,
};
const BYTES: Partial<Record<DataType, number>> = { [DT.FLOAT]: 4, [DT.FLOAT16]: 2, [DT.BFLOAT16]: 2, [DT.DOUBLE]: 8 };

/** A projection weight as the graph consumes it (see ModelBuilder.project). */
export type MatrixWeight =
  | { kind: 'float'; value: string }
  | { kind: 'half'; value: string; dtype: DataType }
  | { kind: 'nbits'; B: string; scales: string; zeroPoints: string | null; N: number; K: number; params: QuantParams };

export interface WeightStoreOptions {
  format: WeightFormat;
  /** int8/int4: quantization parameters and where quantized bytes go. */
  quant?: { params: QuantParams; sink: ExternalDataWriter };
}

export class WeightStore {
  private resolved = new Map<string, string>();
  private rawResolved = new Map<string, { value: string; dtype: DataType }>();
  private matrices = new Map<string, MatrixWeight>();
  private inits = new Map<string, string>();
  /** Run-time bytes per graph value (initializer or folded Cast), so a value used twice is counted once. */
  private resident = new Map<string, number>();
  readonly used = new Set<string>();
  readonly format: WeightFormat;

  constructor(
    private readonly g: Graph,
    private readonly tensors: Map<string, WeightEntry>,
    /** Relative external-data location for a weight file (relative to the .onnx file's folder). */
    private readonly locate: (file: WeightFile) => string,
    private readonly opts: WeightStoreOptions = { format: 'f32' },
  ) {
    this.format = opts.format;
    if ((this.format === 'int8' || this.format === 'int4') && !opts.quant) throw new Error(`weight format ${this.format} needs quantization parameters and a data file`);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** First of `names` present in the checkpoint (for families with alternative tensor names). */
  pick(...names: string[]): string | undefined {
    return names.find((n) => this.tensors.has(n));
  }

  private entry(name: string, shape: number[]): WeightEntry {
    const t = this.tensors.get(name);
    if (!t) {
      throw new CompileError('missing-weight', `the checkpoint has no tensor "${name}" (expected shape [${shape.join(', ')}]); the config and the weights do not belong together, or this is not the architecture the config claims`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CompileError('shape-mismatch', `tensor "${name}" has shape [${t.shape.join(', ')}] but config.json implies [${shape.join(', ')}]; check hidden_size / num_attention_heads / num_key_value_heads / head_dim / intermediate_size / vocab_size against the weights`);
    }
    if (ONNX_DTYPES[t.dtype] === undefined) {
      throw new CompileError('unsupported-dtype', `tensor "${name}" is stored as ${t.dtype}; the compiler supports F32, F16, BF16 and F64 weights`);
    }
    return t;
  }

  /** Weight `name` in the checkpoint's own dtype (no Cast): for Gather of embedding rows. */
  raw(name: string, shape: number[]): { value: string; dtype: DataType } {
    const t = this.entry(name, shape);
    const cached = this.rawResolved.get(name);
    if (cached) return cached;
    const dtype = ONNX_DTYPES[t.dtype]!;
    this.used.add(name);
    const r = { value: this.initializer(name, t, dtype), dtype };
    // Gathered tables stay in their file pages; counted at their stored size.
    this.resident.set(r.value, t.byteLength);
    this.rawResolved.set(name, r);
    return r;
  }

  /** Bytes the graph's weights occupy at run time in this format (each initializer or folded copy counted once). */
  get residentBytes(): number {
    let n = 0;
    for (const b of this.resident.values()) n += b;
    return n;
  }

  private initializer(name: string, t: WeightEntry, dtype: DataType): string {
    let init = this.inits.get(name);
    if (!init) {
      init = this.g.initializer(`weights/${name}`, dtype, t.shape, { location: this.locate(t.file), offset: t.offset, length: t.byteLength });
      this.inits.set(name, init);
    }
    return init;
  }

  /** float32 value of weight `name`, which must have exactly `shape`. */
  get(name: string, shape: number[]): string {
    const t = this.entry(name, shape);
    const cached = this.resolved.get(name);
    if (cached) return cached;
    const dtype = ONNX_DTYPES[t.dtype]!;
    this.used.add(name);
    const init = this.initializer(name, t, dtype);
    const value = dtype === DT.FLOAT ? init : this.g.op('Cast', [init], { to: DT.FLOAT }, { name: `cast/${name}` });
    this.resident.set(value, (t.byteLength / BYTES[dtype]!) * 4);
    this.resolved.set(name, value);
    return value;
  }

  /**
   * A projection weight: logical [N, K] = [out, in] (layout 'out_in', nn.Linear) or stored [in, out]
   * (layout 'in_out', GPT-2 Conv1D), in the store's weight format.
   */
  matrix(name: string, N: number, K: number, layout: 'out_in' | 'in_out' = 'out_in'): MatrixWeight {
    const shape = layout === 'out_in' ? [N, K] : [K, N];
    const t = this.entry(name, shape);
    const cached = this.matrices.get(name);
    if (cached) return cached;
    let m: MatrixWeight;
    if (this.format === 'f32') {
      m = { kind: 'float', value: this.get(name, shape) };
    } else if (this.format === 'f16' || this.format === 'bf16') {
      const want = this.format === 'f16' ? DT.FLOAT16 : DT.BFLOAT16;
      const src = ONNX_DTYPES[t.dtype]!;
      this.used.add(name);
      const init = this.initializer(name, t, src);
      const value = src === want ? init : this.g.op('Cast', [init], { to: want }, { name: `cast/${name}` });
      this.resident.set(value, N * K * 2);
      m = { kind: 'half', value, dtype: want };
    } else {
      const { params, sink } = this.opts.quant!;
      this.used.add(name);
      const values = readFloat32(t);
      const q = quantizeMatrix(N, K, layout === 'out_in'
        ? (n, out) => out.set(values.subarray(n * K, (n + 1) * K))
        : (n, out) => { for (let k = 0; k < K; k++) out[k] = values[k * N + n]; }, params);
      const add = (suffix: string, dtype: DataType, dims: number[], bytes: Uint8Array) =>
        this.g.initializer(`quant/${name}/${suffix}`, dtype, dims, sink.append(bytes));
      const B = add('B', DT.UINT8, [N, q.kBlocks, q.blob], q.data);
      const scales = add('scales', DT.FLOAT, [N * q.kBlocks], new Uint8Array(q.scales.buffer, q.scales.byteOffset, q.scales.byteLength));
      const zeroPoints = q.zeroPoints ? add('zero_points', DT.UINT8, [q.zeroPoints.length], q.zeroPoints) : null;
      this.resident.set(B, quantizedBytes(q));
      m = { kind: 'nbits', B, scales, zeroPoints, N, K, params };
    }
    this.matrices.set(name, m);
    return m;
  }

  /**
   * A one-element weight stored as shape [] or [1] (e.g. xIELU's learned scalars), or the
   * given fallback constant when the checkpoint omits it (non-persistent buffers).
   */
  scalar(name: string, fallback?: number): string {
    const t = this.tensors.get(name);
    if (!t) {
      if (fallback === undefined) return this.get(name, [1]);
      return this.g.constFloat([fallback], []);
    }
    return this.get(name, t.shape.length === 0 ? [] : [1]);
  }

  /** Like get(), but returns null when the tensor is absent (optional biases). */
  optional(name: string, shape: number[]): string | null {
    return this.tensors.has(name) ? this.get(name, shape) : null;
  }
}

/** Read one tensor's values as float32 (one tensor at a time: compile never holds a whole model). */
function readFloat32(t: WeightEntry): Float32Array {
  const buf = new Uint8Array(t.byteLength);
  const fd = fs.openSync(t.file.realPath, 'r');
  try {
    let done = 0;
    while (done < t.byteLength) {
      const n = fs.readSync(fd, buf, done, t.byteLength - done, t.offset + done);
      if (n === 0) throw new CompileError('missing-weight', `${t.file.realPath} ends before tensor "${t.name}" (truncated file?)`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  const n = t.byteLength / (t.dtype === 'F64' ? 8 : t.dtype === 'F32' ? 4 : 2);
  const out = new Float32Array(n);
  if (t.dtype === 'F32') return new Float32Array(buf.buffer);
  if (t.dtype === 'F64') {
    const d = new Float64Array(buf.buffer);
    for (let i = 0; i < n; i++) out[i] = d[i];
  } else {
    const h = new Uint16Array(buf.buffer);
    const conv = t.dtype === 'BF16' ? bf16ToFloat32 : f16ToFloat32;
    for (let i = 0; i < n; i++) out[i] = conv(h[i]);
  }
  return out;
}
