// Classical MDS (src/core/geometry/mds.ts), the one implementation behind the geometry panel and the report.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classicalMds, mdsOfCosines, symmetricEigen } from '../../src/core/geometry/mds.js';

const dist2 = (xy: number[][], i: number, j: number) => Math.hypot(xy[i][0] - xy[j][0], xy[i][1] - xy[j][1]);

test('recovers the distances of points on a line', () => {
  const pts = [0, 1, 3];
  const xy = classicalMds(pts.map((a) => pts.map((b) => Math.abs(a - b))));
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(dist2(xy, i, j) - Math.abs(pts[i] - pts[j])) < 1e-9, JSON.stringify(xy));
  for (const p of xy) assert.ok(Math.abs(p[1]) < 1e-7, 'a line needs one axis');
});

test('keeps the chord distances of unit vectors that lie in a plane', () => {
  const angles = [0, 0.5, 1.3, 2.0, 4.1];
  const cos = angles.map((a) => angles.map((b) => Math.cos(a - b)));
  const xy = mdsOfCosines(cos);
  for (let i = 0; i < angles.length; i++) for (let k = 0; k < angles.length; k++) {
    assert.ok(Math.abs(dist2(xy, i, k) - Math.sqrt(2 - 2 * cos[i][k])) < 1e-9, `${i},${k}: ${dist2(xy, i, k)}`);
  }
});

test('the eigen-decomposition is exact, with the largest eigenvalue first', () => {
  // A fixed symmetric matrix with two close top eigenvalues (where power iteration stalls).
  const n = 7;
  const a = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => Math.sin(1 + i * 7 + j * 7) + Math.sin(1 + j * 7 + i * 7) + (i === j ? (i < 2 ? 10 + i * 1e-6 : i) : 0)));
  const { values, vectors } = symmetricEigen(a);
  for (let k = 0; k < n; k++) {
    const av = a.map((r) => r.reduce((s, x, j) => s + x * vectors[k][j], 0));
    for (let i = 0; i < n; i++) assert.ok(Math.abs(av[i] - values[k] * vectors[k][i]) < 1e-9, `A v = λ v for eigenpair ${k}`);
    for (let l = 0; l < n; l++) {
      const d = vectors[k].reduce((s, x, i) => s + x * vectors[l][i], 0);
      assert.ok(Math.abs(d - (k === l ? 1 : 0)) < 1e-12, 'orthonormal');
    }
    if (k) assert.ok(values[k] <= values[k - 1]);
  }
});

test('deterministic, with each axis oriented so the first point off zero is positive', () => {
  const angles = [2.5, 0.3, 1.1, 5.0];
  const cos = angles.map((a) => angles.map((b) => Math.cos(a - b)));
  const xy = mdsOfCosines(cos);
  assert.deepEqual(mdsOfCosines(cos.map((r) => [...r])), xy, 'bit-identical on the same input');
  for (const axis of [0, 1]) {
    const first = xy.map((p) => p[axis]).find((x) => Math.abs(x) > 1e-9);
    assert.ok(first !== undefined && first > 0, `axis ${axis}: ${JSON.stringify(xy)}`);
  }
  // The mirror image of the configuration (negated angles) has the same distances, so the same coordinates.
  const mirror = angles.map((a) => -a);
  assert.deepEqual(mdsOfCosines(mirror.map((a) => mirror.map((b) => Math.cos(a - b)))).map((p) => p.map((x) => x.toFixed(9))), xy.map((p) => p.map((x) => x.toFixed(9))));
});

test('edge cases: no point, one point, a zero vector\'s NaN cosine, a non-square matrix', () => {
  assert.deepEqual(mdsOfCosines([]), []);
  assert.deepEqual(mdsOfCosines([[1]]), [[0, 0]]);
  assert.ok(mdsOfCosines([[1, NaN], [NaN, NaN]]).flat().every(Number.isNaN));
  assert.throws(() => classicalMds([[0, 1], [1]]), /square distance matrix/);
});
