/**
 * Where geometry gets its vectors: one folder per revision, in either layout
 *   upstream      <root>/<revision>/<trait>_<kind>_diff.pt        (pretraining_persona data/persona_vectors/<model>)
 *   Persona Lab   <root>/<revision>/<trait>.safetensors           (<workspace>/vectors/<model>)
 * and, optionally, upstream's activation-norm CSVs <norms>/<revision>_{norms,shared_norms}.csv
 * (columns layer,mean_l2,std_l2,count). Every vector file is [L+1, H] with row ℓ = hidden_states[ℓ].
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../errors.js';
import { readVectorFile, type VectorKind } from '../vectors/file.js';
import { parseSimpleCsv } from './csv.js';
import { sortRevisions } from './revisions.js';
import type { RevisionVector } from './trajectory.js';

export interface VectorSource { revision: string; file: string }

/** The vector file of `trait` in each revision folder under `root` (revisions without one are skipped). */
export function discoverVectors(root: string, trait: string, kind: VectorKind = 'response_avg'): VectorSource[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new PipelineError('vector-missing', `${root} is not a folder of revision folders (expected <root>/<revision>/${trait}.safetensors or <root>/<revision>/${trait}_${kind}_diff.pt)`);
  }
  const out: VectorSource[] = [];
  for (const rev of sortRevisions(readdirSync(root).filter((d) => statSync(path.join(root, d)).isDirectory()))) {
    for (const name of [`${trait}.safetensors`, `${trait}_${kind}_diff.pt`]) {
      const f = path.join(root, rev, name);
      if (existsSync(f)) { out.push({ revision: rev, file: f }); break; }
    }
  }
  if (out.length === 0) {
    throw new PipelineError('vector-missing', `no ${trait} vectors under ${root}: looked for <revision>/${trait}.safetensors and <revision>/${trait}_${kind}_diff.pt`);
  }
  return out;
}

/** A vector file's [L+1, H] matrix of one kind (.safetensors written by Persona Lab, or an upstream bare-tensor .pt). */
export function readVectorMatrix(file: string, kind: VectorKind = 'response_avg'): { rows: number; hidden: number; data: Float32Array } {
  const v = readVectorFile(file);
  // An upstream .pt file holds the one kind its name states; take it whatever `kind` asks for.
  const data = file.endsWith('.pt') ? Object.values(v.data)[0] : v.data[kind];
  if (!data) throw new PipelineError('vector-invalid', `${file} has no ${kind} vector`);
  return { rows: v.layers, hidden: v.hidden, data };
}

/** Row `layer` (= hidden_states[layer]) of a vector file. */
export function loadLayerRow(file: string, layer: number, kind: VectorKind = 'response_avg'): Float32Array {
  const m = readVectorMatrix(file, kind);
  if (!Number.isInteger(layer) || layer < 0 || layer >= m.rows) {
    throw new PipelineError('vector-invalid', `${file}: layer ${layer} is outside 0..${m.rows - 1} (the vector has L+1 = ${m.rows} rows, row ℓ = hidden_states[ℓ])`);
  }
  return m.data.slice(layer * m.hidden, (layer + 1) * m.hidden);
}

/** mean_l2 per layer from an activation-norm CSV. */
export function readActivationNorms(file: string): Map<number, number> {
  const rows = parseSimpleCsv(readFileSync(file, 'utf8'));
  const header = rows[0] ?? [];
  const li = header.indexOf('layer'), mi = header.indexOf('mean_l2');
  if (li < 0 || mi < 0) throw new PipelineError('vector-invalid', `${file}: expected columns layer,mean_l2 (found ${header.join(',')})`);
  const out = new Map<number, number>();
  for (const r of rows.slice(1)) {
    const l = Number(r[li]), m = Number(r[mi]);
    if (!Number.isInteger(l) || !Number.isFinite(m)) throw new PipelineError('vector-invalid', `${file}: bad row "${r.join(',')}"`);
    out.set(l, m);
  }
  return out;
}

/** `<dir>/<revision>_norms.csv`, else `<dir>/<revision>_shared_norms.csv`, else undefined (as upstream looks them up). */
export function findNormsFile(dir: string, revision: string): string | undefined {
  return [`${revision}_norms.csv`, `${revision}_shared_norms.csv`].map((n) => path.join(dir, n)).find((f) => existsSync(f));
}

/** Loads each source's row at `layer`, with the revision's mean hidden norm there when a norms folder has it. */
export function loadRevisionVectors(sources: VectorSource[], layer: number, opts: { kind?: VectorKind; normsDir?: string } = {}): RevisionVector[] {
  return sources.map((s) => {
    const row = loadLayerRow(s.file, layer, opts.kind);
    const nf = opts.normsDir ? findNormsFile(opts.normsDir, s.revision) : undefined;
    const meanL2 = nf ? readActivationNorms(nf).get(layer) : undefined;
    return { revision: s.revision, row, meanL2 };
  });
}
