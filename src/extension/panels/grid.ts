/** Grid panel (webview/grid): a grid run's layer × coef heat-maps of Δτ and coherence, prompting baseline and best point marked. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseRendered, type GridView, type Rendered, type ToWebview } from '../../../webview/grid/protocol.js';
import type { Locations } from '../locations.js';
import { showPanel, type PanelServices } from '../webview/panel.js';
import { loadGridView } from './gridData.js';
import { judgedRuns } from './judge.js';
import { runDirOf, type RunArg } from './runs.js';
import { readManifest } from './sweepData.js';

export const GRID_VIEW_TYPE = 'personaLab.gridResults';

export async function openGrid(s: PanelServices & { locations: Locations }, arg?: RunArg, adopt?: vscode.WebviewPanel): Promise<Rendered | undefined> {
  let runDir = runDirOf(arg);
  if (!runDir) {
    const grids = judgedRuns(s.locations.workspaceSubfolder('runs')).filter((r) => r.kind === 'grid');
    if (grids.length === 0) throw new Error('no grid run in the workspace folder: run a layer × coef grid (`persona-lab grid`) first');
    const pick = await vscode.window.showQuickPick(grids.map((r) => ({ label: path.basename(r.dir), description: r.status, detail: r.created, dir: r.dir })), { title: 'Open which grid?' });
    if (!pick) return undefined;
    runDir = pick.dir;
  }
  const dir = runDir;
  const { rendered } = showPanel<GridView, Rendered>(s, {
    viewType: GRID_VIEW_TYPE, bundle: 'grid', title: `Grid: ${path.basename(dir)}`, source: dir, exportDir: dir,
    load: () => loadGridView(dir),
    message: (v, update): ToWebview => ({ type: 'grid', view: v, update }),
    parseRendered,
    describe: (r) => `${r.maps} heat-maps, ${r.cells} cells, ${r.charts} charts`,
    watch: readManifest(dir).status === 'running' ? [new vscode.RelativePattern(vscode.Uri.file(dir), '{manifest,results}.json')] : undefined,
  }, adopt);
  return rendered;
}
