/**
 * Sweep dashboard webview: opens a sweep run's results.json (runs/sweep-…) as charts and a table
 * (webview/sweep/main.ts). The panel talks by messages only: the webview says 'ready', gets the data, and reports
 * 'rendered' with what it drew — which the command returns, so tests (and the log) know the panel really rendered.
 * Strict CSP: only this extension's dist/ scripts, with a nonce; no network.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Locations } from './locations.js';

export interface DashboardServices { log: vscode.LogOutputChannel; locations: Locations; extensionUri: vscode.Uri }
export interface Rendered { charts: number; rows: number }

export async function openSweepDashboard(s: DashboardServices, arg?: string | { runDir?: string } | { entry?: { path: string } }): Promise<Rendered | undefined> {
  const runs = s.locations.workspaceSubfolder('runs');
  let runDir = typeof arg === 'string' ? arg : arg && 'runDir' in arg ? arg.runDir : arg && 'entry' in arg ? arg.entry?.path : undefined;
  if (!runDir) {
    const sweeps = runs && existsSync(runs) ? readdirSync(runs).filter((d) => d.startsWith('sweep-') && existsSync(path.join(runs, d, 'results.json'))).sort() : [];
    if (sweeps.length === 0) throw new Error('no finished sweep in the workspace folder: run "Persona Lab: Run Checkpoint Sweep…" or `persona-lab sweep` first');
    const pick = await vscode.window.showQuickPick(sweeps.reverse(), { title: 'Open which sweep?' });
    if (!pick) return undefined;
    runDir = path.join(runs!, pick);
  }
  const resultsFile = path.join(runDir, 'results.json');
  if (!existsSync(resultsFile)) throw new Error(`${runDir} has no results.json: is it a finished sweep run?`);
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as { rows: unknown[]; trajectories: Record<string, unknown> };
  const panel = vscode.window.createWebviewPanel('personaLab.sweepDashboard', `Sweep: ${path.basename(runDir)}`, vscode.ViewColumn.Active,
    { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(s.extensionUri, 'dist')] });
  const nonce = randomBytes(16).toString('base64');
  const script = panel.webview.asWebviewUri(vscode.Uri.joinPath(s.extensionUri, 'dist', 'webview', 'sweep.js'));
  panel.webview.html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${panel.webview.cspSource} data:; style-src ${panel.webview.cspSource} 'unsafe-inline'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style>body{font-family:var(--vscode-font-family);color:var(--vscode-foreground)} table{border-collapse:collapse;margin:8px 0 24px}
td,th{border-bottom:1px solid var(--vscode-panel-border);padding:2px 10px;text-align:right} td:first-child,th:first-child{text-align:left} section{max-width:900px}</style>
</head><body><div id="root">Loading…</div><script type="module" nonce="${nonce}" src="${script}"></script></body></html>`;
  return new Promise<Rendered>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sweep dashboard did not render within 60 s (see the webview developer tools)')), 60_000);
    const sub = panel.webview.onDidReceiveMessage((m: { type: string; charts?: number; rows?: number; message?: string }) => {
      if (m.type === 'ready') void panel.webview.postMessage({ type: 'sweep', data: { title: path.basename(runDir!), ...results } });
      else if (m.type === 'rendered') { clearTimeout(timer); s.log.info(`Sweep dashboard: ${m.charts} charts, ${m.rows} rows`); resolve({ charts: m.charts ?? 0, rows: m.rows ?? 0 }); }
      else if (m.type === 'error') { clearTimeout(timer); reject(new Error(`sweep dashboard: ${m.message}`)); }
    });
    panel.onDidDispose(() => { clearTimeout(timer); sub.dispose(); });
  });
}
