/**
 * The sweep dashboard's data (no vscode: unit-testable). A sweep run folder's manifest says which revisions and
 * traits (with their layer and coef) the sweep covers; results.json, once written, holds the combined table, the
 * geometry and the transfer rows. While the sweep runs, each revision's extraction outcome is read from the
 * workspace's vector folder as it lands (a vector, or a status file with the reason), so the dashboard fills in live.
 */
import { existsSync, readFileSync, openSync, readSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import { parseRevision } from '../../core/geometry/revisions.js';
import type { RunManifest } from '../../core/storage/run.js';
import { Workspace } from '../../core/storage/workspace.js';
import type { SweepCell, SweepTrajectory, SweepView, TransferCell } from '../../../webview/sweep/protocol.js';

/** Vectors averaged over fewer kept pairs than this are noisy: the dashboard says so next to their cosines. */
export const FEW_PAIRS = 5;

export function readManifest(runDir: string): RunManifest {
  const file = path.join(runDir, 'manifest.json');
  if (!existsSync(file)) throw new Error(`${runDir} is not a Persona Lab run folder (no manifest.json)`);
  return JSON.parse(readFileSync(file, 'utf8')) as RunManifest;
}

const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : null);
const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** A safetensors file's string metadata (header only; undefined when unreadable). */
export function safetensorsMetadata(file: string): Record<string, string> | undefined {
  try {
    const fd = openSync(file, 'r');
    try {
      const len = Buffer.alloc(8);
      readSync(fd, len, 0, 8, 0);
      const size = Number(len.readBigUInt64LE(0));
      if (size > 16 * 1024 * 1024) return undefined;
      const head = Buffer.alloc(size);
      readSync(fd, head, 0, size, 8);
      return (JSON.parse(head.toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__;
    } finally { closeSync(fd); }
  } catch { return undefined; }
}
const vectorPairsTotal = (file: string): number | null => n(safetensorsMetadata(file)?.pairs_total);

/** The workspace root of a run folder (<root>/runs/<id>). */
export const workspaceOfRun = (runDir: string): string => path.dirname(path.dirname(runDir));

export function loadSweepView(runDir: string): SweepView {
  // A results.json without a manifest (a copied or older sweep folder) still opens.
  const manifest: Pick<RunManifest, 'kind' | 'status' | 'config'> = !existsSync(path.join(runDir, 'manifest.json')) && existsSync(path.join(runDir, 'results.json'))
    ? { kind: 'sweep', status: 'done', config: {} } : readManifest(runDir);
  if (manifest.kind !== 'sweep') throw new Error(`${path.basename(runDir)} is a ${manifest.kind} run, not a sweep: the sweep dashboard shows sweep runs (use "Open Judge Results" for its answers)`);
  const cfg = manifest.config as { model?: string; revisions?: string[]; traits?: { trait: string; layer?: number; coef?: number }[]; extract?: { minPairs?: number } };
  const ws = new Workspace(workspaceOfRun(runDir));
  const model = s(cfg.model);
  const resultsFile = path.join(runDir, 'results.json');
  const results = existsSync(resultsFile)
    ? JSON.parse(readFileSync(resultsFile, 'utf8')) as { rows?: Record<string, unknown>[]; trajectories?: Record<string, SweepTrajectory | null>; transferRows?: Record<string, unknown>[] }
    : undefined;
  const traits = (cfg.traits ?? []).map((t) => ({ trait: t.trait, layer: n(t.layer), coef: n(t.coef) }));
  // Revisions: the manifest's (training order as given), or the results' when an old manifest lacks them.
  const revNames = cfg.revisions ?? [...new Set((results?.rows ?? []).map((r) => s(r.eval_revision)))];
  for (const r of results?.rows ?? []) if (!traits.some((t) => t.trait === r.trait)) traits.push({ trait: s(r.trait), layer: n(r.layer), coef: n(r.coef) });
  const cells: SweepCell[] = [];
  for (const t of traits) {
    for (const revision of revNames) {
      const row = results?.rows?.find((r) => r.trait === t.trait && (r.eval_revision ?? r.extract_revision) === revision && (r.mode === undefined || r.mode === 'steer'));
      const cell: SweepCell = { revision, trait: t.trait, state: 'pending', layer: t.layer, coef: t.coef, pairsKept: null, pairsTotal: null, deltaTrait: null,
        coherence: null, deltaCoherence: null, p: null, pBonferroni: null, reason: null };
      const statusFile = model ? ws.vectorStatusPath(model, revision, t.trait) : '';
      const vectorFile = model ? ws.vectorPath(model, revision, t.trait) : '';
      if (statusFile && existsSync(statusFile)) {
        const st = JSON.parse(readFileSync(statusFile, 'utf8')) as { message?: string; status?: string; filter?: { pairs_kept?: number; pairs_total?: number } };
        Object.assign(cell, { state: 'no-vector', reason: st.message ?? st.status ?? 'not extractable', pairsKept: n(st.filter?.pairs_kept), pairsTotal: n(st.filter?.pairs_total) });
      } else if (vectorFile && existsSync(vectorFile)) {
        Object.assign(cell, { state: 'vector', pairsTotal: vectorPairsTotal(vectorFile) });
      }
      if (row) {
        cell.layer = n(row.layer) ?? cell.layer;
        cell.coef = n(row.coef) ?? cell.coef;
        cell.pairsKept = n(row.effective_rows) ?? cell.pairsKept;
        if (row.vector_exists === false || row.vector_exists === 'false') {
          cell.state = 'no-vector';
          cell.reason = s(row.status).replace(/^nonextractable:\s*/, '') || cell.reason || 'not extractable';
        } else {
          Object.assign(cell, { state: 'done', deltaTrait: n(row.delta_trait_mean), coherence: n(row.output_coherence_mean), deltaCoherence: n(row.delta_coherence_mean),
            p: n(row.trait_primary_p_two_sided), pBonferroni: n(row.trait_primary_p_two_sided_bonferroni_within_trait) });
        }
      }
      cells.push(cell);
    }
  }
  const transfer: TransferCell[] = (results?.transferRows ?? []).map((r) => ({
    sourceRevision: s(r.extract_revision ?? r.source_revision), target: s(r.eval_revision ?? r.target), trait: s(r.trait),
    deltaTrait: n(r.delta_trait_mean), coherence: n(r.output_coherence_mean), pBonferroni: n(r.trait_primary_p_two_sided_bonferroni_within_trait ?? r.trait_primary_p_two_sided),
  }));
  return {
    source: runDir, title: `Sweep: ${path.basename(runDir)}`, model, status: manifest.status,
    revisions: revNames.map((name) => ({ name, tokens: parseRevision(name).tokens })),
    traits, cells, trajectories: results?.trajectories ?? {}, transfer, fewPairs: FEW_PAIRS,
  };
}
