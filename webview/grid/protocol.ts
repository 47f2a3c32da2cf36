/** Grid panel messages (src/extension/panels/grid.ts ⇄ webview/grid/main.ts). */
import { isRecord, num } from '../kit/protocol.js';

export interface GridPoint { layer: number; coef: number; deltaTrait: number | null; coherence: number | null; deltaCoherence: number | null; rows: number }
export interface GridView {
  source: string;
  title: string;
  status: string;
  trait: string;
  layers: number[];
  coefs: number[];
  points: GridPoint[];
  /** The prompting baseline (system prompt, no steering): Δτ and coherence against the plain baseline. */
  prompt: { deltaTrait: number | null; coherence: number | null } | null;
  baseline: { trait: number | null; coherence: number | null } | null;
  best: { layer: number; coef: number; deltaTrait: number | null; coherence: number | null } | null;
  /** Minimum coherence for the best point. */
  minCoherence: number | null;
}
export interface Rendered { maps: number; charts: number; cells: number; points: number }
export type ToWebview = { type: 'grid'; view: GridView; update: boolean };
export type FromWebview = { type: 'rendered' } & Rendered;

export function parseRendered(m: unknown): Rendered | undefined {
  if (!isRecord(m) || m.type !== 'rendered') return undefined;
  const maps = num(m.maps), charts = num(m.charts), cells = num(m.cells), points = num(m.points);
  return maps === undefined || charts === undefined || cells === undefined || points === undefined ? undefined : { maps, charts, cells, points };
}
