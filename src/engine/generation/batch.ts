/**
 * Left-padded batch bookkeeping shared by generation, capture and projection: per-row pad counts,
 * the [B, T] attention mask and HF position ids (cumsum(mask) − 1, pads → 1), as BigInt64Arrays.
 *
 * Batch invariance: the padded length is always a multiple of PAD_ALIGN, even for a single row. A row's
 * real tokens then sit at the same key indices mod PAD_ALIGN whatever its neighbours, so onnxruntime's
 * SIMD reductions along the key axis (Softmax's sum of exps, probs·V) group that row's terms into the
 * same lanes and round identically; the extra pads are masked with finfo.min, so they contribute exact zeros.
 * Measured on the toy model (AVX2): 8 already suffices; 32 leaves room for AVX-512's wider vectors.
 */

/** Multiple that every padded prompt length is rounded up to (see above). */
export const PAD_ALIGN = 32;

export interface PaddedBatch {
  batch: number;
  seqLen: number;
  pads: number[];
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  positionIds: BigInt64Array;
}

/** Left-pads `rows` to a common length with `padId` (its value never matters: pads are masked). */
export function leftPad(rows: readonly (readonly number[])[], padId: number, align = PAD_ALIGN): PaddedBatch {
  const B = rows.length;
  const S = Math.ceil(Math.max(...rows.map((r) => r.length)) / align) * align;
  const inputIds = new BigInt64Array(B * S).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(B * S);
  const positionIds = new BigInt64Array(B * S).fill(1n);
  const pads: number[] = [];
  for (let b = 0; b < B; b++) {
    const r = rows[b];
    const pad = S - r.length;
    pads.push(pad);
    for (let j = 0; j < r.length; j++) {
      inputIds[b * S + pad + j] = BigInt(r[j]);
      attentionMask[b * S + pad + j] = 1n;
      positionIds[b * S + pad + j] = BigInt(j);
    }
  }
  return { batch: B, seqLen: S, pads, inputIds, attentionMask, positionIds };
}

/** The attention mask [B, total] for rows with the given left pads and a common total length. */
export function maskFor(pads: readonly number[], total: number): BigInt64Array {
  const m = new BigInt64Array(pads.length * total);
  for (let b = 0; b < pads.length; b++) for (let j = pads[b]; j < total; j++) m[b * total + j] = 1n;
  return m;
}

/** Rows [r0, r1) × columns [from, to) of a [B, S] array. */
export function block(a: BigInt64Array, seqLen: number, r0: number, r1: number, from: number, to: number): BigInt64Array {
  const w = to - from;
  const out = new BigInt64Array((r1 - r0) * w);
  for (let b = r0; b < r1; b++) out.set(a.subarray(b * seqLen + from, b * seqLen + to), (b - r0) * w);
  return out;
}

/** Columns [from, to) of a [B, S] array. */
export function columns(a: BigInt64Array, batch: number, seqLen: number, from: number, to: number): BigInt64Array {
  return block(a, seqLen, 0, batch, from, to);
}
