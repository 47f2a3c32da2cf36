/** Geometry panel messages (src/extension/panels/geometry.ts ⇄ webview/geometry/main.ts). */
import { isRecord, num } from '../kit/protocol.js';

export interface GeometryView {
  source: string;
  title: string;
  root: string;
  trait: string;
  kind: string;
  layer: number;
  /** L+1 rows of every vector. */
  layers: number;
  normsDir: string | null;
  /** Revisions in training order (the last is the reference, main), with tokens seen when the name says so. */
  revisions: { name: string; tokens: number | null }[];
  /** Revision × revision cosine at `layer` (core vectorTrajectory). */
  matrix: number[][];
  toMain: { revision: string; cosine: number }[];
  sequential: { source: string; target: string; cosine: number }[];
  norms: { revision: string; norm: number; meanL2: number | null; ratio: number | null }[];
  /** Traits with a vector in the reference revision, and their cosine matrix at `layer`. */
  traits: string[];
  traitMatrix: number[][];
  /** 2-D classical MDS of the unit vectors (the trait's revisions, then the other traits' reference vectors). */
  mds: { label: string; group: 'revision' | 'trait'; x: number; y: number }[];
  /** ‖v_ℓ‖ per layer for each revision, raw and ÷ the revision's mean hidden-state norm at ℓ (null without norms). */
  perLayer: { revision: string; raw: number[]; ratio: (number | null)[] }[];
}
export interface Rendered { charts: number; maps: number; points: number }
export type ToWebview = { type: 'geometry'; view: GeometryView; update: boolean };
export type FromWebview = { type: 'rendered' } & Rendered;

export function parseRendered(m: unknown): Rendered | undefined {
  if (!isRecord(m) || m.type !== 'rendered') return undefined;
  const charts = num(m.charts), maps = num(m.maps), points = num(m.points);
  return charts === undefined || maps === undefined || points === undefined ? undefined : { charts, maps, points };
}
