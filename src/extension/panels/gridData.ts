/**
 * The Grid panel's data (no vscode): a grid run's per-condition results (results.json, written by core's runGrid
 * through withRun) as layer × coef points, with the prompting baseline and the chosen best point.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { GridPoint, GridView } from '../../../webview/grid/protocol.js';
import { readManifest } from './sweepData.js';

interface Cond { condition: { kind: string; layer?: number; coef?: number }; rows?: number; trait?: { mean?: number | null }; coherence?: { mean?: number | null };
  deltaTraitMean?: number | null; deltaCoherenceMean?: number | null }

const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function loadGridView(runDir: string): GridView {
  const m = readManifest(runDir);
  if (m.kind !== 'grid') throw new Error(`${path.basename(runDir)} is a ${m.kind} run, not a grid: the Grid panel shows layer × coef grid runs`);
  const file = path.join(runDir, 'results.json');
  const r = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as { conditions?: Cond[]; best?: Cond | null; baseline?: Cond; prompt?: Cond | null } : {};
  const points: GridPoint[] = (r.conditions ?? []).filter((c) => c.condition.kind === 'steer' && c.condition.layer !== undefined && c.condition.coef !== undefined)
    .map((c) => ({ layer: c.condition.layer!, coef: c.condition.coef!, deltaTrait: n(c.deltaTraitMean), coherence: n(c.coherence?.mean), deltaCoherence: n(c.deltaCoherenceMean), rows: c.rows ?? 0 }));
  const cfg = m.config as { trait?: string; minCoherence?: number };
  return {
    source: runDir, title: `Grid: ${path.basename(runDir)}`, status: m.status, trait: String(cfg.trait ?? ''),
    layers: [...new Set(points.map((p) => p.layer))].sort((a, b) => a - b), coefs: [...new Set(points.map((p) => p.coef))].sort((a, b) => a - b), points,
    prompt: r.prompt ? { deltaTrait: n(r.prompt.deltaTraitMean), coherence: n(r.prompt.coherence?.mean) } : null,
    baseline: r.baseline ? { trait: n(r.baseline.trait?.mean), coherence: n(r.baseline.coherence?.mean) } : null,
    best: r.best && r.best.condition.layer !== undefined ? { layer: r.best.condition.layer, coef: r.best.condition.coef!, deltaTrait: n(r.best.deltaTraitMean), coherence: n(r.best.coherence?.mean) } : null,
    minCoherence: n(cfg.minCoherence),
  };
}
