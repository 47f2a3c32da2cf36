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

export class RunsViewProvider extends WorkspaceFolderViewProvider {
  constructor(locations: Locations) {
    super(locations, 'runs');
  }

  protected toItem(entry: DirEntry, depth: number): FileTreeItem {
    // A run's context value names its kind (personaLab.run.sweep, …) so its context actions fit it (package.json menus).
    const item = new FileTreeItem(entry, depth === 0 && entry.isDirectory ? `personaLab.run.${runKind(entry.path)}` : 'personaLab.runFile', depth);
    if (depth === 0 && entry.isDirectory) item.iconPath = new vscode.ThemeIcon('history');
    return item;
  }

  override getChildren(node?: FileTreeItem): FileTreeItem[] {
    const items = super.getChildren(node);
    // Run ids start with a timestamp, so reverse name order is newest first.
    return node ? items : items.reverse();
  }
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
