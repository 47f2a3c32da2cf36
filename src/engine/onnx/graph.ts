/**
 * ONNX graph builder on top of the hand-written protobuf writer (see ./protobuf.ts for why).
 *
 * Naming (cf. DESIGN.md): nodes are named by scope path + op type, e.g.
 * `/model/layers.3/attn/q_proj/Gemm`, and a node's outputs are `<node name>/output_<i>`, so
 * every intermediate value is traceable to the code that made it without a separate name table.
 * Small constants are deduplicated by content (`/constants/<type>/<values>`).
 */
import { ProtoWriter } from './protobuf.js';

/** ONNX TensorProto.DataType values. */
export const DT = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;
export type DataType = (typeof DT)[keyof typeof DT];

/** A dimension: fixed size or a symbolic name shared across inputs/outputs. */
export type Dim = number | string;

/** Initializer bytes that live in another file (relative to the .onnx file's folder). */
export interface ExternalData {
  location: string;
  offset: number;
  length: number;
}

/** Force a JS number to be written as a FLOAT attribute (integers otherwise become INT). */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export const f = (v: number): FloatAttr => new FloatAttr(v);

export type AttrValue = number | FloatAttr | string | number[] | FloatAttr[];

interface NodeRec {
  op: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}
interface ValueInfo {
  name: string;
  dtype: DataType;
  dims: Dim[];
}
interface InitRec {
  name: string;
  dtype: DataType;
  dims: number[];
  data: Uint8Array | ExternalData;
}

export interface NodeOptions {
  domain?: string;
  /** Number of outputs (default 1) or explicit output names. Use '' for an unused optional output. */
  outputs?: number | string[];
  /** Node name suffix under the current scope (default: the op type). */
  name?: string;
}

export class Graph {
  private nodes: NodeRec[] = [];
  private inputs: ValueInfo[] = [];
  private outputs: ValueInfo[] = [];
  private inits: InitRec[] = [];
  private initNames = new Set<string>();
  private usedNodeNames = new Set<string>();
  private scopeStack: string[] = [];
  /** Node outputs renamed to the graph output they became (see output()); applied to node inputs on encode. */
  private renamed = new Map<string, string>();
  private producer = new Map<string, NodeRec>();

  constructor(readonly name: string) {}

  /** Run `fn` with `part` appended to the node-name scope (e.g. 'layers.3', 'attn'). */
  scope<T>(part: string, fn: () => T): T {
    this.scopeStack.push(part);
    try {
      return fn();
    } finally {
      this.scopeStack.pop();
    }
  }

  input(name: string, dtype: DataType, dims: Dim[]): string {
    this.inputs.push({ name, dtype, dims });
    return name;
  }

  /**
   * Declare a graph output. If `value` differs from `name`, the node producing `value` is given the public name
   * as its output (its consumers follow on encode). An Identity would do the same, but onnxruntime runs it as a
   * copy on every run, fetched or not: on a KV-heavy decode step the present.* Identities copied the whole KV
   * cache a second time (DESIGN.md). The Identity remains for a value that is a graph input, an initializer or
   * already another output.
   */
  output(name: string, dtype: DataType, dims: Dim[], value: string = name): string {
    const node = value !== name && !this.renamed.has(value) ? this.producer.get(value) : undefined;
    if (node) {
      node.outputs = node.outputs.map((o) => (o === value ? name : o));
      this.renamed.set(value, name);
    } else if (value !== name) {
      this.nodes.push({ op: 'Identity', domain: '', name: `/outputs/${name}`, inputs: [this.renamed.get(value) ?? value], outputs: [name], attrs: {} });
    }
    this.outputs.push({ name, dtype, dims });
    return name;
  }

  initializer(name: string, dtype: DataType, dims: number[], data: Uint8Array | ExternalData): string {
    if (this.initNames.has(name)) throw new Error(`duplicate initializer ${name}`);
    this.initNames.add(name);
    this.inits.push({ name, dtype, dims, data });
    return name;
  }

  hasInitializer(name: string): boolean {
    return this.initNames.has(name);
  }

  /** Deduplicated int64 constant. `dims` defaults to 1-D [n]; pass [] for a scalar. */
  constInt64(values: number[], dims: number[] = [values.length]): string {
    const name = `/constants/int64/${dims.join('x')}/${values.join('_')}`;
    if (!this.initNames.has(name)) {
      const b = new BigInt64Array(values.map((v) => BigInt(v)));
      this.initializer(name, DT.INT64, dims, new Uint8Array(b.buffer));
    }
    return name;
  }

  /** Deduplicated float32 constant (values rounded to float32). */
  constFloat(values: number[] | Float32Array, dims: number[] = [values.length]): string {
    const arr = Float32Array.from(values);
    const key = arr.length <= 8 ? Array.from(arr).map((v) => v.toString()).join('_') : `h${hashFloats(arr)}`;
    const name = `/constants/float/${dims.join('x')}/${key}`;
    if (!this.initNames.has(name)) this.initializer(name, DT.FLOAT, dims, new Uint8Array(arr.buffer));
    return name;
  }

  /** Add a node; returns its output names. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: NodeOptions = {}): string[] {
    const base = `/${['model', ...this.scopeStack].join('/')}/${opts.name ?? op}`;
    let name = base;
    for (let i = 1; this.usedNodeNames.has(name); i++) name = `${base}_${i}`;
    this.usedNodeNames.add(name);
    const outs = Array.isArray(opts.outputs)
      ? opts.outputs
      : Array.from({ length: opts.outputs ?? 1 }, (_, i) => `${name}/output_${i}`);
    const rec: NodeRec = { op, domain: opts.domain ?? '', name, inputs, outputs: [...outs], attrs };
    this.nodes.push(rec);
    for (const o of outs) if (o) this.producer.set(o, rec);
    return outs;
  }

  /** Single-output convenience form of `node`. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: NodeOptions = {}): string {
    return this.node(op, inputs, attrs, opts)[0];
  }

  /** Serialize to ModelProto bytes. */
  encode(opts: { irVersion: number; opsets: Record<string, number>; producer?: string; docString?: string }): Uint8Array {
    const g = new ProtoWriter();
    for (const n of this.nodes) g.message(1, encodeNode({ ...n, inputs: n.inputs.map((i) => this.renamed.get(i) ?? i) }));
    g.string(2, this.name);
    for (const t of this.inits) g.message(5, encodeInit(t));
    for (const v of this.inputs) g.message(11, encodeValueInfo(v));
    for (const v of this.outputs) g.message(12, encodeValueInfo(v));
    const m = new ProtoWriter();
    m.int(1, opts.irVersion);
    m.string(2, opts.producer ?? 'persona-lab');
    if (opts.docString) m.string(6, opts.docString);
    m.message(7, g);
    for (const [domain, version] of Object.entries(opts.opsets)) {
      m.message(8, new ProtoWriter().string(1, domain).int(2, version));
    }
    return m.finish();
  }

  get stats(): { nodes: number; initializers: number } {
    return { nodes: this.nodes.length, initializers: this.inits.length };
  }
}

function hashFloats(a: Float32Array): string {
  // FNV-1a over the bytes; only used to dedupe constant names.
  const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (const b of u) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return `${h.toString(16)}_${a.length}`;
}

function encodeNode(n: NodeRec): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs)) w.message(5, encodeAttr(k, v));
  if (n.domain) w.string(7, n.domain);
  return w;
}

// AttributeProto: name=1 f=2 i=3 s=4 floats=7 ints=8 type=20 (FLOAT=1 INT=2 STRING=3 FLOATS=6 INTS=7)
function encodeAttr(name: string, v: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (v instanceof FloatAttr) return w.float(2, v.value).int(20, 1);
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return w.float(2, v).int(20, 1);
    return w.int(3, v).int(20, 2);
  }
  if (typeof v === 'string') return w.string(4, v).int(20, 3);
  if (v.length > 0 && v.every((x) => x instanceof FloatAttr)) {
    return w.packedFloats(7, (v as FloatAttr[]).map((x) => x.value)).int(20, 6);
  }
  return w.packedInts(8, v as number[]).int(20, 7);
}

// TensorProto: dims=1 data_type=2 name=8 raw_data=9 external_data=13 data_location=14 (EXTERNAL=1)
function encodeInit(t: InitRec): ProtoWriter {
  const w = new ProtoWriter();
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.dtype);
  w.string(8, t.name);
  if (t.data instanceof Uint8Array) {
    w.bytes(9, t.data);
  } else {
    const kv = (k: string, v: string) => new ProtoWriter().string(1, k).string(2, v);
    w.message(13, kv('location', t.data.location));
    w.message(13, kv('offset', String(t.data.offset)));
    w.message(13, kv('length', String(t.data.length)));
    w.int(14, 1);
  }
  return w;
}

// ValueInfoProto{name=1,type=2} TypeProto{tensor_type=1} Tensor{elem_type=1,shape=2} Shape{dim=1} Dim{value=1,param=2}
function encodeValueInfo(v: ValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensor = new ProtoWriter().int(1, v.dtype).message(2, shape);
  const type = new ProtoWriter().message(1, tensor);
  return new ProtoWriter().string(1, v.name).message(2, type);
}
