/**
 * One external-data file written next to a compiled graph (the compile cache entry's `quant.bin`):
 * quantized weights and their scales are appended as they are produced, so compiling never holds
 * more than one tensor's bytes in memory. Offsets are aligned (zero padding) and depend only on the
 * order of appends, so the file's bytes are deterministic.
 */
import fs from 'node:fs';
import type { ExternalData } from '../onnx/graph.js';

export class ExternalDataWriter {
  private fd: number | null;
  private size = 0;

  /** `absPath`: where to write; `location`: the same file relative to the .onnx file's folder. */
  constructor(absPath: string, readonly location: string, private readonly align = 64) {
    this.fd = fs.openSync(absPath, 'w');
  }

  append(bytes: Uint8Array): ExternalData {
    if (this.fd === null) throw new Error('external data file already closed');
    const pad = (this.align - (this.size % this.align)) % this.align;
    if (pad) {
      fs.writeSync(this.fd, new Uint8Array(pad));
      this.size += pad;
    }
    const offset = this.size;
    let done = 0;
    while (done < bytes.byteLength) done += fs.writeSync(this.fd, bytes, done, bytes.byteLength - done);
    this.size += bytes.byteLength;
    return { location: this.location, offset, length: bytes.byteLength };
  }

  get bytes(): number {
    return this.size;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
