/**
 * The workspace folder (layout documented in ./README.md):
 *
 *   <root>/traits/{extract,eval}/<trait>.json       trait files (upstream's trait_data_extract / trait_data_eval split)
 *   <root>/vectors/<model>/<revision>/<trait>.safetensors     [L+1, H] float32 per kind + metadata
 *   <root>/vectors/<model>/<revision>/<trait>.status.json     written instead when not extractable
 *   <root>/runs/<run-id>/manifest.json, generations.jsonl, judgements.jsonl, results.json, *.csv, pair_diffs.safetensors
 *   <root>/norms/<model>/<revision>_shared_norms.csv          activation norms (../calibration.ts)
 *   <root>/geometry/<model>/…                        geometry CSVs (persona-lab geometry)
 *   <root>/cache/judge/<judge-model>.jsonl          persistent LLM-judge cache
 *
 * Pure path logic: nothing here touches the model or the judge.
 */
import path from 'node:path';

/** A model name safe as one folder name: "org/name" → "org--name" (the HF cache convention). */
export function modelFolderName(model: string): string {
  return model.replace(/[\\/]+/g, '--').replace(/[^A-Za-z0-9._-]+/g, '_');
}

export class Workspace {
  constructor(readonly root: string) {}

  get traitsDir(): string { return path.join(this.root, 'traits'); }
  traitPath(set: 'extract' | 'eval', trait: string): string { return path.join(this.root, 'traits', set, `${trait}.json`); }
  get runsDir(): string { return path.join(this.root, 'runs'); }
  get judgeCacheDir(): string { return path.join(this.root, 'cache', 'judge'); }

  vectorDir(model: string, revision: string): string {
    return path.join(this.root, 'vectors', modelFolderName(model), modelFolderName(revision || 'main'));
  }
  vectorPath(model: string, revision: string, trait: string): string {
    return path.join(this.vectorDir(model, revision), `${trait}.safetensors`);
  }
  vectorStatusPath(model: string, revision: string, trait: string): string {
    return path.join(this.vectorDir(model, revision), `${trait}.status.json`);
  }
  runDir(runId: string): string { return path.join(this.runsDir, runId); }
}
