/**
 * The kit panels' commands and their serializers: after a window reload VS Code restores each open panel with the
 * state its webview saved ({ source: the run folder }), and the panel is rebuilt from that folder. A panel whose
 * folder is gone closes quietly (logged).
 */
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import type { Locations } from '../locations.js';
import { sourceOf, type PanelServices } from '../webview/panel.js';
import { GEOMETRY_VIEW_TYPE, openGeometry } from './geometry.js';
import { GRID_VIEW_TYPE, openGrid } from './grid.js';
import { JUDGE_VIEW_TYPE, openJudgeResults } from './judge.js';
import { SWEEP_VIEW_TYPE, openSweepDashboard } from './sweep.js';

export type KitPanelServices = PanelServices & { locations: Locations };
export { openGeometry, openGrid, openJudgeResults, openSweepDashboard };

const PANELS: [string, (s: KitPanelServices, source: string, adopt: vscode.WebviewPanel) => Promise<unknown>][] = [
  [SWEEP_VIEW_TYPE, openSweepDashboard], [JUDGE_VIEW_TYPE, openJudgeResults], [GRID_VIEW_TYPE, openGrid], [GEOMETRY_VIEW_TYPE, openGeometry],
];

export function registerPanelSerializers(s: KitPanelServices): vscode.Disposable[] {
  return PANELS.map(([viewType, open]) => vscode.window.registerWebviewPanelSerializer(viewType, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
      const source = sourceOf(state);
      // A run panel's source is its folder; the geometry panel's is JSON naming its vectors folder.
      const folder = source?.startsWith('{') ? (JSON.parse(source) as { root?: string }).root : source;
      if (!source || !folder || !existsSync(folder)) {
        s.log.info(`Not restoring a ${viewType} panel: ${source ? `${source} no longer exists` : 'it saved no source'}`);
        panel.dispose();
        return;
      }
      try { await open(s, source, panel); } catch (e) { s.log.warn(`Could not restore ${viewType} for ${source}: ${String((e as Error)?.message ?? e)}`); }
    },
  }));
}
