/**
 * Trait files as they are edited: the workspace's traits/**.json and any *.json that looks like a trait file (it has
 * instruction, questions or eval_prompt) are checked on open and on every change by core's trait validator
 * (src/core/promptFiles/traitCheck.ts over src/core/traits/schema.ts) into the Problems panel, each problem underlining
 * the field its JSON path names (the path is the diagnostic's code and starts its message). Files in traits/extract also
 * need an instruction. A trait file in a traits folder gets CodeLens Extract · Evaluate, which run those commands with it.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { looksLikeTrait, traitProblems } from '../../core/promptFiles/traitCheck.js';
import type { InlineServices } from './shared.js';

const DEBOUNCE_MS = 250;

export class TraitFiles implements vscode.CodeLensProvider, vscode.Disposable {
  readonly diagnostics = vscode.languages.createDiagnosticCollection('persona-lab-traits');
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly s: InlineServices) {
    this.subs.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.check(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.soon(e.document)),
      vscode.workspace.onDidCloseTextDocument((d) => { this.diagnostics.delete(d.uri); }),
    );
    vscode.workspace.textDocuments.forEach((d) => this.check(d));
  }

  /** The workspace folder's traits/ (its extract/ and eval/ sets), or undefined without a folder. */
  private traitsDir(): string | undefined {
    const root = this.s.locations.workspaceDataFolder();
    return root ? path.join(root, 'traits') : undefined;
  }

  private inTraitsFolder(file: string): boolean {
    const dirs = [this.traitsDir(), path.dirname(this.s.locations.embeddedTraitsFolder())].filter((d): d is string => Boolean(d));
    return dirs.some((d) => !path.relative(d, file).startsWith('..') && !path.isAbsolute(path.relative(d, file)));
  }

  /** Whether a document is checked: a .json in a traits folder, or one that looks like a trait file. */
  applies(doc: vscode.TextDocument): boolean {
    if (!doc.fileName.toLowerCase().endsWith('.json') || doc.uri.scheme === 'output') return false;
    return (doc.uri.scheme === 'file' && this.inTraitsFolder(doc.fileName)) || looksLikeTrait(doc.getText());
  }

  private soon(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(key, setTimeout(() => { this.timers.delete(key); this.check(doc); }, DEBOUNCE_MS));
  }

  /** Checks one document now and returns its diagnostics (exposed for tests). */
  check(doc: vscode.TextDocument): vscode.Diagnostic[] {
    if (!this.applies(doc)) { this.diagnostics.delete(doc.uri); return []; }
    const requireInstruction = path.basename(path.dirname(doc.fileName)) === 'extract';
    const out = traitProblems(doc.getText(), { requireInstruction }).map((p) => {
      const range = new vscode.Range(doc.positionAt(p.offset), doc.positionAt(p.offset + p.length));
      const d = new vscode.Diagnostic(range, `${p.path}: ${p.message}`, vscode.DiagnosticSeverity.Error);
      d.source = 'Persona Lab trait';
      d.code = p.path;
      return d;
    });
    this.diagnostics.set(doc.uri, out);
    return out;
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (doc.uri.scheme !== 'file' || !doc.fileName.toLowerCase().endsWith('.json') || !this.inTraitsFolder(doc.fileName)) return [];
    const trait = path.basename(doc.fileName, '.json');
    const r = new vscode.Range(0, 0, 0, 0);
    return [
      new vscode.CodeLens(r, { title: `$(beaker) Extract ${trait} vector`, command: 'personaLab.extractVector', arguments: [{ trait }] }),
      new vscode.CodeLens(r, { title: '$(graph) Evaluate steering', command: 'personaLab.evaluateSteering', arguments: [{ trait }] }),
    ];
  }

  dispose(): void {
    this.timers.forEach((t) => clearTimeout(t));
    this.subs.forEach((d) => d.dispose());
    this.diagnostics.dispose();
  }
}
