/**
 * Sweep dashboard messages (src/extension/panels/sweep.ts ⇄ webview/sweep/main.ts). The extension posts the
 * whole view (again on every change of the run folder while the sweep runs); the webview answers 'rendered'.
 */
import { isRecord, num } from '../kit/protocol.js';

export interface SweepCell {
  revision: string;
  trait: string;
  /** done: evaluated; vector: extracted, not evaluated yet; no-vector: not extractable (reason); pending: not reached yet. */
  state: 'done' | 'vector' | 'no-vector' | 'pending';
  layer: number | null;
  coef: number | null;
  pairsKept: number | null;
  pairsTotal: number | null;
  deltaTrait: number | null;
  coherence: number | null;
  deltaCoherence: number | null;
  p: number | null;
  pBonferroni: number | null;
  reason: string | null;
}
export interface TransferCell { sourceRevision: string; target: string; trait: string; deltaTrait: number | null; coherence: number | null; pBonferroni: number | null }
export interface SweepTrajectory { revisions: string[]; main: string; toMain: { revision: string; cosine: number }[]; sequential: { source: string; target: string; cosine: number }[] }

export interface SweepView {
  source: string;
  title: string;
  model: string;
  status: string;
  /** Revisions in training order, with tokens seen when the name says so. */
  revisions: { name: string; tokens: number | null }[];
  traits: { trait: string; layer: number | null; coef: number | null }[];
  cells: SweepCell[];
  trajectories: Record<string, SweepTrajectory | null>;
  transfer: TransferCell[];
  /** Vectors from fewer kept pairs than this get a caveat next to their cosines. */
  fewPairs: number;
}

export type ToWebview = { type: 'sweep'; view: SweepView; update: boolean };
export interface Rendered { charts: number; rows: number; points: number }
export type FromWebview = { type: 'rendered' } & Rendered;

export function parseRendered(m: unknown): Rendered | undefined {
  if (!isRecord(m) || m.type !== 'rendered') return undefined;
  const charts = num(m.charts), rows = num(m.rows), points = num(m.points);
  return charts === undefined || rows === undefined || points === undefined ? undefined : { charts, rows, points };
}
