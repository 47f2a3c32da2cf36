/**
 * Traits view: one item per trait, from the workspace folder's traits/ (upstream's split: traits/extract/<trait>.json
 * with the instruction pairs, traits/eval/<trait>.json with the evaluation questions — where the jobs look for them —
 * and plain traits/<trait>.json) and from the toy model shipped with the extension. A trait opens its extraction
 * file; expanded, it lists each of its files.
 *
 * Traits shipped with the extension live in the installed extension's folder, where edits are lost on update: they
 * open read-only (a `persona-lab-builtin:` document) and offer "Copy to Workspace".
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Locations } from '../locations.js';
import { FileTreeItem, listFolder, type DirEntry } from './fileTree.js';

/** Read-only documents of the traits shipped with the extension. */
export const BUILTIN_SCHEME = 'persona-lab-builtin';

const SETS = ['extract', 'eval'] as const;
type TraitSet = (typeof SETS)[number] | 'plain';

class TraitSourceItem extends vscode.TreeItem {
  constructor(label: string, readonly folder: string, readonly shipped: boolean, count: number) {
    super(label, vscode.TreeItemCollapsibleState.Expanded);
    this.description = `${count} trait${count === 1 ? '' : 's'}${shipped ? ' · read-only' : ''}`;
    this.tooltip = shipped ? 'Trait files shipped with the toy model (read-only: "Copy to Workspace" makes an editable copy in traits/)'
      : 'Trait files in the Persona Lab workspace folder: traits/extract (instruction pairs and extraction questions) and traits/eval (evaluation questions)';
    this.iconPath = new vscode.ThemeIcon('folder-library');
    this.contextValue = 'personaLab.traitSource';
  }
}

/** A trait: its files by set (extract, eval, or a plain traits/<trait>.json). */
interface TraitFiles { name: string; files: Partial<Record<TraitSet, DirEntry>> }

const jsonFiles = (folder: string | undefined) => listFolder(folder).filter((e) => !e.isDirectory && e.name.endsWith('.json'));

/** Every trait under a traits/ folder, by name: traits/extract, traits/eval and traits/*.json. */
export function traitsIn(folder: string): TraitFiles[] {
  const byName = new Map<string, TraitFiles>();
  const add = (set: TraitSet, e: DirEntry) => {
    const name = e.name.slice(0, -'.json'.length);
    const t = byName.get(name) ?? { name, files: {} };
    t.files[set] = e;
    byName.set(name, t);
  };
  for (const set of SETS) for (const e of jsonFiles(path.join(folder, set))) add(set, e);
  for (const e of jsonFiles(folder)) add('plain', e);
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

const SET_TEXT: Record<TraitSet, string> = { extract: 'extract', eval: 'eval', plain: 'traits/' };

function openCommand(file: string, shipped: boolean): vscode.Command {
  const uri = shipped ? vscode.Uri.from({ scheme: BUILTIN_SCHEME, path: file }) : vscode.Uri.file(file);
  return { command: 'vscode.open', title: shipped ? 'Open (read-only)' : 'Open', arguments: [uri] };
}

export type TraitsNode = TraitSourceItem | FileTreeItem;

export class TraitsViewProvider implements vscode.TreeDataProvider<TraitsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TraitsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly builtin: vscode.Disposable;
  private readonly traitOf = new WeakMap<FileTreeItem, { trait: TraitFiles; shipped: boolean }>();

  constructor(private readonly locations: Locations) {
    // Shipped trait files open as read-only documents (a content provider's documents cannot be edited or saved).
    this.builtin = vscode.workspace.registerTextDocumentContentProvider(BUILTIN_SCHEME, { provideTextDocumentContent: (uri) => readFileSync(uri.path, 'utf8') });
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(node: TraitsNode): vscode.TreeItem {
    return node;
  }

  getChildren(node?: TraitsNode): TraitsNode[] {
    if (node instanceof TraitSourceItem) return traitsIn(node.folder).map((t) => this.traitItem(t, node.shipped));
    if (node instanceof FileTreeItem) {
      const t = this.traitOf.get(node);
      if (!t) return [];
      return (['extract', 'eval', 'plain'] as const).flatMap((set) => {
        const e = t.trait.files[set];
        if (!e) return [];
        const item = new FileTreeItem(e, t.shipped ? 'personaLab.shippedTraitFile' : 'personaLab.traitFile', 1);
        item.label = set === 'plain' ? e.name : `${set}/${e.name}`;
        item.iconPath = new vscode.ThemeIcon('json');
        item.command = openCommand(e.path, t.shipped);
        if (t.shipped) item.resourceUri = undefined;
        return [item];
      });
    }
    const shipped = path.dirname(this.locations.embeddedTraitsFolder());
    const sources: [string, string | undefined, boolean][] = [
      ['Workspace', this.locations.workspaceSubfolder('traits'), false],
      ['Toy model', shipped, true],
    ];
    // An empty root lets the view's welcome content (viewsWelcome) show instead.
    return sources.flatMap(([label, folder, isShipped]) => {
      const n = folder ? traitsIn(folder).length : 0;
      return folder && n > 0 ? [new TraitSourceItem(label, folder, isShipped, n)] : [];
    });
  }

  /** One trait: opens its extraction file (else its eval file); a short description of which files it has. */
  private traitItem(t: TraitFiles, shipped: boolean): FileTreeItem {
    const main = t.files.extract ?? t.files.plain ?? t.files.eval!;
    const item = new FileTreeItem(main, shipped ? 'personaLab.shippedTrait' : 'personaLab.trait');
    item.label = t.name;
    item.collapsibleState = vscode.TreeItemCollapsibleState.Collapsed;
    const sets = (Object.keys(t.files) as TraitSet[]).map((s) => SET_TEXT[s]);
    item.description = sets.join(' · ');
    item.iconPath = new vscode.ThemeIcon(shipped ? 'lock' : 'symbol-property');
    item.command = openCommand(main.path, shipped);
    if (shipped) item.resourceUri = undefined;
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**${t.name}** $(${shipped ? 'lock' : 'symbol-property'})\n\n`);
    for (const s of ['extract', 'eval', 'plain'] as const) if (t.files[s]) md.appendMarkdown(`- \`${s === 'plain' ? `traits/${t.name}.json` : `traits/${s}/${t.name}.json`}\`\n`);
    md.appendMarkdown(shipped ? '\nShipped with the extension: opens read-only, since edits there are lost on update. *Copy to Workspace* makes an editable copy.'
      : `\n${t.files.extract ? '' : 'No extraction file (instruction pairs): extraction needs `traits/extract/' + t.name + '.json`. '}${t.files.eval || t.files.plain ? '' : 'No evaluation file: evaluation needs `traits/eval/' + t.name + '.json`.'}`);
    item.tooltip = md;
    item.accessibilityInformation = { label: `trait ${t.name}${shipped ? ', shipped with the extension, read-only' : ''}: ${sets.join(' and ')} files` };
    this.traitOf.set(item, { trait: t, shipped });
    return item;
  }

  dispose(): void {
    this.builtin.dispose();
    this.changed.dispose();
  }
}
