/**
 * Persona-vector geometry across checkpoints, as the pretraining study reports it (digest §10.5): at one layer,
 * the revision × revision cosine matrix (training order), each revision's cosine to `main` (sorted from most to
 * least similar, like upstream's CSV) and the cosine between consecutive revisions; plus ‖v_ℓ‖, optionally
 * divided by the revision's mean hidden-state norm at ℓ (norm calibration, §10.3).
 */
import { compareRevisions } from './revisions.js';
import { cosine, cosineMatrix, l2 } from './similarity.js';

export interface RevisionVector {
  revision: string;
  /** The vector's row at the analysed layer ([H]). */
  row: Float32Array;
  /** Mean hidden-state L2 norm at that layer on calibration prompts, when known. */
  meanL2?: number;
}

export interface Trajectory {
  layer: number;
  /** Revisions in training order; the last is the reference ("main"). */
  revisions: string[];
  main: string;
  matrix: number[][];
  toMain: { revision: string; cosine: number }[];
  sequential: { source: string; target: string; cosine: number }[];
  norms: { revision: string; norm: number; meanL2: number | null; ratio: number | null }[];
}

export function vectorTrajectory(vectors: RevisionVector[], layer: number): Trajectory {
  if (vectors.length === 0) throw new Error('no vectors to compare');
  const seen = new Set<string>();
  for (const v of vectors) {
    if (seen.has(v.revision)) throw new Error(`revision ${v.revision} appears twice`);
    seen.add(v.revision);
    if (v.row.length !== vectors[0].row.length) {
      throw new Error(`revision ${v.revision} has hidden size ${v.row.length}, ${vectors[0].revision} has ${vectors[0].row.length}: vectors of different models cannot be compared`);
    }
  }
  const sorted = [...vectors].sort((a, b) => compareRevisions(a.revision, b.revision));
  const main = sorted[sorted.length - 1];
  const toMain = sorted.slice(0, -1).map((v) => ({ revision: v.revision, cosine: cosine(v.row, main.row) }))
    .sort((a, b) => b.cosine - a.cosine || compareRevisions(b.revision, a.revision));
  const sequential = sorted.slice(1).map((v, i) => ({ source: sorted[i].revision, target: v.revision, cosine: cosine(sorted[i].row, v.row) }));
  const norms = sorted.map((v) => {
    const norm = l2(v.row);
    const meanL2 = v.meanL2 ?? null;
    return { revision: v.revision, norm, meanL2, ratio: meanL2 ? norm / meanL2 : null };
  });
  return { layer, revisions: sorted.map((v) => v.revision), main: main.revision, matrix: cosineMatrix(sorted.map((v) => v.row)), toMain, sequential, norms };
}
