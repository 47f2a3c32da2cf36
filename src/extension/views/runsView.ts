/**
 * Runs view: one item per run folder in the workspace folder's runs/, newest first, this window's running jobs on top.
 * A run shows a status icon and `kind · state · [progress ·] elapsed`; its context value names its kind and, when it
 * did not finish, `.unfinished` (or `.running` while a live process holds it), so its actions fit it (package.json
 * menus). A sweep's stage runs (extract, evaluate, transfer) are grouped under the sweep, and a Slurm plan shows its
 * array tasks with their states, then the sweep run it fills (../jobs/runActions.ts groupRuns).
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Locations } from '../locations.js';
import { FileTreeItem, listFolder, type DirEntry } from './fileTree.js';
import { WorkspaceFolderViewProvider } from './workspaceFolderView.js';
import { readPlan } from '../../core/slurm/plan.js';
import { isActive, planStatus, type PlanStatus } from '../../core/slurm/status.js';
import { groupRuns, isUnfinished, runInfo, type RunGroups, type RunInfo, type RunState } from '../jobs/runActions.js';

/** What the Runs view shows of the jobs running in this window (../jobs.ts JobRunner). */
export interface LiveJobs {
  active(): { id: number; title: string; started: number; line: string }[];
  onDidChange: vscode.Event<void>;
}

/** A run folder's item (top level, or under its sweep or Slurm plan). */
export class RunItem extends FileTreeItem {
  constructor(entry: DirEntry, readonly run: RunInfo, depth: number) {
    super(entry, contextOf(run), depth);
  }
}

function contextOf(run: RunInfo): string {
  if (run.kind === 'slurm') return 'personaLab.run.slurm';
  return `personaLab.run.${run.kind}${run.state === 'running' ? '.running' : isUnfinished(run.state) ? '.unfinished' : ''}`;
}

const STATE_ICONS: Record<string, [string, string?]> = {
  done: ['pass', 'testing.iconPassed'], 'not-extractable': ['warning', 'list.warningForeground'], failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash'], running: ['sync~spin'], interrupted: ['debug-pause', 'list.warningForeground'], pending: ['clock'], timeout: ['watch', 'testing.iconFailed'],
  unknown: ['history'], missing: ['question'], 'not-submitted': ['circle-outline'],
};
const icon = (state: string) => { const [id, color] = STATE_ICONS[state] ?? ['question']; return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined); };

const created = (i: FileTreeItem) => (i instanceof RunItem ? Date.parse(i.run.manifest?.createdAt ?? '') || 0 : 0);

export const formatElapsed = (secs: number) => (secs < 60 ? `${secs}s` : secs < 3600 ? `${Math.floor(secs / 60)}m ${String(secs % 60).padStart(2, '0')}s`
  : `${Math.floor(secs / 3600)}h ${String(Math.floor(secs / 60) % 60).padStart(2, '0')}m`);

export class RunsViewProvider extends WorkspaceFolderViewProvider {
  constructor(locations: Locations) {
    super(locations, 'runs');
  }

  private live: LiveJobs | undefined;
  private liveSub: vscode.Disposable | undefined;
  private tick: ReturnType<typeof setInterval> | undefined;
  /** The grouping of the last top-level listing (recomputed on every refresh). */
  private groups: RunGroups = { parent: new Map(), children: new Map() };

  /** Shows this window's running jobs on top (status, progress, elapsed; Cancel), refreshed as they report and every second. */
  showLiveJobs(jobs: LiveJobs): void {
    this.live = jobs;
    this.liveSub?.dispose();
    this.liveSub = jobs.onDidChange(() => {
      this.refresh();
      if (jobs.active().length && !this.tick) this.tick = setInterval(() => this.refresh(), 1000);
      if (!jobs.active().length && this.tick) { clearInterval(this.tick); this.tick = undefined; }
    });
  }

  /** Set while a Slurm plan in view has queued or running units (or a run is running elsewhere): the view refreshes itself until none has. */
  private poll: ReturnType<typeof setTimeout> | undefined;

  /**
   * A run folder's item: status icon, `kind · state · progress · elapsed`, the failure in its tooltip. Labels fit the
   * default sidebar width: a Slurm plan is "Slurm <job> <label>", a stage run under its sweep "<kind> <revision> <trait>"
   * (the folder name is the tooltip's first line).
   */
  private runItem(entry: DirEntry, depth: number, parent?: RunInfo): FileTreeItem {
    const run = runInfo(entry.path);
    if (run.kind === 'unknown' && !run.manifest) return new FileTreeItem(entry, 'personaLab.runFile', depth);
    const item = new RunItem(entry, run, depth);
    const m = run.manifest;
    const c = m?.config;
    if (parent?.kind === 'sweep' && c && typeof c.trait === 'string') {
      const model = (c.model ?? c.target) as { name?: string; revision?: string } | undefined;
      const where = model?.name && model.name !== parent.manifest?.config?.model ? `${model.name}@${model.revision}` : model?.revision ?? '';
      item.label = `${run.kind} ${where} ${c.trait}`;
    }
    if (run.kind === 'slurm') {
      item.iconPath = new vscode.ThemeIcon('server-process');
      try { const plan = readPlan(entry.path); item.label = `Slurm ${plan.job} ${plan.label}`; } catch { /* keep the folder name */ }
      const st = slurmStatus(entry.path);
      if (st) {
        const done = st.units.filter((u) => u.state === 'done').length;
        const failed = st.units.filter((u) => ['failed', 'cancelled', 'timeout', 'missing'].includes(u.state)).length;
        item.description = `${done}/${st.units.length} units done${failed ? `, ${failed} failed` : ''}${st.merge ? `, merge ${st.merge.state}` : ''}`;
        item.accessibilityInformation = { label: `${String(item.label)}, ${item.description}` };
        item.tooltip = `Slurm plan ${entry.name}\n${st.units.map((u) => `${u.id}: ${u.state}${u.jobId ? ` (job ${u.jobId})` : ''}`).join('\n')}${st.merge ? `\nmerge: ${st.merge.state}` : ''}`;
        if (st.units.some((u) => isActive(u.state)) || (st.merge && isActive(st.merge.state))) { item.iconPath = icon('running'); this.pollSoon(); }
      }
      return item;
    }
    item.iconPath = icon(run.state);
    const start = Date.parse(m?.createdAt ?? ''), end = run.state === 'running' ? Date.now() : Date.parse(m?.updatedAt ?? '');
    const secs = Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, Math.round((end - start) / 1000)) : undefined;
    const progress = run.kind === 'sweep' ? sweepProgress(entry.path, m?.config) : undefined;
    const state = run.state === 'unknown' ? m?.status ?? 'unknown' : run.state;
    // A stage run's short label already names its kind.
    const named = item.label !== entry.name;
    item.description = [named ? undefined : run.kind, state, progress, secs !== undefined ? formatElapsed(secs) : undefined].filter(Boolean).join(' · ');
    const members = this.groups.children.get(entry.path)?.length;
    item.tooltip = [entry.name, `${run.kind} · ${state}${progress ? ` · ${progress}` : ''}`, members ? `${members} stage run(s) inside` : undefined,
      run.holder ? `held by ${run.holder}` : undefined, m?.createdAt ? `started ${m.createdAt}` : undefined, m?.message && state !== 'done' ? m.message : undefined].filter(Boolean).join('\n');
    item.accessibilityInformation = { label: `${String(item.label)}, ${item.description}` };
    if (run.state === 'running' && !this.live?.active().length) this.pollSoon();
    return item;
  }

  protected toItem(entry: DirEntry, depth: number): FileTreeItem {
    return depth === 0 && entry.isDirectory ? this.runItem(entry, depth) : new FileTreeItem(entry, 'personaLab.runFile', depth);
  }

  override getChildren(node?: FileTreeItem): FileTreeItem[] {
    if (!node) {
      const runs = this.locations.workspaceSubfolder('runs');
      this.groups = groupRuns(runs);
      // Newest first by creation time (then name); stage runs sit under their sweep, a plan's sweep under the plan.
      const top = listFolder(runs).filter((e) => !this.groups.parent.has(e.path)).map((e) => this.toItem(e, 0)).reverse()
        .sort((a, b) => created(b) - created(a));
      return [...(this.live?.active() ?? []).map(liveItem), ...top];
    }
    if (!node.entry.isDirectory) return [];
    const files = listFolder(node.entry.path).map((e) => new FileTreeItem(e, 'personaLab.runFile', node.depth + 1));
    if (!(node instanceof RunItem)) return files;
    const inside = (this.groups.children.get(node.entry.path) ?? []).filter((d) => existsSync(d))
      .map((d) => this.runItem({ name: path.basename(d), path: d, isDirectory: true, size: 0 }, node.depth + 1, node.run))
      // in the order they ran (a sweep: each revision's extraction, then its evaluation)
      .sort((a, b) => created(a) - created(b));
    if (node.run.kind === 'slurm') {
      // A Slurm plan: its array tasks with their states first, then the sweep it fills, then its files.
      const st = slurmStatus(node.entry.path);
      const tasks = (st?.units ?? []).map((u) => unitItem(node.entry.path, `${u.index} ${u.id}`, u.state, u.jobId, u.index, u.detail));
      if (st?.merge) tasks.push(unitItem(node.entry.path, 'merge', st.merge.state, st.merge.jobId));
      return [...tasks, ...inside, ...files];
    }
    return [...inside, ...files];
  }

  private pollSoon(): void {
    this.poll ??= setTimeout(() => { this.poll = undefined; this.refresh(); }, 5000);
  }

  override dispose(): void {
    if (this.poll) clearTimeout(this.poll);
    if (this.tick) clearInterval(this.tick);
    this.liveSub?.dispose();
    super.dispose();
  }
}

function slurmStatus(dir: string): PlanStatus | undefined {
  try { return planStatus(dir); } catch { return undefined; }
}

/** "3/4 units" of a sweep: its unit files (core/jobs/sweep.ts units/<revision>/<trait>.json) against revisions × traits. */
function sweepProgress(dir: string, config: Record<string, any> | undefined): string | undefined {
  const total = (config?.revisions?.length ?? 0) * (config?.traits?.length ?? 0);
  if (!total) return undefined;
  let done = 0;
  try { for (const r of readdirSync(path.join(dir, 'units'))) done += readdirSync(path.join(dir, 'units', r)).filter((f) => f.endsWith('.json')).length; } catch { /* none yet */ }
  return `${Math.min(done, total)}/${total} units`;
}

/** One array task (or the merge job) of a Slurm plan: its state and job id; Cancel while queued or running. */
function unitItem(planDir: string, label: string, state: RunState | string, jobId?: string, unitIndex?: number, detail?: string): FileTreeItem {
  const item = new FileTreeItem({ name: label, path: `${planDir}#${label}`, isDirectory: false, size: 0 }, `personaLab.slurmTask.${isActive(state) ? 'active' : state}`, 1);
  item.description = `${state}${jobId ? ` · job ${jobId}` : ''}`;
  item.iconPath = icon(isActive(state) && state !== 'pending' ? 'running' : state);
  item.resourceUri = undefined;
  item.command = undefined;
  item.tooltip = `${label}: ${state}${jobId ? ` (Slurm job ${jobId})` : ''}${detail ? `\n${detail}` : ''}`;
  item.accessibilityInformation = { label: `array task ${label}, ${state}` };
  (item as FileTreeItem & { unitIndex?: number }).unitIndex = unitIndex;
  return item;
}

/** A job running in this window: title, its last progress line and elapsed time; context action Cancel Job. */
function liveItem(j: { id: number; title: string; started: number; line: string }): FileTreeItem {
  const elapsed = formatElapsed(Math.round((Date.now() - j.started) / 1000));
  const item = new FileTreeItem({ name: j.title, path: `#job-${j.id}`, isDirectory: false, size: 0 }, 'personaLab.activeJob', 0);
  item.id = `personaLab.activeJob.${j.id}`;
  item.description = `running · ${j.line} · ${elapsed}`;
  item.iconPath = new vscode.ThemeIcon('sync~spin');
  item.resourceUri = undefined;
  item.command = undefined;
  item.tooltip = `${j.title}\nrunning for ${elapsed}: ${j.line}`;
  item.accessibilityInformation = { label: `${j.title}, running for ${elapsed}, ${j.line}` };
  (item as FileTreeItem & { jobId?: number }).jobId = j.id;
  return item;
}

/** The kind in a run folder's manifest ('unknown' when it has none or it does not parse). */
export function runKind(dir: string): string {
  return runInfo(dir).kind;
}
