/**
 * Models view: the embedded toy organism (models/toy-persona and its instruct variant, with the
 * pretraining revisions its manifest lists) followed by the folders in `personaLab.modelPaths`.
 */
import * as vscode from 'vscode';
import { EMBEDDED_MODELS, type Locations } from '../locations.js';
import { inspectModelFolder, inspectModelPath, type ModelFolderInfo, type DiscoveredModel, type RevisionInfo } from '../modelDiscovery.js';

export class ModelItem extends vscode.TreeItem {
  constructor(readonly model: DiscoveredModel, embedded: boolean) {
    super(model.name, model.revisions.length > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    this.description = embedded ? `${model.description} · embedded` : model.description;
    this.tooltip = model.path;
    this.iconPath = new vscode.ThemeIcon('hubot');
    this.contextValue = 'personaLab.model';
    this.command = { command: 'personaLab.revealModel', title: 'Show Model Details', arguments: [this] };
  }
}

export class RevisionItem extends vscode.TreeItem {
  constructor(readonly model: DiscoveredModel, readonly revision: RevisionInfo) {
    super(revision.name, vscode.TreeItemCollapsibleState.None);
    this.description = revision.description;
    this.tooltip = revision.path ?? `${model.name}@${revision.name}`;
    this.iconPath = new vscode.ThemeIcon('git-commit');
    this.contextValue = 'personaLab.revision';
    this.command = { command: 'personaLab.revealModel', title: 'Show Model Details', arguments: [this] };
  }
}

class GroupItem extends vscode.TreeItem {
  constructor(readonly models: DiscoveredModel[], label: string, folder: string) {
    super(label, vscode.TreeItemCollapsibleState.Expanded);
    this.description = `${models.length} model${models.length === 1 ? '' : 's'}`;
    this.tooltip = folder;
    this.iconPath = new vscode.ThemeIcon('folder');
    this.contextValue = 'personaLab.modelFolder';
  }
}

class MissingItem extends vscode.TreeItem {
  constructor(label: string, folder: string, reason: string) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.description = reason;
    this.tooltip = `${folder}: ${reason}. Fix or remove it in the setting personaLab.modelPaths.`;
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
