/**
 * Traits view: trait definition files (JSON: instructions, questions, eval prompt) from the
 * workspace folder's traits/ and the ones shipped with the toy model (traits/extract).
 */
import * as vscode from 'vscode';
import type { Locations } from '../locations.js';
import { FileTreeItem, listFolder } from './fileTree.js';

class TraitSourceItem extends vscode.TreeItem {
  constructor(label: string, readonly folder: string, count: number) {
    super(label, vscode.TreeItemCollapsibleState.Expanded);
    this.description = `${count} trait${count === 1 ? '' : 's'}`;
    this.tooltip = label === 'Workspace' ? 'Trait files in the Persona Lab workspace folder (traits/)' : 'Trait files shipped with the toy model (read-only: copy one to the workspace to edit it)';
    this.iconPath = new vscode.ThemeIcon('folder-library');
    this.contextValue = 'personaLab.traitSource';
  }
}

export type TraitsNode = TraitSourceItem | FileTreeItem;

const traitFiles = (folder: string | undefined) => listFolder(folder).filter((e) => !e.isDirectory && e.name.endsWith('.json'));

export class TraitsViewProvider implements vscode.TreeDataProvider<TraitsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TraitsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly locations: Locations) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(node: TraitsNode): vscode.TreeItem {
    return node;
  }

  getChildren(node?: TraitsNode): TraitsNode[] {
    if (node instanceof TraitSourceItem) {
      // Traits shipped in the installed extension's folder: edits there are lost on update, so they offer
      // "Copy to Workspace" (personaLab.copyTraitToWorkspace) and say so.
      const shipped = node.folder === this.locations.embeddedTraitsFolder();
      return traitFiles(node.folder).map((e) => {
        const item = new FileTreeItem(e, shipped ? 'personaLab.shippedTrait' : 'personaLab.trait');
        item.label = e.name.replace(/\.json$/, '');
        item.iconPath = new vscode.ThemeIcon(shipped ? 'lock' : 'symbol-property');
        if (shipped) item.tooltip = `${e.name}: shipped with the extension (edits are lost on update); use "Copy to Workspace" to edit it`;
        return item;
      });
    }
    if (node) return [];
    const sources: [string, string | undefined][] = [
      ['Workspace', this.locations.workspaceSubfolder('traits')],
      ['Toy model (extract)', this.locations.embeddedTraitsFolder()],
    ];
    // An empty root lets the view's welcome content (viewsWelcome) show instead.
    return sources.flatMap(([label, folder]) => {
      const n = traitFiles(folder).length;
      return folder && n > 0 ? [new TraitSourceItem(label, folder, n)] : [];
    });
  }

  dispose(): void {
    this.changed.dispose();
  }
}
