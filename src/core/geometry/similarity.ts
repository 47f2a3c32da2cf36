/**
 * Vector similarity in float64 (upstream computes in float32, so its diagonal reads 1.0000007; values agree to
 * ~1e-7). Rows are compared as flat vectors: pass one layer's row per vector.
 */

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`vectors differ in length (${a.length} vs ${b.length})`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export const l2 = (a: ArrayLike<number>): number => Math.sqrt(dot(a, a));

/** cos(a, b); NaN when either vector is zero (an all-zero vector has no direction). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = l2(a) * l2(b);
  return n === 0 ? NaN : dot(a, b) / n;
}

/** Symmetric matrix of pairwise cosines, row-major [n, n]. */
export function cosineMatrix(vs: ArrayLike<number>[]): number[][] {
  const norms = vs.map(l2);
  return vs.map((a, i) => vs.map((b, j) => (norms[i] * norms[j] === 0 ? NaN : (i === j ? 1 : dot(a, b) / (norms[i] * norms[j])))));
}

/** Pearson correlation between vectors across their coordinates (numpy.corrcoef on the rows). */
export function pearsonMatrix(vs: ArrayLike<number>[]): number[][] {
  const centred = vs.map((v) => {
    let m = 0;
    for (let i = 0; i < v.length; i++) m += v[i];
    m /= v.length;
    return Float64Array.from(v as ArrayLike<number>, (x) => x - m);
  });
  return cosineMatrix(centred);
}
