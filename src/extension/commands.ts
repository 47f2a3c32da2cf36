/**
 * The command table: every command id contributed in package.json is registered here, in one
 * place, with its handler. The extension-host E2E suite reads package.json and fails if a
 * contributed command is missing from the running extension.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_SECTION, readSettings } from './config.js';
import { reportError } from './errors.js';
import { extractVector, type ExtractArgs, type ExtractServices } from './extractCommand.js';
import { runCheckpointSweep, type SweepArgs } from './sweepCommand.js';
import { openGeometry, openGrid, openJudgeResults, openSweepDashboard } from './panels/index.js';
import type { GeometryArgs } from './panels/geometry.js';
import type { RunArg } from './panels/runs.js';
import type { Playground, PlaygroundArgs } from './playground.js';
import type { ServerArgs, SteeringServerService } from './serverCommand.js';
import type { JobRunner } from './jobs.js';
import type { Locations } from './locations.js';
import type { DiscoveredModel } from './modelDiscovery.js';
import type { FileTreeItem } from './views/fileTree.js';
import { ModelItem, RevisionItem, type ModelsViewProvider } from './views/modelsView.js';
import { computeNorms, runProjectionJob, runVectorJob, type ResearchArgs, type ResearchServices } from './jobs/research.js';
import { cancelJob, restartWorker, setJudgeApiKey, unloadModels, workerActions, type WorkerServices } from './jobs/worker.js';
import { cancelSlurm, deleteRun, rerunRun, resumeSlurmUnits, revealRun, type RunActionServices } from './jobs/runActions.js';
import { inlineCommands } from './inline/index.js';
import { cleanCompileCache, type CleanCacheArgs } from './cacheCommand.js';
import { createTraitFromDescription, exportVector, importVector, runTransferSweep, type CreateTraitArgs, type ExportVectorArgs, type ImportVectorArgs, type TransferSweepArgs } from './jobs/vectorsAndTraits.js';

export interface CommandServices {
  log: vscode.LogOutputChannel;
  locations: Locations;
  models: ModelsViewProvider;
  jobs: JobRunner;
  /** The Steering Playground panel (./playground.ts). */
  playground: Playground;
  /** The OpenAI-compatible steering server (./serverCommand.ts). */
  server: SteeringServerService;
  extensionUri: vscode.Uri;
  /** Refresh every Persona Lab view. */
  refreshViews(): void;
  /** workspaceState: the palette commands' last picks. */
  memory: vscode.Memento;
  /** Where Set Judge API Key keeps the judge's key. */
  secrets: vscode.SecretStorage;
}

/**
 * Commands that load a model, call a judge or start the server: refused in an untrusted workspace (Restricted Mode),
 * with the reason and a way to trust it; the views and result panels keep working.
 */
export const NEEDS_TRUST: ReadonlySet<string> = new Set([
  'personaLab.extractVector', 'personaLab.runSweep', 'personaLab.openPlayground', 'personaLab.startServer',
  'personaLab.evaluateSteering', 'personaLab.runGrid', 'personaLab.runControls', 'personaLab.computeNorms', 'personaLab.monitorPrompts', 'personaLab.screenDataset',
  'personaLab.rerunRun', 'personaLab.resumeRun', 'personaLab.resumeSlurmUnits',
  'personaLab.runTransferSweep', 'personaLab.createTraitFromDescription',
  'personaLab.steerSelection', 'personaLab.runPrompts',
  'personaLab.cleanCompileCache', // deletes files
]);

type Handler = (services: CommandServices, ...args: any[]) => unknown;

/** What the pipeline commands (extract, sweep) need from the services. */
const jobServices = (s: CommandServices): ExtractServices =>
  ({ log: s.log, locations: s.locations, jobs: s.jobs, listModels: () => s.models.listModels(), refreshViews: s.refreshViews });

/** What the kit panels (./panels) need. */
const panelServices = (s: CommandServices) => ({ log: s.log, locations: s.locations, extensionUri: s.extensionUri });

/** What the research commands (./jobs/research.ts) need. */
const researchServices = (s: CommandServices): ResearchServices => ({ ...jobServices(s), memory: s.memory, secrets: s.secrets });
const workerServices = (s: CommandServices): WorkerServices => ({ log: s.log, jobs: s.jobs, secrets: s.secrets });
const runServices = (s: CommandServices): RunActionServices =>
  ({ log: s.log, listModels: () => s.models.listModels(), runsFolder: () => s.locations.workspaceSubfolder('runs'), refreshViews: s.refreshViews });

export const COMMANDS = {
  'personaLab.refresh': (s) => {
    s.refreshViews();
    s.log.info('Views refreshed.');
  },

  'personaLab.showLog': (s) => {
    s.log.show(true);
  },

  /** Creates the workspace data folder (traits/, vectors/, runs/) if needed and reveals it. */
  'personaLab.openWorkspaceFolder': async (s) => {
    const root = s.locations.workspaceDataFolder();
    if (!root) {
      void vscode.window.showErrorMessage('Persona Lab keeps traits, vectors and runs in a workspace folder. Open a folder first (File > Open Folder), then run this command again.');
      return undefined;
    }
    for (const sub of ['traits', 'vectors', 'runs']) mkdirSync(path.join(root, sub), { recursive: true });
    s.log.info(`Workspace folder ready: ${root}`);
    s.refreshViews();
    const uri = vscode.Uri.file(root);
    if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
    else void vscode.window.showInformationMessage(`Persona Lab workspace folder: ${root}`);
    return uri;
  },

  /** Adds a folder to personaLab.modelPaths (workspace settings when a folder is open, else user settings). */
  'personaLab.addModelFolder': async (s, folder?: vscode.Uri) => {
    let uri = folder instanceof vscode.Uri ? folder : undefined;
    if (!uri) {
      const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false,
        openLabel: 'Add Model Folder', title: 'A Hugging Face checkpoint folder (config.json + safetensors), or a folder of them' });
      uri = picked?.[0];
    }
    if (!uri) return undefined;
    const current = readSettings().modelPaths;
    if (!current.includes(uri.fsPath)) {
      const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
      await vscode.workspace.getConfiguration(CONFIG_SECTION).update('modelPaths', [...current, uri.fsPath], target);
      s.log.info(`Added model folder ${uri.fsPath}`);
    }
    s.models.refresh();
    return uri.fsPath;
  },

  /** Runs an extraction (./extractCommand.ts); from the Models view's revision context menu or the palette. */
  'personaLab.extractVector': (s, arg?: RevisionItem | ExtractArgs) => extractVector(jobServices(s), arg),

  /** Runs a checkpoint sweep (./sweepCommand.ts); from the Models view's model context menu or the palette. */
  'personaLab.runSweep': (s, arg?: ModelItem | SweepArgs) => runCheckpointSweep(jobServices(s), arg),

  /** Opens a sweep run's dashboard (./panels/sweep.ts); from a sweep run in the Runs view or the palette. Live while the sweep runs. */
  'personaLab.openSweepDashboard': (s, arg?: RunArg) => openSweepDashboard(panelServices(s), arg),

  /** Every judged answer of a run (./panels/judge.ts); from an extract/evaluate/grid/controls/sweep/transfer run in Runs or the palette. */
  'personaLab.openJudgeResults': (s, arg?: RunArg) => openJudgeResults(panelServices(s), arg),

  /** A grid run's layer × coef heat-maps (./panels/grid.ts); from a grid run in Runs or the palette. */
  'personaLab.openGrid': (s, arg?: RunArg) => openGrid(panelServices(s), arg),

  /** Vector geometry of a vectors folder, workspace or upstream .pt (./panels/geometry.ts); from the Vectors view or the palette. */
  'personaLab.showGeometry': (s, arg?: GeometryArgs | string | { entry?: { path: string } }) => openGeometry(panelServices(s), arg),

  /** Opens the Steering Playground (./playground.ts); from a vector in the Vectors view (preselected) or the palette. */
  'personaLab.openPlayground': (s, arg?: FileTreeItem | PlaygroundArgs) => s.playground.open(arg),

  /** Starts the steering server (./serverCommand.ts), or shows the running one's URL with Copy/Stop. */
  'personaLab.startServer': (s, arg?: ServerArgs) => s.server.start(arg),

  /** Stops the steering server; says so when none runs (stopping nothing used to be silent). */
  'personaLab.stopServer': async (s) => {
    const stopped = await s.server.stop();
    if (!stopped) void vscode.window.showInformationMessage('Persona Lab: no steering server is running.');
    return stopped;
  },

  /** Baseline vs steered at one layer and coef, with the prompting baseline (./jobs/research.ts; `persona-lab evaluate`). */
  'personaLab.evaluateSteering': (s, arg?: ResearchArgs) => runVectorJob(researchServices(s), 'evaluate', plainArgs(arg)),

  /** Layer × coefficient grid with the best point (`persona-lab grid`). */
  'personaLab.runGrid': (s, arg?: ResearchArgs) => runVectorJob(researchServices(s), 'grid', plainArgs(arg)),

  /** Random and label-shuffle controls at one layer and coef (`persona-lab controls`). */
  'personaLab.runControls': (s, arg?: ResearchArgs) => runVectorJob(researchServices(s), 'controls', plainArgs(arg)),

  /** Prompt-projection monitoring (`persona-lab monitor`). */
  'personaLab.monitorPrompts': (s, arg?: ResearchArgs) => runProjectionJob(researchServices(s), 'monitor', plainArgs(arg)),

  /** Training-data screening by projection difference ΔP (`persona-lab screen`). */
  'personaLab.screenDataset': (s, arg?: ResearchArgs) => runProjectionJob(researchServices(s), 'screen', plainArgs(arg)),

  /** Per-layer activation norms on calibration prompts (`persona-lab norms`). */
  'personaLab.computeNorms': (s, arg?: ResearchArgs) => computeNorms(researchServices(s), plainArgs(arg)),

  /** A .pt, .safetensors or GGUF vector into the workspace's vectors/ for a checkpoint (./jobs/vectorsAndTraits.ts; `persona-lab vectors import`). */
  'personaLab.importVector': (s, arg?: ImportVectorArgs) => importVector(researchServices(s), plainArgs(arg) as ImportVectorArgs),

  /** A workspace vector as safetensors, upstream's .pt or a GGUF control vector (`persona-lab vectors export`); from the palette or a vector in Vectors. */
  'personaLab.exportVector': (s, arg?: FileTreeItem | ExportVectorArgs) => exportVector(researchServices(s), arg),

  /** Extract + eval trait files written by the configured chat model (`persona-lab traits generate`). */
  'personaLab.createTraitFromDescription': (s, arg?: CreateTraitArgs) => createTraitFromDescription(researchServices(s), plainArgs(arg) as CreateTraitArgs),

  /** A checkpoint sweep whose vectors are also evaluated on a target model (`persona-lab sweep --transfer-to`); opens in the sweep dashboard. */
  'personaLab.runTransferSweep': (s, arg?: TransferSweepArgs) => runTransferSweep(researchServices(s), plainArgs(arg) as TransferSweepArgs),

  /** Copies a trait shipped with the extension (extract and eval files) into the workspace's traits/, where edits last, and opens it. */
  'personaLab.copyTraitToWorkspace': async (s, node?: FileTreeItem | string) => {
    const root = s.locations.workspaceDataFolder();
    if (!root) { void vscode.window.showErrorMessage('Open a folder first (File > Open Folder): traits are copied into its Persona Lab workspace folder.'); return undefined; }
    const shipped = s.locations.embeddedTraitsFolder();
    const name = typeof node === 'string' ? node : node?.entry ? path.basename(node.entry.path, '.json')
      : await vscode.window.showQuickPick(readdirSync(shipped).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)), { title: 'Copy which trait to the workspace?' });
    if (!name) return undefined;
    const copied: string[] = [];
    for (const set of ['extract', 'eval'] as const) {
      const from = path.join(path.dirname(shipped), set, `${name}.json`);
      const to = path.join(root, 'traits', set, `${name}.json`);
      if (!existsSync(from)) continue;
      if (existsSync(to)) throw new Error(`${path.join('traits', set, `${name}.json`)} already exists in the workspace folder; edit that one (nothing was overwritten)`);
      mkdirSync(path.dirname(to), { recursive: true });
      copyFileSync(from, to);
      copied.push(to);
    }
    if (copied.length === 0) throw new Error(`no shipped trait "${name}"`);
    s.log.info(`Copied trait ${name} to ${copied.join(', ')}`);
    s.refreshViews();
    await vscode.window.showTextDocument(vscode.Uri.file(copied[0]), { preview: false });
    return copied;
  },

  /** The judge's API key into SecretStorage (./jobs/worker.ts); an argument is the key (tests). */
  'personaLab.setJudgeApiKey': (s, key?: string) => setJudgeApiKey(workerServices(s), typeof key === 'string' ? key : undefined),

  'personaLab.restartWorker': (s) => restartWorker(workerServices(s)),

  'personaLab.unloadModels': (s) => unloadModels(workerServices(s)),

  /** Cancels a running job (a pick when several run); an argument: a job id, or 'all'. */
  'personaLab.cancelJob': (s, arg?: number | 'all' | { jobId?: number }) =>
    cancelJob(workerServices(s), typeof arg === 'number' || arg === 'all' ? arg : typeof arg === 'object' && typeof arg?.jobId === 'number' ? arg.jobId : undefined),

  /** The worker status-bar item's menu (./statusBar.ts). */
  'personaLab.workerActions': (s) => workerActions(workerServices(s)),

  /** Runs view actions on a run (./jobs/runActions.ts): the same configuration again (same run id: reuses or resumes), delete, reveal. */
  'personaLab.rerunRun': (s, arg?: unknown) => rerunRun(runServices(s), arg, 'rerun'),
  'personaLab.resumeRun': (s, arg?: unknown) => rerunRun(runServices(s), arg, 'resume'),
  'personaLab.deleteRun': (s, arg?: unknown) => deleteRun(runServices(s), arg),
  'personaLab.revealRunInExplorer': (s, arg?: unknown) => revealRun(runServices(s), arg, 'explorer'),
  'personaLab.revealRunInOS': (s, arg?: unknown) => revealRun(runServices(s), arg, 'os'),
  /** A Slurm plan in Runs: resubmit its failed or missing units (`persona-lab jobs resume`), or scancel its queued and running jobs. */
  'personaLab.resumeSlurmUnits': (s, arg?: unknown) => resumeSlurmUnits(runServices(s), arg),
  'personaLab.cancelSlurm': (s, arg?: unknown) => cancelSlurm(runServices(s), arg),

  /** The compile cache's stale and unused entries (./cacheCommand.ts: `persona-lab cache prune` as a quick pick). */
  'personaLab.cleanCompileCache': (s, arg?: CleanCacheArgs) => cleanCompileCache(s.log, arg),

  /** Opens a model's manifest/config (or a revision's config.json); without an argument, asks which model. */
  'personaLab.revealModel': async (s, node?: ModelItem | RevisionItem) => {
    let file: string | undefined;
    if (node instanceof RevisionItem) {
      file = node.revision.path ? path.join(node.revision.path, 'config.json') : node.model.detailsFile;
    } else if (node instanceof ModelItem) {
      file = node.model.detailsFile;
    } else {
      const models = s.models.listModels();
      if (models.length === 0) {
        void vscode.window.showWarningMessage('No models found. Add a checkpoint folder with "Persona Lab: Add Model Folder".');
        return undefined;
      }
      const pick = await vscode.window.showQuickPick(models.map((m: DiscoveredModel) => ({ label: m.name, description: m.description, detail: m.path, model: m })),
        { title: 'Show Model Details' });
      file = pick?.model.detailsFile;
    }
    if (!file) return undefined;
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
    return file;
  },

  /** Inline (./inline): the selection as prompt, baseline and steered answers beside it; from the editor context menu or the palette. */
  'personaLab.steerSelection': (_s, arg?: unknown) => inlineCommands.steerSelection(arg),

  /** Inline: puts the last (or the given result document's) steered answer after its selection. */
  'personaLab.insertSteeredAnswer': (_s, arg?: unknown) => inlineCommands.insertSteeredAnswer(arg),

  /** Inline: Generate · Steer · Monitor on a prompt file's prompts (its CodeLens actions), results as decorations. */
  'personaLab.runPrompts': (_s, arg?: unknown) => inlineCommands.runPrompts(arg),

  /** Inline: a screened JSONL's samples sorted by ΔP (its CodeLens). */
  'personaLab.sortByDeltaP': (_s, arg?: unknown) => inlineCommands.sortByDeltaP(arg),

  /** Inline: a screened JSONL's samples above or below a ΔP threshold as a new JSONL (its CodeLens). */
  'personaLab.exportByThreshold': (_s, arg?: unknown) => inlineCommands.exportByThreshold(arg),
} satisfies Record<string, Handler>;

/** A palette call passes nothing, a tree item passes its node: only a plain argument object is arguments. */
function plainArgs(arg: unknown): ResearchArgs {
  return arg && typeof arg === 'object' && Object.getPrototypeOf(arg) === Object.prototype ? arg as ResearchArgs : {};
}

export function registerCommands(services: CommandServices): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      if (NEEDS_TRUST.has(id) && !vscode.workspace.isTrusted) {
        services.log.info(`${id}: refused in Restricted Mode (untrusted workspace).`);
        void vscode.window.showWarningMessage('Persona Lab: this workspace is not trusted, so Persona Lab loads no model, calls no judge and starts no server here (the views still browse). Trust the workspace to run it.', 'Manage Workspace Trust')
          .then((b) => (b ? vscode.commands.executeCommand('workbench.trust.manage') : undefined));
        return undefined;
      }
      try {
        return await (handler as Handler)(services, ...args);
      } catch (err) {
        // One place that turns a failed command into a log line and a visible message (./errors.ts):
        // a cancellation as information, a failure with the action that fixes it.
        reportError(services.log, id, err);
        return undefined;
      }
    }));
}
