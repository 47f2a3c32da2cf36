/**
 * Shared pieces for views that mirror a folder on disk (Traits, Vectors, Runs): a tree item per file
 * or sub-folder, and a sorted directory listing. Text-like files open on click; binary files
 * (safetensors vectors) do not, since an editor cannot show them.
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const TEXT_EXTENSIONS = new Set(['.json', '.jsonl', '.csv', '.tsv', '.md', '.txt', '.log', '.yaml', '.yml']);

export interface DirEntry { name: string; path: string; isDirectory: boolean; size: number }

/** Sorted entries of a folder (folders first); [] when it does not exist. Hidden files are skipped. */
export function listFolder(dir: string | undefined): DirEntry[] {
  if (!dir) return [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const entries: DirEntry[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const p = path.join(dir, name);
    try {
      const st = statSync(p);
      entries.push({ name, path: p, isDirectory: st.isDirectory(), size: st.size });
    } catch {
      // Vanished between readdir and stat (a run writing its files); the watcher refreshes us again.
    }
  }
  return entries.sort((a, b) => Number(b.isDirectory) - Number(a.isDirectory) || a.name.localeCompare(b.name));
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export class FileTreeItem extends vscode.TreeItem {
  /** depth 0 = directly inside the mirrored folder. */
  constructor(readonly entry: DirEntry, contextValue: string, readonly depth = 0) {
    super(entry.name, entry.isDirectory ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    const uri = vscode.Uri.file(entry.path);
    this.resourceUri = uri;
    // Tooltip and screen-reader label: the name and what it is, not the full filesystem path (the path is one hover
    // away in "Reveal in Explorer"/"Copy Path" through resourceUri).
    const kind = entry.isDirectory ? 'folder' : formatSize(entry.size);
    this.tooltip = `${entry.name} (${kind})`;
    this.accessibilityInformation = { label: `${entry.name}, ${kind}` };
    this.contextValue = contextValue;
    if (!entry.isDirectory) {
      this.description = formatSize(entry.size);
      if (TEXT_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) {
        this.command = { command: 'vscode.open', title: 'Open', arguments: [uri] };
      }
    }
  }
}
