/**
 * Reading stored shift runs without recomputing anything (the HTML report, `npm start`): the latest finished `shift`
 * run of a workspace, or a named one.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunManifest } from '../storage/run.js';
import type { Workspace } from '../storage/workspace.js';
import type { ShiftResults } from './shift.js';

export interface StoredShift extends ShiftResults { runId: string; runDir: string; updatedAt: string }

/**
 * The stored results of the latest finished shift run (by manifest updatedAt), or of `runId`; null when there is none.
 * `rows` are {model, trait, layer, shift, expression, coherence, r} for every model (the base included, shift 0) and
 * layer; `summary` the r per trait at the reported layer; `screening` and `orders` the dataset screening.
 */
export function readShiftResults(ws: Workspace, runId?: string): StoredShift | null {
  if (!existsSync(ws.runsDir)) return null;
  const candidates: { id: string; manifest: RunManifest }[] = [];
  for (const id of runId ? [runId] : readdirSync(ws.runsDir)) {
    const mf = path.join(ws.runDir(id), 'manifest.json');
    if (!existsSync(mf)) continue;
    const manifest = JSON.parse(readFileSync(mf, 'utf8')) as RunManifest;
    if (manifest.kind === 'shift' && manifest.status === 'done' && existsSync(path.join(ws.runDir(id), 'results.json'))) candidates.push({ id, manifest });
  }
  const latest = candidates.sort((a, b) => a.manifest.updatedAt.localeCompare(b.manifest.updatedAt) || a.id.localeCompare(b.id)).at(-1);
  if (!latest) return null;
  const res = JSON.parse(readFileSync(path.join(ws.runDir(latest.id), 'results.json'), 'utf8')) as ShiftResults;
  return { ...res, runId: latest.id, runDir: ws.runDir(latest.id), updatedAt: latest.manifest.updatedAt };
}
