/**
 * Start/stop the OpenAI-compatible steering server (src/server) from the editor, on the session's worker
 * (JobRunner.client()), so an eval harness, a notebook or another tool can use the model the researcher is
 * looking at — steered with the workspace's vectors, which the server offers by trait name. One server per
 * window; a status bar item shows it while it runs (click: URL, copy, stop). It stops with the window, with
 * "Stop Steering Server", or when the worker dies.
 */
import * as vscode from 'vscode';
import { identifyModel } from '../core/models.js';
import { Workspace } from '../core/storage/workspace.js';
import { startSteeringServer, type SteeringServer } from '../server/server.js';
import { vectorsInFolder } from '../server/vectors.js';
import { modelLoadSettings, readSettings } from './config.js';
import { pickCheckpoint } from './extractCommand.js';
import type { JobRunner } from './jobs.js';
import type { Locations } from './locations.js';
import type { DiscoveredModel } from './modelDiscovery.js';

export interface ServerArgs {
  /** A checkpoint folder; without it the palette asks (the embedded toy model when it is the only one). */
  modelPath?: string;
  revision?: string;
  /** Overrides the personaLab.server.port setting (0 = any free port). */
  port?: number;
}

export interface ServerStatus { url: string; model: string; vectors: string[] }

export interface ServerServices { log: vscode.LogOutputChannel; locations: Locations; jobs: JobRunner; listModels(): DiscoveredModel[] }

export class SteeringServerService implements vscode.Disposable {
  private running: { server: SteeringServer; status: ServerStatus; unload: () => Promise<void> } | undefined;
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);

  constructor(private readonly s: ServerServices) {
    this.item.command = 'personaLab.startServer';
  }

  /** Starts the server, or — when one runs — shows its URL with Copy/Stop actions and returns its status. */
  async start(args: ServerArgs = {}): Promise<ServerStatus | undefined> {
    if (this.running) {
      if (args.modelPath === undefined) void this.showRunning();
      return this.running.status;
    }
    const target = args.modelPath ? { path: args.modelPath, revision: args.revision }
      : await pickCheckpoint(this.s.listModels(), 'Serve which checkpoint over HTTP?');
    if (!target) return undefined;
    const settings = readSettings();
    const id = identifyModel(target.path, target.revision);
    const client = await this.s.jobs.client();
    const info = await client.loadModel({ path: target.path, revision: target.revision, ...modelLoadSettings() });
    const root = this.s.locations.workspaceDataFolder();
    const vectors = vectorsInFolder(root ? new Workspace(root).vectorDir(id.name, id.revision) : undefined);
    let server: SteeringServer;
    try {
      server = await startSteeringServer({
        client, model: info, servedName: id.name, vectors, port: args.port ?? settings.serverPort, host: '127.0.0.1',
        log: (line) => this.s.log.warn(`Steering server: ${line}`),
      });
    } catch (e) {
      await client.unloadModel(info.modelId).catch(() => undefined);
      const msg = (e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? `port ${args.port ?? settings.serverPort} is in use; set personaLab.server.port (0 = any free port)` : (e as Error).message;
      throw new Error(`cannot start the steering server: ${msg}`, { cause: e });
    }
    const status: ServerStatus = { url: server.url, model: id.name, vectors: [...vectors.keys()] };
    this.running = { server, status, unload: () => client.unloadModel(info.modelId).catch(() => undefined) };
    client.onExit(() => { if (this.running?.server === server) void this.stop('the inference worker stopped'); });
    this.item.text = `$(broadcast) ${id.name}@${id.revision} :${server.port}`;
    this.item.tooltip = `Persona Lab steering server: ${id.name}@${id.revision} at ${server.url} (OpenAI-compatible; vectors: ${status.vectors.join(', ') || 'none'}). Click for actions.`;
    this.item.accessibilityInformation = { label: `Persona Lab steering server for ${id.name} at revision ${id.revision}, port ${server.port}` };
    this.item.show();
    this.s.log.info(`Steering server: ${id.name}@${id.revision} at ${server.url}; vectors ${status.vectors.join(', ') || 'none'}`);
    void vscode.window.showInformationMessage(`Persona Lab steering server: ${server.url}`, 'Copy URL').then((a) => {
      if (a) void vscode.env.clipboard.writeText(server.url);
    });
    return status;
  }

  /** Stops the running server (if any) and unloads its model; returns whether one was running. */
  async stop(reason = 'stopped'): Promise<boolean> {
    const r = this.running;
    if (!r) return false;
    this.running = undefined;
    this.item.hide();
    await r.server.close();
    await r.unload();
    this.s.log.info(`Steering server at ${r.status.url} ${reason}.`);
    return true;
  }

  private async showRunning(): Promise<void> {
    const r = this.running!;
    const action = await vscode.window.showInformationMessage(`Persona Lab steering server for ${r.status.model}: ${r.status.url}`, 'Copy URL', 'Stop');
    if (action === 'Copy URL') await vscode.env.clipboard.writeText(r.status.url);
    else if (action === 'Stop') await this.stop();
  }

  dispose(): void {
    void this.stop('closed with the window');
    this.item.dispose();
  }
}
