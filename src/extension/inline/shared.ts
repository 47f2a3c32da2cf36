/**
 * What the inline features share: their services, the read-only virtual documents they show results in (scheme
 * `persona-lab-inline`, markdown or JSONL), and the steering choice — checkpoint, trait (its workspace vector),
 * layer and coef — that Steer Selection and the prompt-file lenses use, remembered in workspaceState and offered first
 * next time (a quick pick: use it, or change it).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { recommendedSteering } from '../../core/jobs/defaults.js';
import { Workspace } from '../../core/storage/workspace.js';
import { isToyModelPath } from '../../core/toy/paths.js';
import { modelIdentity } from '../config.js';
import type { JobRunner } from '../jobs.js';
import { Picks } from '../jobs/picks.js';
import type { Locations } from '../locations.js';
import type { DiscoveredModel } from '../modelDiscovery.js';

export interface InlineServices {
  log: vscode.LogOutputChannel;
  locations: Locations;
  jobs: JobRunner;
  /** workspaceState: the last steering choice. */
  memory: vscode.Memento;
  secrets: vscode.SecretStorage;
  listModels(): DiscoveredModel[];
  refreshViews(): void;
}

export const INLINE_SCHEME = 'persona-lab-inline';

/** Read-only documents whose text the inline features set (and update while a generation streams). */
export class VirtualDocs implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string { return this.texts.get(uri.toString()) ?? ''; }
  text(uri: vscode.Uri): string | undefined { return this.texts.get(uri.toString()); }
  set(uri: vscode.Uri, text: string): void {
    if (this.texts.get(uri.toString()) === text) return;
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
  }
  dispose(): void { this.changed.dispose(); }
}

/** Where and how to steer; `vectorPath` is the workspace's vector of the trait for that checkpoint. */
export interface SteeringChoice { modelPath: string; revision?: string; trait: string; layer: number; coef: number }
export interface ChoiceArgs { modelPath?: string; revision?: string; trait?: string; layer?: number; coef?: number }

const CHOICE_KEY = 'personaLab.inline.steering';

export function workspaceOf(s: InlineServices): Workspace {
  const root = s.locations.workspaceDataFolder();
  if (!root) throw new Error('Persona Lab reads vectors and writes runs in the workspace folder: open a folder first (File > Open Folder)');
  return new Workspace(root);
}

export const describeChoice = (c: SteeringChoice): string => {
  const id = modelIdentity(c.modelPath, c.revision);
  return `${c.trait} on ${id.name}@${id.revision}, layer ${c.layer}, coef ${c.coef}`;
};

export function vectorOf(ws: Workspace, c: SteeringChoice): string {
  const id = modelIdentity(c.modelPath, c.revision);
  return ws.vectorPath(id.name, id.revision, c.trait);
}

/**
 * The steering choice: the caller's complete arguments; else the last one (a quick pick offers it first, with
 * "Change…"); else the picks (checkpoint, trait, layer, coef — ./jobs/picks.ts, each prefilled with the last answer).
 * `needVector` refuses a choice whose trait has no vector yet for that checkpoint, naming the command that makes one.
 */
export async function steeringChoice(s: InlineServices, given: ChoiceArgs, title: string, needVector = true): Promise<SteeringChoice | undefined> {
  const ws = workspaceOf(s);
  const last = s.memory.get<SteeringChoice>(CHOICE_KEY);
  let choice: SteeringChoice | undefined;
  const complete = (c: ChoiceArgs): c is SteeringChoice => Boolean(c.modelPath && c.trait && c.layer !== undefined && c.coef !== undefined);
  // Only the choice's own fields: callers pass them inside larger argument objects (a prompt, a file, an action).
  const own: ChoiceArgs = strip({ modelPath: given.modelPath, revision: given.revision, trait: given.trait, layer: given.layer, coef: given.coef });
  const merged: ChoiceArgs = own.modelPath ? own : { ...last, ...own };
  if (complete(own)) choice = own;
  else if (last && complete(merged)) {
    const use = { label: `$(play) ${describeChoice(merged)}`, detail: 'the last steering choice', change: false };
    const change = { label: '$(settings-gear) Change checkpoint, vector, layer or coef…', change: true };
    const pick = await vscode.window.showQuickPick([use, change], { title });
    if (!pick) return undefined;
    choice = pick.change ? await ask(s, ws, own, title) : merged;
  } else {
    choice = await ask(s, ws, own, title);
  }
  if (!choice) return undefined;
  if (needVector && !existsSync(vectorOf(ws, choice))) {
    const id = modelIdentity(choice.modelPath, choice.revision);
    throw new Error(`no ${choice.trait} vector for ${id.name}@${id.revision} yet: run "Persona Lab: Extract Persona Vector…" on it first (looked for ${vectorOf(ws, choice)})`);
  }
  await s.memory.update(CHOICE_KEY, choice);
  return choice;
}

const strip = (a: ChoiceArgs): ChoiceArgs => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as ChoiceArgs;

async function ask(s: InlineServices, ws: Workspace, given: ChoiceArgs, title: string): Promise<SteeringChoice | undefined> {
  const picks = new Picks(s.memory, 'inline');
  const target = await picks.checkpoint(s.listModels(), given, `${title}: on which checkpoint?`);
  if (!target) return undefined;
  const trait = await picks.trait(ws, s.locations.embeddedTraitsFolder(), given.trait, `${title}: steer with which trait's vector?`);
  if (!trait) return undefined;
  const recommended = recommendedSteering(target.path)[trait] ?? recommendedSteering(path.dirname(path.dirname(target.path)))[trait];
  const point = await picks.steeringPoint(given, recommended, title);
  if (!point) return undefined;
  return { modelPath: target.path, revision: target.revision, trait, ...point };
}

export const isToy = (c: SteeringChoice): boolean => isToyModelPath(c.modelPath);

/** The text of an error, for a document or a log line. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
