/**
 * A minimal protobuf *writer* (no reader), just enough to emit ONNX ModelProto bytes.
 *
 * Why hand-written instead of a protobuf library: we only ever *emit* models, the ONNX
 * schema subset we need is ~25 fields, and the available packages either pin an old ONNX IR
 * (onnx-proto: IR 8, protobufjs 6) or need the .proto file / a large generated runtime at run
 * time. A ~80-line writer has no dependency, supports any IR/opset, and lets raw weight buffers
 * be kept as chunks and concatenated once (no intermediate copies).
 */

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;
  private scratch: number[] = [];

  get byteLength(): number {
    return this.length + this.scratch.length;
  }

  private flush(): void {
    if (this.scratch.length === 0) return;
    const u = Uint8Array.from(this.scratch);
    this.chunks.push(u);
    this.length += u.length;
    this.scratch = [];
  }

  private raw(bytes: Uint8Array): void {
    this.flush();
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  /** Unsigned varint; negative numbers/bigints are written as 64-bit two's complement (protobuf int64). */
  private varint(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && Number.isSafeInteger(v)) {
      while (v > 127) {
        this.scratch.push((v % 128) | 128);
        v = Math.floor(v / 128);
      }
      this.scratch.push(v);
      return;
    }
    let b = BigInt.asUintN(64, BigInt(v));
    while (b > 127n) {
      this.scratch.push(Number(b & 127n) | 128);
      b >>= 7n;
    }
    this.scratch.push(Number(b));
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  int(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.scratch.push(x);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varint(data.length);
    this.raw(data);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** Embedded message: its chunks are spliced in, not copied. */
  message(field: number, m: ProtoWriter): this {
    m.flush();
    this.tag(field, 2);
    this.varint(m.length);
    this.flush();
    for (const c of m.chunks) this.chunks.push(c);
    this.length += m.length;
    return this;
  }

  packedInts(field: number, values: Iterable<number | bigint>): this {
    const m = new ProtoWriter();
    for (const v of values) m.varint(v);
    return this.message(field, m);
  }

  packedFloats(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
