/**
 * Runs view: one folder per pipeline run in the workspace folder's runs/ (manifest, generations,
 * judgements, CSV exports), newest first.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Locations } from '../locations.js';
import { FileTreeItem, type DirEntry } from './fileTree.js';
import { WorkspaceFolderViewProvider } from './workspaceFolderView.js';
import { isActive, planStatus, type PlanStatus } from '../../core/slurm/status.js';

/** What the Runs view shows of the jobs running in this window (../jobs.ts JobRunner). */
export interface LiveJobs {
  active(): { id: number; title: string; started: number; line: string }[];
  onDidChange: vscode.Event<void>;
}

export class RunsViewProvider extends WorkspaceFolderViewProvider {
  constructor(locations: Locations) {
    super(locations, 'runs');
  }

  private live: LiveJobs | undefined;
  private liveSub: vscode.Disposable | undefined;
  private tick: ReturnType<typeof setInterval> | undefined;

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

  /** Set while a Slurm plan in view has queued or running units: the view refreshes itself until none has. */
  private poll: ReturnType<typeof setTimeout> | undefined;

  protected toItem(entry: DirEntry, depth: number): FileTreeItem {
    // A run's context value names its kind (personaLab.run.sweep, …) so its context actions fit it (package.json menus).
    const kind = depth === 0 && entry.isDirectory ? runKind(entry.path) : undefined;
    const item = new FileTreeItem(entry, kind ? `personaLab.run.${kind}` : 'personaLab.runFile', depth);
    if (kind) item.iconPath = new vscode.ThemeIcon(kind === 'slurm' ? 'server-process' : 'history');
    if (kind && kind !== 'slurm') {
      const m = runManifest(entry.path);
      const secs = m?.createdAt && m.updatedAt ? Math.max(0, Math.round((Date.parse(m.updatedAt) - Date.parse(m.createdAt)) / 1000)) : undefined;
      if (m?.status) item.description = `${kind} · ${m.status}${secs !== undefined && Number.isFinite(secs) ? ` · ${secs < 60 ? `${secs}s` : `${Math.floor(secs / 60)}m ${String(secs % 60).padStart(2, '0')}s`}` : ''}`;
    }
    if (kind === 'slurm') {
      const st = slurmStatus(entry.path);
      if (st) {
        const done = st.units.filter((u) => u.state === 'done').length;
        item.description = `${done}/${st.units.length} units done${st.merge ? `, merge ${st.merge.state}` : ''}`;
        if (st.units.some((u) => isActive(u.state)) || (st.merge && isActive(st.merge.state))) this.pollSoon();
      }
    }
    return item;
  }

  override getChildren(node?: FileTreeItem): FileTreeItem[] {
    const items = super.getChildren(node);
    if (node?.depth === 0 && node.contextValue === 'personaLab.run.slurm') {
      // A Slurm plan: its array tasks with their states first, then its files.
      const st = slurmStatus(node.entry.path);
      const tasks = (st?.units ?? []).map((u) => unitItem(node.entry.path, `${u.index} ${u.id}`, u.state, u.jobId));
      if (st?.merge) tasks.push(unitItem(node.entry.path, 'merge', st.merge.state, st.merge.jobId));
      return [...tasks, ...items];
    }
    // Run ids start with a timestamp, so reverse name order is newest first; running jobs of this window on top.
    return node ? items : [...(this.live?.active() ?? []).map(liveItem), ...items.reverse()];
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

const STATE_ICONS: Record<string, string> = { done: 'pass', running: 'sync~spin', pending: 'clock', failed: 'error', cancelled: 'circle-slash', timeout: 'watch' };

/** One array task (or the merge job) of a Slurm plan: its state and job id. */
function unitItem(planDir: string, label: string, state: string, jobId?: string): FileTreeItem {
  const item = new FileTreeItem({ name: label, path: `${planDir}#${label}`, isDirectory: false, size: 0 }, `personaLab.slurmTask.${isActive(state) ? 'active' : state}`, 1);
  item.description = `${state}${jobId ? ` · job ${jobId}` : ''}`;
  item.iconPath = new vscode.ThemeIcon(STATE_ICONS[state] ?? 'question');
  item.resourceUri = undefined;
  item.command = undefined;
  item.tooltip = `${label}: ${state}${jobId ? ` (Slurm job ${jobId})` : ''}`;
  return item;
}

/** A job running in this window: title, its last progress line and elapsed time; context action Cancel Job. */
function liveItem(j: { id: number; title: string; started: number; line: string }): FileTreeItem {
  const secs = Math.round((Date.now() - j.started) / 1000);
  const elapsed = secs < 60 ? `${secs}s` : `${Math.floor(secs / 60)}m ${String(secs % 60).padStart(2, '0')}s`;
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

function runManifest(dir: string): { status?: string; createdAt?: string; updatedAt?: string } | undefined {
  try { return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { status?: string; createdAt?: string; updatedAt?: string }; } catch { return undefined; }
}

/** The kind in a run folder's manifest ('unknown' when it has none or it does not parse). */
export function runKind(dir: string): string {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) return 'unknown';
  try {
    const kind = (JSON.parse(readFileSync(file, 'utf8')) as { kind?: unknown }).kind;
    return typeof kind === 'string' && /^[a-z]+$/.test(kind) ? kind : 'unknown';
  } catch { return 'unknown'; }
}
