/**
 * Vectors view: persona-vector files in the workspace folder's vectors/ (safetensors with
 * [L+1, hidden] rows indexed like HF hidden_states, plus their status/metadata files).
 */
import { readdirSync, type Dirent } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Locations } from '../locations.js';
import { FileTreeItem, type DirEntry } from './fileTree.js';
import { WorkspaceFolderViewProvider } from './workspaceFolderView.js';

export class VectorsViewProvider extends WorkspaceFolderViewProvider {
  constructor(locations: Locations) {
    super(locations, 'vectors');
  }

  protected toItem(entry: DirEntry, depth: number): FileTreeItem {
    // Only vector files are 'personaLab.vector' (they get the Steering Playground action); status/metadata files are not.
    const vector = !entry.isDirectory && entry.name.endsWith('.safetensors');
    const item = new FileTreeItem(entry, entry.isDirectory ? 'personaLab.vectorFolder' : vector ? 'personaLab.vector' : 'personaLab.vectorFile', depth);
    if (vector) item.iconPath = new vscode.ThemeIcon('arrow-both');
    return item;
  }

  /** Folders that hold no vector file anywhere below (a revision where every trait was not extractable: only status files) are hidden. */
  override getChildren(node?: FileTreeItem): FileTreeItem[] {
    return super.getChildren(node).filter((i) => !i.entry.isDirectory || holdsVector(i.entry.path));
  }
}

export function holdsVector(dir: string, depth = 0): boolean {
  let entries: Dirent[];
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return false; }
  return entries.some((e) => (e.isFile() && (e.name.endsWith('.safetensors') || e.name.endsWith('.pt'))) || (depth < 4 && e.isDirectory() && holdsVector(path.join(dir, e.name), depth + 1)));
}
