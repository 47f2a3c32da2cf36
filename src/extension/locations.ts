/**
 * Where Persona Lab finds things on disk: the models embedded in the extension and the workspace
 * data folder (traits/, vectors/, runs/). Pure path logic plus small fs probes; views and commands
 * ask here instead of joining paths themselves.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readSettings } from './config.js';

/** The toy organism ships inside the extension (models/ next to package.json). */
export const EMBEDDED_MODELS = ['toy-persona', 'toy-persona-instruct'] as const;

export type WorkspaceSubfolder = 'traits' | 'vectors' | 'runs';

export class Locations {
  constructor(private readonly extensionPath: string) {}

  embeddedModel(name: (typeof EMBEDDED_MODELS)[number]): string {
    return path.join(this.extensionPath, 'models', name);
  }

  /** The bundled headless CLI (dist/cli.js): what Slurm jobs submitted from the editor run. */
  cliScript(): string {
    return path.join(this.extensionPath, 'dist', 'cli.js');
  }

  /** Trait files that come with the toy model (used to extract its persona vectors). */
  embeddedTraitsFolder(): string {
    return path.join(this.embeddedModel('toy-persona'), 'traits', 'extract');
  }

  /**
   * The workspace data folder, or undefined when no folder is open. A relative setting is resolved
   * against the first workspace folder; an absolute one is used as is.
   */
  workspaceDataFolder(): string | undefined {
    const setting = readSettings().workspaceFolder;
    if (path.isAbsolute(setting)) return setting;
    const first = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
    return first ? path.join(first.uri.fsPath, setting) : undefined;
  }

  workspaceSubfolder(sub: WorkspaceSubfolder): string | undefined {
    const root = this.workspaceDataFolder();
    return root ? path.join(root, sub) : undefined;
  }

  /** Model paths from settings, resolved like the workspace folder (relative → first workspace folder). */
  configuredModelPaths(): string[] {
    const first = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
    return readSettings().modelPaths.map((p) => {
      const expanded = p.startsWith('~/') ? path.join(process.env.HOME ?? '~', p.slice(2)) : p;
      return path.isAbsolute(expanded) || !first ? expanded : path.join(first.uri.fsPath, expanded);
    });
  }
}
