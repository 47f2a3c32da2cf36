/**
 * Sweep dashboard (webview/sweep): a sweep run's Δτ and coherence per revision, significance, geometry and
 * transfer rows. It fills in while the sweep runs: the run folder and the model's vector folder are watched and
 * the view is reposted on every change (./sweepData.ts reads what has landed).
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseRendered, type Rendered, type ToWebview } from '../../../webview/sweep/protocol.js';
import type { Locations } from '../locations.js';
import { showPanel, type PanelServices } from '../webview/panel.js';
import { readManifest, loadSweepView, workspaceOfRun } from './sweepData.js';
import { runDirOf, type RunArg } from './runs.js';

export const SWEEP_VIEW_TYPE = 'personaLab.sweepDashboard';
export interface SweepServices extends PanelServices { locations: Locations }

function sweepRuns(runsDir: string | undefined): string[] {
  if (!runsDir || !existsSync(runsDir)) return [];
  return readdirSync(runsDir).filter((d) => {
    const dir = path.join(runsDir, d);
    if (existsSync(path.join(dir, 'manifest.json'))) { try { return readManifest(dir).kind === 'sweep'; } catch { return false; } }
    return d.startsWith('sweep-') && existsSync(path.join(dir, 'results.json'));
  }).sort().reverse();
}

export async function openSweepDashboard(s: SweepServices, arg?: RunArg, adopt?: vscode.WebviewPanel): Promise<Rendered | undefined> {
  let runDir = runDirOf(arg);
  if (!runDir) {
    const runs = s.locations.workspaceSubfolder('runs');
    const sweeps = sweepRuns(runs);
    if (sweeps.length === 0) throw new Error('no sweep run in the workspace folder: run "Persona Lab: Run Checkpoint Sweep…" or `persona-lab sweep` first');
    const pick = await vscode.window.showQuickPick(sweeps, { title: 'Open which sweep?' });
    if (!pick) return undefined;
    runDir = path.join(runs!, pick);
  }
  const dir = runDir;
  const view = loadSweepView(dir);
  const watch: vscode.GlobPattern[] = [new vscode.RelativePattern(vscode.Uri.file(dir), '{manifest.json,results.json}')];
  if (view.model) watch.push(new vscode.RelativePattern(vscode.Uri.file(path.join(workspaceOfRun(dir), 'vectors')), '**/*.{safetensors,status.json}'));
  const { rendered } = showPanel<ReturnType<typeof loadSweepView>, Rendered>(s, {
    viewType: SWEEP_VIEW_TYPE, bundle: 'sweep', title: view.title, source: dir, exportDir: dir,
    load: () => loadSweepView(dir),
    message: (v, update): ToWebview => ({ type: 'sweep', view: v, update }),
    parseRendered,
    describe: (r) => `${r.charts} charts, ${r.rows} rows, ${r.points} points`,
    watch: view.status === 'running' ? watch : undefined,
  }, adopt);
  return rendered;
}
