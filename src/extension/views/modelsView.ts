/**
 * Models view: the embedded toy organism (models/toy-persona and its instruct variant, with the
 * pretraining revisions its manifest lists) followed by the folders in `personaLab.modelPaths`.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EMBEDDED_MODELS, type Locations } from '../locations.js';
import { inspectModelFolder, inspectModelPath, type ModelFolderInfo, type DiscoveredModel, type RevisionInfo } from '../modelDiscovery.js';

/**
 * Descriptions are short so they fit the default sidebar width next to the name (a revision's tokens, a model's
 * revision count or size); the full facts are in the Markdown tooltip, and the screen-reader label names the model,
 * never a filesystem path.
 */
export function shortModelDescription(model: DiscoveredModel): string {
  if (model.revisions.length > 0) return `${model.revisions.length} revision${model.revisions.length === 1 ? '' : 's'}`;
  const layers = /(\d+) layers/.exec(model.description)?.[1];
  return layers ? `${layers} layers` : model.description.split(' · ')[0].split(', ')[0];
}

/** "step 15, 54,282 tokens" → "54.3k tokens"; other descriptions as they are, cut to a few words. */
export function shortRevisionDescription(description: string | undefined): string | undefined {
  if (!description) return undefined;
  const tokens = /([\d,]+) tokens/.exec(description)?.[1];
  if (tokens) return `${compact(Number(tokens.replace(/,/g, '')))} tokens`;
  return description.length > 18 ? `${description.slice(0, 17)}…` : description;
}

function compact(n: number): string {
  if (n < 1000) return String(n);
  for (const [div, unit] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'k']] as const) if (n >= div) return `${Number((n / div).toPrecision(3))}${unit}`;
  return String(n);
}

/** A folder for a tooltip: under the home folder as ~/…, else as it is (the tooltip is the one place a path appears). */
function displayPath(p: string): string {
  const home = process.env.HOME;
  return home && p.startsWith(home + path.sep) ? `~${p.slice(home.length)}` : p;
}

export class ModelItem extends vscode.TreeItem {
  constructor(readonly model: DiscoveredModel, embedded: boolean) {
    super(model.name, model.revisions.length > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    this.description = shortModelDescription(model);
    const md = new vscode.MarkdownString(`**${model.name}**${embedded ? ' — shipped with the extension' : ''}\n\n${model.description}`);
    if (!embedded) md.appendMarkdown(`\n\n\`${displayPath(model.path)}\``);
    this.tooltip = md;
    this.accessibilityInformation = { label: `model ${model.name}${embedded ? ', shipped with the extension' : ''}: ${model.description}` };
    this.iconPath = new vscode.ThemeIcon('hubot');
    this.contextValue = 'personaLab.model';
    this.command = { command: 'personaLab.revealModel', title: 'Show Model Details', arguments: [this] };
  }
}

export class RevisionItem extends vscode.TreeItem {
  constructor(readonly model: DiscoveredModel, readonly revision: RevisionInfo) {
    super(revision.name, vscode.TreeItemCollapsibleState.None);
    this.description = shortRevisionDescription(revision.description);
    this.tooltip = new vscode.MarkdownString(`**${model.name}@${revision.name}**${revision.description ? `\n\n${revision.description}` : ''}`);
    this.accessibilityInformation = { label: `revision ${revision.name} of ${model.name}${revision.description ? `: ${revision.description}` : ''}` };
    this.iconPath = new vscode.ThemeIcon('git-commit');
    this.contextValue = 'personaLab.revision';
    this.command = { command: 'personaLab.revealModel', title: 'Show Model Details', arguments: [this] };
  }
}

class GroupItem extends vscode.TreeItem {
  constructor(readonly models: DiscoveredModel[], label: string, folder: string) {
    super(label, vscode.TreeItemCollapsibleState.Expanded);
    this.description = `${models.length} model${models.length === 1 ? '' : 's'}`;
    this.tooltip = new vscode.MarkdownString(`**${label}**: ${models.length} model${models.length === 1 ? '' : 's'} in \`${displayPath(folder)}\``);
    this.accessibilityInformation = { label: `folder ${label}, ${models.length} model${models.length === 1 ? '' : 's'}` };
    this.iconPath = new vscode.ThemeIcon('folder');
    this.contextValue = 'personaLab.modelFolder';
  }
}

class MissingItem extends vscode.TreeItem {
  constructor(label: string, folder: string, reason: string) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.description = reason;
    this.tooltip = new vscode.MarkdownString(`\`${displayPath(folder)}\`: ${reason}. Fix or remove it in the setting \`personaLab.modelPaths\`.`);
    this.accessibilityInformation = { label: `${label}: ${reason}` };
    this.iconPath = new vscode.ThemeIcon('warning');
    this.contextValue = 'personaLab.missingModel';
  }
}

export type ModelsNode = ModelItem | RevisionItem | GroupItem | MissingItem;

export class ModelsViewProvider implements vscode.TreeDataProvider<ModelsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ModelsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly locations: Locations) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  /** Every model the view shows, flattened (used by the Show Model Details quick pick). */
  listModels(): DiscoveredModel[] {
    const out: DiscoveredModel[] = [];
    for (const entry of this.scan()) {
      if (entry.info.kind === 'model') out.push(entry.info);
      else if (entry.info.kind === 'group') out.push(...entry.info.models);
    }
    return out;
  }

  getTreeItem(node: ModelsNode): vscode.TreeItem {
    return node;
  }

  getChildren(node?: ModelsNode): ModelsNode[] {
    if (!node) {
      return this.scan().map(({ info, embedded }) => this.toNode(info, embedded));
    }
    if (node instanceof ModelItem) return node.model.revisions.map((r) => new RevisionItem(node.model, r));
    if (node instanceof GroupItem) return node.models.map((m) => new ModelItem(m, false));
    return [];
  }

  private scan(): { info: ModelFolderInfo; embedded: boolean }[] {
    const out: { info: ModelFolderInfo; embedded: boolean }[] = [];
    for (const name of EMBEDDED_MODELS) {
      // The embedded models are optional (a checkout before the toy model was trained): skip if absent.
      const model = inspectModelFolder(this.locations.embeddedModel(name), name);
      if (model) out.push({ info: model, embedded: true });
    }
    for (const p of this.locations.configuredModelPaths()) out.push({ info: inspectModelPath(p), embedded: false });
    return out;
  }

  private toNode(info: ModelFolderInfo, embedded: boolean): ModelsNode {
    switch (info.kind) {
      case 'model': return new ModelItem(info, embedded);
      case 'group': return new GroupItem(info.models, info.name, info.path);
      case 'missing': return new MissingItem(info.name, info.path, info.reason);
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}
