/**
 * Block-wise weight quantization in onnxruntime's `com.microsoft` MatMulNBits layout.
 *
 *   Y = A · dequant(B)ᵀ,   dequant(B)[n, k] = (code[n, k] − zero_point[n, k / block]) · scale[n, k / block]
 *
 *   B            uint8 [N, kBlocks, blockSize·bits/8]   row n of the HF [out, in] weight, K split into
 *                                                        blocks; 4-bit codes packed low nibble first
 *   scales       float [N · kBlocks]
 *   zero_points  uint8 [N, ⌈kBlocks·bits/8⌉] (packed like B) — only for asymmetric; absent means 2^(bits−1)
 *
 * The HF nn.Linear layout [out, in] is exactly MatMulNBits' [N, K]: no transpose. GPT-2's Conv1D
 * [in, out] is transposed while quantizing.
 *
 * Symmetric (default): int8 scale = max|x| / 127, code = round(x / scale) + 128 (llama.cpp Q8_0);
 * int4 scale = m / −8 with m the block's value of largest magnitude, code = clamp(round(x / scale) + 8, 0, 15)
 * (llama.cpp Q4_0: the extreme value lands exactly on −8, so all 16 codes are used).
 * Asymmetric: range [min(x, 0), max(x, 0)] over 2^bits − 1 steps, zero point = round(−min / scale).
 *
 * Deterministic: plain float32 arithmetic in a fixed order (Math.fround), so the same weights and
 * parameters give the same bytes on every machine.
 */

export interface QuantParams {
  bits: 4 | 8;
  /** Power of two ≥ 16 (MatMulNBits requirement). */
  blockSize: number;
  symmetric: boolean;
  /**
   * MatMulNBits accuracy_level: 0 computes A in float32 (the 8-bit CPU kernel then falls back to a
   * dequantize-per-call path ~1000× slower), 4 quantizes A to int8 per block and uses the int8 kernels.
   */
  accuracyLevel: 0 | 1 | 2 | 3 | 4;
}

export const DEFAULT_QUANT: Record<'int8' | 'int4', QuantParams> = {
  int8: { bits: 8, blockSize: 32, symmetric: true, accuracyLevel: 4 },
  int4: { bits: 4, blockSize: 32, symmetric: true, accuracyLevel: 4 },
};

export interface QuantizedMatrix {
  /** [N, kBlocks, blob] */
  data: Uint8Array;
  /** [N · kBlocks] */
  scales: Float32Array;
  /** [N, ⌈kBlocks·bits/8⌉], asymmetric only */
  zeroPoints: Uint8Array | null;
  N: number;
  K: number;
  kBlocks: number;
  blob: number;
}

export function validateQuantParams(p: QuantParams): void {
  if (p.bits !== 4 && p.bits !== 8) throw new Error(`quantization bits must be 4 or 8 (got ${p.bits}); onnxruntime's CPU MatMulNBits kernel computes 2-bit weights incorrectly`);
  if (!Number.isInteger(p.blockSize) || p.blockSize < 16 || (p.blockSize & (p.blockSize - 1)) !== 0) throw new Error(`quantization block size must be a power of two >= 16 (got ${p.blockSize})`);
  if (![0, 1, 2, 3, 4].includes(p.accuracyLevel)) throw new Error(`accuracy level must be 0..4 (got ${p.accuracyLevel})`);
}

/**
 * Quantize the logical [N, K] matrix W. `row(n, out)` fills `out` (length K) with row n, so callers
 * read either layout from the checkpoint without materialising a transposed float32 copy.
 */
export function quantizeMatrix(N: number, K: number, row: (n: number, out: Float32Array) => void, p: QuantParams): QuantizedMatrix {
  validateQuantParams(p);
  const { bits, blockSize: bs, symmetric } = p;
  const kBlocks = Math.ceil(K / bs);
  const blob = (bs * bits) / 8;
  const data = new Uint8Array(N * kBlocks * blob);
  const scales = new Float32Array(N * kBlocks);
  const zpStride = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = symmetric ? null : new Uint8Array(N * zpStride);
  const qmax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const r = new Float32Array(K);
  for (let n = 0; n < N; n++) {
    row(n, r);
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * bs;
      const k1 = Math.min(K, k0 + bs);
      let scale: number;
      let zp: number;
      if (symmetric) {
        let m = 0;
        for (let k = k0; k < k1; k++) if (Math.abs(r[k]) > Math.abs(m)) m = r[k];
        scale = bits === 8 ? Math.fround(Math.abs(m) / 127) : Math.fround(m / -8);
        zp = mid;
      } else {
        let lo = 0;
        let hi = 0;
        for (let k = k0; k < k1; k++) {
          if (r[k] < lo) lo = r[k];
          if (r[k] > hi) hi = r[k];
        }
        scale = Math.fround((hi - lo) / qmax);
        zp = scale === 0 ? mid : Math.min(qmax, Math.max(0, Math.round(-lo / scale)));
      }
      scales[n * kBlocks + b] = scale;
      if (zeroPoints) {
        if (bits === 8) zeroPoints[n * zpStride + b] = zp;
        else zeroPoints[n * zpStride + (b >> 1)] |= zp << ((b & 1) * 4);
      }
      const inv = scale === 0 ? 0 : 1 / scale;
      const base = (n * kBlocks + b) * blob;
      for (let k = k0; k < k0 + bs; k++) {
        // Padding past K (K not a multiple of the block) encodes zero.
        const v = k < k1 ? r[k] : 0;
        const c = Math.min(qmax, Math.max(0, Math.round(Math.fround(v * inv)) + zp));
        const j = k - k0;
        if (bits === 8) data[base + j] = c;
        else data[base + (j >> 1)] |= c << ((j & 1) * 4);
      }
    }
  }
  return { data, scales, zeroPoints, N, K, kBlocks, blob };
}

/** Dequantize back to float32 [N, K] (tests, fidelity reference). */
export function dequantizeMatrix(q: QuantizedMatrix, p: QuantParams): Float32Array {
  const { N, K, kBlocks, blob } = q;
  const out = new Float32Array(N * K);
  const zpStride = Math.ceil((kBlocks * p.bits) / 8);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / p.blockSize);
      const j = k - b * p.blockSize;
      const byte = q.data[(n * kBlocks + b) * blob + (p.bits === 8 ? j : j >> 1)];
      const c = p.bits === 8 ? byte : (byte >> ((j & 1) * 4)) & 15;
      let zp = 1 << (p.bits - 1);
      if (q.zeroPoints) zp = p.bits === 8 ? q.zeroPoints[n * zpStride + b] : (q.zeroPoints[n * zpStride + (b >> 1)] >> ((b & 1) * 4)) & 15;
      out[n * K + k] = Math.fround((c - zp) * q.scales[n * kBlocks + b]);
    }
  }
  return out;
}

/** Bytes the quantized matrix occupies (data + scales + zero points). */
export function quantizedBytes(q: QuantizedMatrix): number {
  return q.data.byteLength + q.scales.byteLength + (q.zeroPoints?.byteLength ?? 0);
}
