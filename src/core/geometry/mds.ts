/**
 * Classical (Torgerson) multidimensional scaling: the one implementation behind the geometry panel's 2-D map of
 * unit vectors (src/extension/panels/geometryData.ts) and the report's trait MDS figure (src/core/report/build.ts),
 * so both draw the same coordinates for the same vectors.
 *
 * B = −½·J·D²·J (double-centred squared distances); its eigenvectors by cyclic Jacobi rotations (exact to rounding
 * for the few dozen points a panel or report has, unlike power iteration, which stalls when the top two
 * eigenvalues are close), sorted by eigenvalue, each scaled by √λ (a negative λ, from distances no Euclidean
 * configuration has, gives 0). Deterministic: the same matrix gives bit-identical coordinates. An eigenvector's
 * sign is arbitrary, so each axis is oriented by a rule of the points alone: the first point (in input order) off
 * the axis's zero lies on its positive side.
 */

/** Relative size below which a coordinate counts as zero when orienting an axis. */
const ZERO = 1e-9;

/** Eigenvalues and (column) eigenvectors of a symmetric matrix, largest eigenvalue first. */
export function symmetricEigen(a: number[][]): { values: number[]; vectors: number[][] } {
  const n = a.length;
  const m = a.map((r) => [...r]);
  const v = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j): number => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, diag = 0;
    for (let i = 0; i < n; i++) {
      diag += m[i][i] * m[i][i];
      for (let j = i + 1; j < n; j++) off += m[i][j] * m[i][j];
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        if (m[p][q] === 0) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p], mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k], mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  // Largest first; equal eigenvalues keep their index order (a stable sort), so the result stays deterministic.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j][j] - m[i][i] || i - j);
  return { values: order.map((i) => m[i][i]), vectors: order.map((i) => v.map((row) => row[i])) };
}

/**
 * Classical MDS of a symmetric distance matrix into `dims` dimensions: one row of coordinates per point. A matrix
 * with a non-finite entry (a zero vector's cosine is NaN) gives NaN coordinates, as the distances it stands for do.
 */
export function classicalMds(dist: number[][], dims = 2): number[][] {
  const n = dist.length;
  if (dist.some((r) => r.length !== n)) throw new Error(`classicalMds needs a square distance matrix (got ${n} rows of ${dist.map((r) => r.length).join(', ')})`);
  if (dist.some((r) => r.some((x) => !Number.isFinite(x)))) return Array.from({ length: n }, () => new Array<number>(dims).fill(NaN));
  const d2 = dist.map((r) => r.map((x) => x * x));
  const rowMean = d2.map((r) => r.reduce((s, x) => s + x, 0) / n);
  const all = rowMean.reduce((s, x) => s + x, 0) / n;
  const b = d2.map((r, i) => r.map((x, j) => -0.5 * (x - rowMean[i] - rowMean[j] + all)));
  const { values, vectors } = symmetricEigen(b);
  const coords = Array.from({ length: n }, () => new Array<number>(dims).fill(0));
  for (let k = 0; k < Math.min(dims, n); k++) {
    const scale = Math.sqrt(Math.max(0, values[k]));
    const axis = vectors[k].map((x) => x * scale);
    const big = Math.max(...axis.map(Math.abs));
    const first = axis.find((x) => Math.abs(x) > ZERO * big);
    const sign = first !== undefined && first < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) coords[i][k] = sign * axis[i] + 0; // + 0: no −0 in CSVs
  }
  return coords;
}

/** 2-D classical MDS of unit vectors from their cosine matrix: distance √(2 − 2·cos), the chord between them. */
export function mdsOfCosines(cos: number[][]): [number, number][] {
  return classicalMds(cos.map((r) => r.map((c) => Math.sqrt(Math.max(0, 2 - 2 * c)))), 2).map((p) => [p[0], p[1]]);
}
