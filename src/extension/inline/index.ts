/**
 * Inline steering and monitoring in ordinary editors (one module per feature):
 *   ./steerSelection.ts  Steer Selection and Insert Steered Answer
 *   ./promptFiles.ts     Generate · Steer · Monitor lenses on JSONL and Markdown prompt files, results as decorations
 *   ./screening.ts       ΔP decorations on a screened JSONL, Sort by ΔP, Export above/below threshold
 *   ./traitFiles.ts      trait-file diagnostics with JSON paths, Extract · Evaluate lenses
 * registerInline() builds them once (extension.ts); the palette and menu commands are entries of the command table
 * (../commands.ts, so they share its Restricted Mode refusal and error reporting) that call `inline()`.
 */
import * as vscode from 'vscode';
import { PromptFiles, type RunPromptsArgs } from './promptFiles.js';
import { ScreeningInline, type ExportArgs } from './screening.js';
import { INLINE_SCHEME, VirtualDocs, type InlineServices } from './shared.js';
import { SteerSelection, type SteerSelectionArgs } from './steerSelection.js';
import { TraitFiles } from './traitFiles.js';

export interface Inline {
  steer: SteerSelection;
  prompts: PromptFiles;
  screening: ScreeningInline;
  traits: TraitFiles;
}

let current: Inline | undefined;

/** The session's inline features (after registerInline). */
export function inline(): Inline {
  if (!current) throw new Error('the inline features are not registered yet');
  return current;
}

/** A command's argument object: a menu passes a Uri (and more), a palette nothing; only a plain object or string is arguments. */
const plain = <T>(arg: unknown): T | undefined => (arg && typeof arg === 'object' && Object.getPrototypeOf(arg) === Object.prototype ? arg as T : undefined);

/** The command-table handlers (../commands.ts), one per contributed command. */
export const inlineCommands = {
  steerSelection: (arg?: unknown) => inline().steer.run(plain<SteerSelectionArgs>(arg)),
  insertSteeredAnswer: (arg?: unknown) => inline().steer.insert(typeof arg === 'string' ? arg : undefined),
  runPrompts: (arg?: unknown) => inline().prompts.run(plain<RunPromptsArgs>(arg) ?? (arg instanceof vscode.Uri ? { uri: arg } : undefined)),
  sortByDeltaP: (arg?: unknown) => inline().screening.sort(typeof arg === 'string' || arg instanceof vscode.Uri ? arg : undefined),
  exportByThreshold: (arg?: unknown) => inline().screening.export(plain<ExportArgs>(arg) ?? (arg instanceof vscode.Uri ? { uri: arg } : undefined)),
};

/** Everything a test (or another extension) can see of a document's inline state. */
export interface InlineState {
  prompts: { line: number; text: string }[];
  screening: { line: number; text: string; color: string }[];
  diagnostics: { line: number; path: string; message: string }[];
  lenses: string[];
}

export function registerInline(s: InlineServices): vscode.Disposable[] {
  const docs = new VirtualDocs();
  const steer = new SteerSelection(s, docs);
  const prompts = new PromptFiles(s);
  const screening = new ScreeningInline(s, docs);
  const traits = new TraitFiles(s);
  current = { steer, prompts, screening, traits };
  const files: vscode.DocumentSelector = [{ scheme: 'file' }, { scheme: 'untitled' }];
  return [
    docs, steer, prompts, screening, traits,
    vscode.workspace.registerTextDocumentContentProvider(INLINE_SCHEME, docs),
    vscode.languages.registerCodeLensProvider({ scheme: INLINE_SCHEME }, steer),
    vscode.languages.registerCodeLensProvider(files, prompts),
    vscode.languages.registerCodeLensProvider({ scheme: 'file', pattern: '**/*.jsonl' }, screening),
    vscode.languages.registerCodeLensProvider({ scheme: 'file', pattern: '**/*.json' }, traits),
    // Test hook: a document's decorations, diagnostics and lens titles as the editor gets them.
    vscode.commands.registerCommand('personaLab.inlineState', async (uri: string): Promise<InlineState> => {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
      const lenses = [...prompts.provideCodeLenses(doc), ...screening.provideCodeLenses(doc), ...traits.provideCodeLenses(doc), ...steer.provideCodeLenses(doc)];
      return {
        prompts: prompts.decorationsFor(doc).map((d) => ({ line: d.range.start.line, text: d.renderOptions!.after!.contentText! })),
        screening: screening.decorationsFor(doc),
        diagnostics: (traits.diagnostics.get(doc.uri) ?? []).map((d) => ({ line: d.range.start.line, path: String(d.code), message: d.message })),
        lenses: lenses.map((l) => l.command?.title ?? ''),
      };
    }),
    { dispose: () => { current = undefined; } },
  ];
}
