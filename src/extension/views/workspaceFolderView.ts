/**
 * Base for views that mirror one sub-folder of the workspace data folder (vectors/, runs/) as a
 * file tree. Subclasses say which sub-folder and how entries look.
 */
import * as vscode from 'vscode';
import type { Locations, WorkspaceSubfolder } from '../locations.js';
import { FileTreeItem, listFolder, type DirEntry } from './fileTree.js';

export abstract class WorkspaceFolderViewProvider implements vscode.TreeDataProvider<FileTreeItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<FileTreeItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  protected constructor(protected readonly locations: Locations, private readonly subfolder: WorkspaceSubfolder) {}

  /** Turn one entry into a tree item; `depth` is 0 for entries directly in the sub-folder. */
  protected abstract toItem(entry: DirEntry, depth: number): FileTreeItem;

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(node: FileTreeItem): vscode.TreeItem {
    return node;
  }

  getChildren(node?: FileTreeItem): FileTreeItem[] {
    if (node && !node.entry.isDirectory) return [];
    const depth = node ? node.depth + 1 : 0;
    const dir = node ? node.entry.path : this.locations.workspaceSubfolder(this.subfolder);
    return listFolder(dir).map((e) => this.toItem(e, depth));
  }

  dispose(): void {
    this.changed.dispose();
  }
}
