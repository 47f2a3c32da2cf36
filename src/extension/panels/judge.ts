/**
 * Judge Results (webview/judge): every judged answer of a run in a virtualised table with sort, filters and
 * grouping, per-condition histograms, the paired filter's statistics and Δτ per question. "Open raw record"
 * opens the answer's line in the run's generations.jsonl.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseFiltered, parseRecordRequest, parseRendered, type JudgeView, type Rendered, type ToWebview } from '../../../webview/judge/protocol.js';
import type { Locations } from '../locations.js';
import { showPanel, type PanelServices } from '../webview/panel.js';
import { JUDGED_KINDS, loadJudgeView } from './judgeData.js';
import { runDirOf, type RunArg } from './runs.js';
import { readManifest } from './sweepData.js';

export const JUDGE_VIEW_TYPE = 'personaLab.judgeResults';
export interface JudgeServices extends PanelServices { locations: Locations }

/** Runs with judged answers, newest first (run ids are not time-ordered: sort by the manifest's creation time). */
export function judgedRuns(runsDir: string | undefined): { dir: string; kind: string; created: string; status: string }[] {
  if (!runsDir || !existsSync(runsDir)) return [];
  const out: { dir: string; kind: string; created: string; status: string }[] = [];
  for (const d of readdirSync(runsDir)) {
    const dir = path.join(runsDir, d);
    try {
      const m = readManifest(dir);
      if ((JUDGED_KINDS as readonly string[]).includes(m.kind)) out.push({ dir, kind: m.kind, created: m.createdAt, status: m.status });
    } catch { /* not a run folder */ }
  }
  return out.sort((a, b) => b.created.localeCompare(a.created));
}

export async function openJudgeResults(s: JudgeServices, arg?: RunArg, adopt?: vscode.WebviewPanel): Promise<Rendered | undefined> {
  let runDir = runDirOf(arg);
  if (!runDir) {
    const runs = judgedRuns(s.locations.workspaceSubfolder('runs'));
    if (runs.length === 0) throw new Error('no run with judged answers in the workspace folder: run an extraction, evaluation, grid, controls, sweep or transfer first');
    const pick = await vscode.window.showQuickPick(runs.map((r) => ({ label: path.basename(r.dir), description: `${r.kind} · ${r.status}`, detail: r.created, dir: r.dir })),
      { title: 'Open the judge results of which run?', matchOnDescription: true });
    if (!pick) return undefined;
    runDir = pick.dir;
  }
  const dir = runDir;
  let view: JudgeView | undefined;
  const { rendered } = showPanel<JudgeView, Rendered>(s, {
    viewType: JUDGE_VIEW_TYPE, bundle: 'judge', title: `Judge Results: ${path.basename(dir)}`, source: dir, exportDir: dir,
    load: () => (view = loadJudgeView(dir)),
    message: (v, update): ToWebview => ({ type: 'judge', view: v, update }),
    parseRendered,
    describe: (r) => `${r.rows} rows drawn in ${r.ms.toFixed(0)} ms`,
    watch: readManifest(dir).status === 'running' ? [new vscode.RelativePattern(vscode.Uri.file(dir), '{generations,judgements}.jsonl')] : undefined,
    onMessage: (m) => {
      const f = parseFiltered(m);
      if (f) { s.log.debug(`Judge Results: filter → ${f.shown} rows in ${f.ms.toFixed(1)} ms`); return; }
      const r = parseRecordRequest(m);
      const src = r && view?.sources[r.src];
      if (!r || !src) return;
      const file = vscode.Uri.file(path.join(src, 'generations.jsonl'));
      const pos = new vscode.Position(r.line - 1, 0);
      void vscode.window.showTextDocument(file, { viewColumn: vscode.ViewColumn.Beside, selection: new vscode.Range(pos, pos), preview: true });
    },
  }, adopt);
  return rendered;
}
