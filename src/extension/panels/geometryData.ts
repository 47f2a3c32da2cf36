/**
 * The Geometry panel's data (no vscode): the numbers `persona-lab geometry` prints, from the same core functions
 * (discoverVectors → loadRevisionVectors → vectorTrajectory), for a Persona Lab vectors folder
 * (<workspace>/vectors/<model>/<revision>/<trait>.safetensors) or an upstream one (<root>/<revision>/<trait>_<kind>_diff.pt),
 * plus what only a picture needs: per-layer norms, the traits' cosine matrix and a 2-D MDS of the unit vectors.
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseRevision } from '../../core/geometry/revisions.js';
import { mdsOfCosines } from '../../core/geometry/mds.js';
import { cosineMatrix } from '../../core/geometry/similarity.js';
import { discoverVectors, findNormsFile, loadLayerRow, loadRevisionVectors, readActivationNorms, readVectorMatrix } from '../../core/geometry/sources.js';
import { vectorTrajectory } from '../../core/geometry/trajectory.js';
import { defaultGeometryLayer, normsDirFor } from '../../core/jobs/defaults.js';
import type { Workspace } from '../../core/storage/workspace.js';
import { VECTOR_KINDS, type VectorKind } from '../../core/vectors/file.js';
import type { GeometryView } from '../../../webview/geometry/protocol.js';

/** Traits with a vector file in any revision folder under root. */
export function traitsIn(root: string): string[] {
  const out = new Set<string>();
  for (const rev of readdirSync(root)) {
    const dir = path.join(root, rev);
    if (!statSync(dir).isDirectory()) continue;
    for (const f of readdirSync(dir)) {
      if (f.endsWith('.safetensors')) out.add(f.slice(0, -'.safetensors'.length));
      const m = /^(.+)_(prompt_avg|response_avg|prompt_last)_diff\.pt$/.exec(f);
      if (m) out.add(m[1]);
    }
  }
  return [...out].sort();
}

/**
 * The panel's view. Default layer and activation norms by core's rules, as `persona-lab geometry` finds them
 * (../../core/jobs/defaults.ts defaultGeometryLayer, normsDirFor); `ws`: the editor's workspace folder.
 */
export function loadGeometryView(root: string, trait: string, opts: { layer?: number; kind?: VectorKind; normsDir?: string; ws?: Workspace } = {}): GeometryView {
  const kind = opts.kind ?? 'response_avg';
  if (!(VECTOR_KINDS as readonly string[]).includes(kind)) throw new Error(`kind must be one of ${VECTOR_KINDS.join(', ')}`);
  const sources = discoverVectors(root, trait, kind);
  const reference = sources[sources.length - 1];
  const rows = readVectorMatrix(reference.file, kind).rows;
  const layer = opts.layer ?? defaultGeometryLayer(rows);
  if (!Number.isInteger(layer) || layer < 0 || layer >= rows) throw new Error(`layer ${layer} is outside 0..${rows - 1} (the vectors have L+1 = ${rows} rows, row ℓ = hidden_states[ℓ])`);
  const normsDir = opts.normsDir ?? normsDirFor(root, { ws: opts.ws });
  const t = vectorTrajectory(loadRevisionVectors(sources, layer, { kind, normsDir }), layer);
  // Other traits at the reference revision (the trait's own first).
  const refDir = path.dirname(reference.file);
  const traits = [trait, ...traitsIn(root).filter((x) => x !== trait)].filter((x) => {
    try { return discoverVectors(root, x, kind).some((s) => path.dirname(s.file) === refDir); } catch { return false; }
  });
  const traitRows = traits.map((x) => loadLayerRow(discoverVectors(root, x, kind).find((s) => path.dirname(s.file) === refDir)!.file, layer, kind));
  const traitMatrix = cosineMatrix(traitRows);
  const revRows = t.revisions.map((r) => loadLayerRow(sources.find((s) => s.revision === r)!.file, layer, kind));
  const others = traits.slice(1);
  const coords = mdsOfCosines(cosineMatrix([...revRows, ...traitRows.slice(1)])); // as the report's trait MDS (core/geometry/mds.ts)
  const mds = [...t.revisions.map((r) => ({ label: `${trait} @ ${r}`, group: 'revision' as const })), ...others.map((x) => ({ label: `${x} @ ${t.main}`, group: 'trait' as const }))]
    .map((p, i) => ({ ...p, x: coords[i][0], y: coords[i][1] }));
  const perLayer = t.revisions.map((r) => {
    const m = readVectorMatrix(sources.find((s) => s.revision === r)!.file, kind);
    const raw = Array.from({ length: m.rows }, (_, l) => { let s = 0; for (let h = 0; h < m.hidden; h++) { const x = m.data[l * m.hidden + h]; s += x * x; } return Math.sqrt(s); });
    const nf = normsDir ? findNormsFile(normsDir, r) : undefined;
    const mean = nf ? readActivationNorms(nf) : undefined;
    return { revision: r, raw, ratio: raw.map((x, l) => { const d = mean?.get(l); return d ? x / d : null; }) };
  });
  return {
    source: JSON.stringify({ root, trait, layer, kind }), title: `Geometry: ${trait} (${path.basename(root)}, layer ${layer})`, root, trait, kind, layer, layers: rows,
    normsDir: normsDir ?? null, revisions: t.revisions.map((name) => ({ name, tokens: parseRevision(name).tokens })),
    matrix: t.matrix, toMain: t.toMain, sequential: t.sequential, norms: t.norms, traits, traitMatrix, mds, perLayer,
  };
}
