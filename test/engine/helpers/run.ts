/** Small helpers to drive a LoadedModel in tests. */
import type { ForwardOutputs, LoadedModel } from '../../../src/engine/model/types.js';

export async function runSingle(model: LoadedModel, ids: number[], steer?: Float32Array): Promise<ForwardOutputs> {
  const S = ids.length;
  const out = await model.forward({
    batch: 1, seqLen: S, inputIds: BigInt64Array.from(ids, BigInt), positionIds: BigInt64Array.from({ length: S }, (_, i) => BigInt(i)),
    attentionMask: new BigInt64Array(S).fill(1n), steer: steer ?? null, logits: 'all', hiddenStates: true,
  });
  out.present.dispose();
  return out;
}

/** max |a-b| and whether |a-b| ≤ tol·(1+|b|) everywhere. */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4): { maxAbs: number; ok: boolean } {
  if (a.length !== b.length) return { maxAbs: Infinity, ok: false };
  let maxAbs = 0;
  let ok = true;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    if (!(d <= tol * (1 + Math.abs(b[i])))) ok = false;
  }
  return { maxAbs, ok };
}

export function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
