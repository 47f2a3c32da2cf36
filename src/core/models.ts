/**
 * Naming a checkpoint for folders, manifests and vector metadata, from the path the user gave:
 *   <anything>/<model>/revisions/<rev>           → model, rev       (the embedded toy model's layout)
 *   <hf-cache>/models--org--name (+ --revision)  → org--name, rev, commit from refs/<rev>
 *   <folder>                                     → basename, --revision or "main"
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { WeightFormat } from '../engine/model/types.js';

export interface ModelIdentity { name: string; revision: string; commit?: string }

/**
 * A checkpoint served in another weight format than f32 gives other generations and vectors, so it is another model
 * for results: its name carries the format ("toy-persona-int8"), which keeps its runs and vector files apart from
 * the f32 ones (same run ids and paths as before for f32). Without this an int8 run resumed the f32 run's
 * generations and overwrote its vector.
 */
export function identifyModel(modelPath: string, revision?: string, weightFormat?: WeightFormat): ModelIdentity {
  const id = identifyCheckpoint(modelPath, revision);
  return weightFormat && weightFormat !== 'f32' ? { ...id, name: `${id.name}-${weightFormat}` } : id;
}

function identifyCheckpoint(modelPath: string, revision?: string): ModelIdentity {
  const abs = path.resolve(modelPath);
  const parent = path.basename(path.dirname(abs));
  if (parent === 'revisions') {
    const name = path.basename(path.dirname(path.dirname(abs)));
    const rev = revision ?? path.basename(abs);
    return { name, revision: rev, commit: readCommitFile(abs) };
  }
  const base = path.basename(abs);
  if (base.startsWith('models--')) {
    const rev = revision ?? 'main';
    const ref = path.join(abs, 'refs', rev);
    const commit = existsSync(ref) ? readFileSync(ref, 'utf8').trim() : /^[0-9a-f]{40}$/.test(rev) ? rev : undefined;
    return { name: base.slice('models--'.length), revision: rev, commit };
  }
  return { name: base, revision: revision ?? 'main', commit: readCommitFile(abs) };
}

/** Optional `commit` / `revision.json` files next to a checkpoint (written by the toy model's exporter, if present). */
function readCommitFile(dir: string): string | undefined {
  for (const f of ['commit', 'COMMIT']) {
    const p = path.join(dir, f);
    if (existsSync(p)) return readFileSync(p, 'utf8').trim();
  }
  const rj = path.join(dir, 'revision.json');
  if (existsSync(rj)) {
    try { const j = JSON.parse(readFileSync(rj, 'utf8')); if (typeof j.commit === 'string') return j.commit; } catch { /* not ours */ }
  }
  return undefined;
}
