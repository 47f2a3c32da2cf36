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

export class RunsViewProvider extends WorkspaceFolderViewProvider {
  constructor(locations: Locations) {
    super(locations, 'runs');
  }

  /** Set while a Slurm plan in view has queued or running units: the view refreshes itself until none has. */
  private poll: ReturnType<typeof setTimeout> | undefined;

  protected toItem(entry: DirEntry, depth: number): FileTreeItem {
    // A run's context value names its kind (personaLab.run.sweep, …) so its context actions fit it (package.json menus).
    const kind = depth === 0 && entry.isDirectory ? runKind(entry.path) : undefined;
    const item = new FileTreeItem(entry, kind ? `personaLab.run.${kind}` : 'personaLab.runFile', depth);
    if (kind) item.iconPath = new vscode.ThemeIcon(kind === 'slurm' ? 'server-process' : 'history');
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
    // Run ids start with a timestamp, so reverse name order is newest first.
    return node ? items : items.reverse();
  }

  private pollSoon(): void {
    this.poll ??= setTimeout(() => { this.poll = undefined; this.refresh(); }, 5000);
  }

  override dispose(): void {
    if (this.poll) clearTimeout(this.poll);
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

/** The kind in a run folder's manifest ('unknown' when it has none or it does not parse). */
export function runKind(dir: string): string {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) return 'unknown';
  try {
    const kind = (JSON.parse(readFileSync(file, 'utf8')) as { kind?: unknown }).kind;
    return typeof kind === 'string' && /^[a-z]+$/.test(kind) ? kind : 'unknown';
  } catch { return 'unknown'; }
}
