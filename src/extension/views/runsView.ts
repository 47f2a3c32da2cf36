/**
 * Runs view: one folder per pipeline run in the workspace folder's runs/ (manifest, generations,
 * judgements, CSV exports), newest first.
 */
import * as vscode from 'vscode';
import type { Locations } from '../locations.js';
import { FileTreeItem, type DirEntry } from './fileTree.js';
import { WorkspaceFolderViewProvider } from './workspaceFolderView.js';

export class RunsViewProvider extends WorkspaceFolderViewProvider {
  constructor(locations: Locations) {
    super(locations, 'runs');
  }

  protected toItem(entry: DirEntry, depth: number): FileTreeItem {
    const item = new FileTreeItem(entry, depth === 0 && entry.isDirectory ? 'personaLab.run' : 'personaLab.runFile', depth);
    if (depth === 0 && entry.isDirectory) item.iconPath = new vscode.ThemeIcon('history');
    return item;
  }

  override getChildren(node?: FileTreeItem): FileTreeItem[] {
    const items = super.getChildren(node);
    // Run ids start with a timestamp, so reverse name order is newest first.
    return node ? items : items.reverse();
  }
}
