/**
 * HF tensor name → ONNX initializer. Every weight becomes an *external-data* initializer that
 * points at its bytes inside the safetensors file (no copy); BF16/F16 weights get one Cast to
 * float32 in the graph (we compute in f32, like the HF reference rule for BF16 checkpoints).
 * Shapes are checked against what the config implies, so a config/weight mismatch fails at
 * compile time with both shapes in the message.
 */
import { DT, type DataType, type Graph } from '../onnx/graph.js';
import type { WeightEntry, WeightFile } from '../model/checkpoint.js';
import { CompileError } from '../model/errors.js';
import type { StDType } from '../weights/safetensors.js';

const ONNX_DTYPES: Partial<Record<StDType, DataType>> = {
  F32: DT.FLOAT, F16: DT.FLOAT16, BF16: DT.BFLOAT16, F64: DT.DOUBLE,
};

export class WeightStore {
  private resolved = new Map<string, string>();
  readonly used = new Set<string>();

  constructor(
    private readonly g: Graph,
    private readonly tensors: Map<string, WeightEntry>,
    /** Relative external-data location for a weight file (relative to the .onnx file's folder). */
    private readonly locate: (file: WeightFile) => string,
  ) {}

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** First of `names` present in the checkpoint (for families with alternative tensor names). */
  pick(...names: string[]): string | undefined {
    return names.find((n) => this.tensors.has(n));
  }

  /** float32 value of weight `name`, which must have exactly `shape`. */
  get(name: string, shape: number[]): string {
    const t = this.tensors.get(name);
    if (!t) {
      throw new CompileError('missing-weight', `the checkpoint has no tensor "${name}" (expected shape [${shape.join(', ')}]); the config and the weights do not belong together, or this is not the architecture the config claims`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CompileError('shape-mismatch', `tensor "${name}" has shape [${t.shape.join(', ')}] but config.json implies [${shape.join(', ')}]; check hidden_size / num_attention_heads / num_key_value_heads / head_dim / intermediate_size / vocab_size against the weights`);
    }
    const cached = this.resolved.get(name);
    if (cached) return cached;
    const dtype = ONNX_DTYPES[t.dtype];
    if (dtype === undefined) {
      throw new CompileError('unsupported-dtype', `tensor "${name}" is stored as ${t.dtype}; the compiler supports F32, F16, BF16 and F64 weights`);
    }
    this.used.add(name);
    const init = this.g.initializer(`weights/${name}`, dtype, t.shape, { location: this.locate(t.file), offset: t.offset, length: t.byteLength });
    const value = dtype === DT.FLOAT ? init : this.g.op('Cast', [init], { to: DT.FLOAT }, { name: `cast/${name}` });
    this.resolved.set(name, value);
    return value;
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
