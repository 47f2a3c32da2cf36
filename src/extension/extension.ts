/**
 * Extension entry point. activate() only wires things up: it builds the services, registers the
 * four tree views and the command table, and hands every disposable to VS Code at creation.
 * No `vscode` import is allowed outside src/extension (eslint enforces it).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { registerCommands } from './commands.js';
import { affectsPersonaLab } from './config.js';
import { JobRunner } from './jobs.js';
import { Locations } from './locations.js';
import { registerInline } from './inline/index.js';
import { registerPanelSerializers } from './panels/index.js';
import { Playground } from './playground.js';
import { SteeringServerService } from './serverCommand.js';
import { WorkerStatusBar } from './statusBar.js';
import { ModelsViewProvider } from './views/modelsView.js';
import { RunsViewProvider } from './views/runsView.js';
import { TraitsViewProvider } from './views/traitsView.js';
import { VectorsViewProvider } from './views/vectorsView.js';

/** View ids as contributed in package.json (`contributes.views.personaLab`). */
export const VIEW_IDS = { models: 'personaLab.models', traits: 'personaLab.traits', vectors: 'personaLab.vectors', runs: 'personaLab.runs' } as const;

/** Shown at the top of every view in an untrusted workspace. */
export const UNTRUSTED_MESSAGE = 'Restricted Mode: this workspace is not trusted, so Persona Lab loads no model, calls no judge and starts no server here. Trust the workspace to run jobs.';

/** What activate() returns: the live view providers, for the extension-host tests and other extensions. */
export interface PersonaLabApi {
  views: { models: ModelsViewProvider; traits: TraitsViewProvider; vectors: VectorsViewProvider; runs: RunsViewProvider };
  /** The inference worker's status-bar item. */
  workerStatus: WorkerStatusBar;
  /** The session's jobs and worker (running jobs, cancel, restart). */
  jobs: JobRunner;
}

export function activate(context: vscode.ExtensionContext): PersonaLabApi {
  const log = vscode.window.createOutputChannel('persona-lab', { log: true });
  context.subscriptions.push(log);
  log.info(`Persona Lab ${context.extension.packageJSON.version} activating (VS Code ${vscode.version}, Node ${process.version}).`);

  const locations = new Locations(context.extensionPath);
  const views = {
    models: new ModelsViewProvider(locations),
    traits: new TraitsViewProvider(locations),
    vectors: new VectorsViewProvider(locations),
    runs: new RunsViewProvider(locations),
  };
  const refreshViews = () => Object.values(views).forEach((v) => v.refresh());
  const treeViews: vscode.TreeView<unknown>[] = [];
  for (const [key, provider] of Object.entries(views) as [keyof typeof views, vscode.TreeDataProvider<unknown> & vscode.Disposable][]) {
    const tree = vscode.window.createTreeView(VIEW_IDS[key], { treeDataProvider: provider, showCollapseAll: key !== 'vectors' });
    treeViews.push(tree);
    context.subscriptions.push(provider, tree);
  }
  // Restricted Mode: the views browse, and say why nothing runs (commands.ts refuses model, judge and server commands).
  const showTrust = () => { for (const t of treeViews) t.message = vscode.workspace.isTrusted ? undefined : UNTRUSTED_MESSAGE; };
  showTrust();
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => { showTrust(); refreshViews(); log.info('Workspace trusted: models, judges and the server are enabled.'); }));

  const jobs = new JobRunner(log);
  const playground = new Playground({ log, locations, jobs, extensionUri: context.extensionUri, listModels: () => views.models.listModels(),
    memory: context.workspaceState, secrets: context.secrets });
  const server = new SteeringServerService({ log, locations, jobs, listModels: () => views.models.listModels() });
  const workerStatus = new WorkerStatusBar(jobs);
  views.runs.showLiveJobs(jobs);
  context.subscriptions.push(jobs, playground, server, workerStatus,
    ...registerCommands({ log, locations, models: views.models, jobs, playground, server, refreshViews, extensionUri: context.extensionUri,
      memory: context.workspaceState, secrets: context.secrets }),
    ...registerPanelSerializers({ log, locations, extensionUri: context.extensionUri }),
    ...registerInline({ log, locations, jobs, memory: context.workspaceState, secrets: context.secrets, listModels: () => views.models.listModels(), refreshViews }));

  // Keep the views in step with settings and with files that runs write into the workspace folder.
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (affectsPersonaLab(e)) refreshViews();
  }));
  const root = locations.workspaceDataFolder();
  const folder = root ? vscode.workspace.getWorkspaceFolder(vscode.Uri.file(root)) : undefined;
  if (root && folder) {
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, `${path.relative(folder.uri.fsPath, root)}/**`));
    // A running sweep creates many files in bursts: coalesce them into one refresh.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const soon = () => { clearTimeout(timer); timer = setTimeout(refreshViews, 300); };
    context.subscriptions.push(watcher, watcher.onDidCreate(soon), watcher.onDidDelete(soon), { dispose: () => clearTimeout(timer) });
  }

  log.info(`Models: ${views.models.listModels().map((m) => m.name).join(', ') || 'none found'}; workspace folder: ${root ?? '(no folder open)'}`);
  return { views, workerStatus, jobs };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
