/**
 * Prompt files in ordinary editors: a JSONL of {"prompt"} / chat {"messages"} rows, or Markdown with fenced blocks tagged
 * `prompt` (src/core/promptFiles/parse.ts), get CodeLens actions Generate · Steer · Monitor above each prompt and for the
 * whole file. An action runs core's prompt-file job (src/core/promptFiles/job.ts: an evaluate run in the workspace, judged,
 * resumable) with the steering choice (./shared.ts), and its results are drawn after each prompt's last line as
 * decorations — trait score (baseline → steered), coherence, the last prompt token's projection — with the answers on
 * hover. "Open Judge Results" (a lens once a file has a run) shows the run in the judge results panel.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { findTraitFile, resolveOptions, samplingFor } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { createJudge } from '../../core/judge/factory.js';
import { modelKind, type ModelHandle } from '../../core/backend.js';
import { parsePromptFile, promptFileKind, type ParsedPromptFile, type PromptFileKind } from '../../core/promptFiles/parse.js';
import { runPromptFile, type PromptAction, type PromptOutcome } from '../../core/promptFiles/job.js';
import { loadTraitFile } from '../../core/traits/load.js';
import type { VectorKind } from '../../core/vectors/file.js';
import { judgeSpecWithSecret, modelIdentity, modelLoadSettings } from '../config.js';
import { isToy, steeringChoice, vectorOf, workspaceOf, type ChoiceArgs, type InlineServices, type SteeringChoice } from './shared.js';

export interface RunPromptsArgs extends ChoiceArgs {
  /** The prompt file (default: the active editor's document). */
  uri?: string | vscode.Uri;
  action?: PromptAction;
  /** One prompt (0-based among the file's prompts); all when absent. */
  index?: number;
}

export interface RunPromptsOutcome { runDir: string; action: PromptAction; outcomes: PromptOutcome[]; decorations: { line: number; text: string }[] }

interface FileResult { runDir: string; action: PromptAction; choice: SteeringChoice; byIndex: Map<number, { outcome: PromptOutcome; question: string }> }

const ACTIONS: { action: PromptAction; title: string; icon: string }[] = [
  { action: 'generate', title: 'Generate', icon: '$(play)' }, { action: 'steer', title: 'Steer', icon: '$(arrow-swap)' }, { action: 'monitor', title: 'Monitor', icon: '$(pulse)' },
];

/** Files with more prompts get only the file-level lenses (a 100 000-line dataset would otherwise get 300 000). */
const MAX_PROMPT_LENSES = 2000;

/** A document's prompt-file kind: by file name, else (untitled) by language. */
export function kindOf(doc: vscode.TextDocument): PromptFileKind | undefined {
  return promptFileKind(doc.fileName) ?? (doc.languageId === 'markdown' ? 'markdown' : doc.languageId === 'jsonl' ? 'jsonl' : undefined);
}

export class PromptFiles implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly results = new Map<string, FileResult>();
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    after: { margin: '0 0 0 2em', color: new vscode.ThemeColor('editorInlayHint.foreground'), backgroundColor: new vscode.ThemeColor('editorInlayHint.background'), fontStyle: 'normal' },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly subs: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly s: InlineServices) {
    this.subs.push(
      vscode.window.onDidChangeVisibleTextEditors((eds) => eds.forEach((e) => this.decorate(e))),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (!this.results.has(e.document.uri.toString())) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => { for (const ed of vscode.window.visibleTextEditors) if (ed.document === e.document) this.decorate(ed); }, 200);
      }),
      { dispose: () => clearTimeout(this.timer) },
    );
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const kind = kindOf(doc);
    if (!kind) return [];
    const parsed = parsePromptFile(doc.getText(), kind);
    if (parsed.prompts.length === 0) return [];
    const uri = doc.uri.toString();
    const lens = (line: number, title: string, args: RunPromptsArgs) => new vscode.CodeLens(new vscode.Range(line, 0, line, 0), { title, command: 'personaLab.runPrompts', arguments: [args] });
    const top = 0;
    const out = ACTIONS.map((a) => lens(top, `${a.icon} ${a.title} all (${parsed.prompts.length})`, { uri, action: a.action }));
    const r = this.results.get(uri);
    if (r) out.push(new vscode.CodeLens(new vscode.Range(top, 0, top, 0), { title: '$(table) Open Judge Results', command: 'personaLab.openJudgeResults', arguments: [r.runDir] }));
    // Per prompt (a Markdown prompt's lenses sit above its fence), up to a number an editor can still draw; beyond it the file's own.
    if (parsed.prompts.length <= MAX_PROMPT_LENSES) {
      for (const p of parsed.prompts) for (const a of ACTIONS) out.push(lens(p.line, `${a.title}`, { uri, action: a.action, index: p.index }));
    }
    return out;
  }

  async run(args: RunPromptsArgs = {}): Promise<RunPromptsOutcome | undefined> {
    const uri = args.uri ? (typeof args.uri === 'string' ? vscode.Uri.parse(args.uri) : args.uri) : vscode.window.activeTextEditor?.document.uri;
    if (!uri) throw new Error('open a prompt file first (a .jsonl of {"prompt"} or {"messages"} rows, or Markdown with ```prompt blocks)');
    const doc = await vscode.workspace.openTextDocument(uri);
    const kind = kindOf(doc);
    if (!kind) throw new Error(`${path.basename(uri.fsPath)} is not a prompt file: use a .jsonl of {"prompt"} or {"messages"} rows, or Markdown with \`\`\`prompt blocks`);
    const parsed: ParsedPromptFile = parsePromptFile(doc.getText(), kind);
    const action = args.action ?? (await vscode.window.showQuickPick(ACTIONS.map((a) => ({ label: a.title, action: a.action })), { title: 'Run the prompts how?' }))?.action;
    if (!action) return undefined;
    const prompts = args.index === undefined ? parsed.prompts : parsed.prompts.filter((p) => p.index === args.index);
    if (prompts.length === 0) throw new Error(args.index === undefined ? `${path.basename(uri.fsPath)} holds no prompts${parsed.problems.length ? ` (line ${parsed.problems[0].line + 1}: ${parsed.problems[0].message})` : ''}` : `no prompt ${args.index} in ${path.basename(uri.fsPath)}`);
    const title = `${ACTIONS.find((a) => a.action === action)!.title} ${prompts.length === 1 ? 'this prompt' : `${prompts.length} prompts`}`;
    const choice = await steeringChoice(this.s, args, title, action !== 'generate');
    if (!choice) return undefined;
    const ws = workspaceOf(this.s);
    const toy = isToy(choice);
    const modelTraitsDir = toy ? path.dirname(this.s.locations.embeddedTraitsFolder()) : undefined;
    const evalTrait = loadTraitFile(findTraitFile('eval', choice.trait, { ws, modelTraitsDir }));
    const spec = await judgeSpecWithSecret(toy, this.s.secrets);
    // The evaluation job's declared defaults (seed, sizes, vector kind), as `persona-lab evaluate` resolves them.
    const o = resolveOptions(JOBS.evaluate, {}, toy);
    const id = modelIdentity(choice.modelPath, choice.revision);
    const where = action === 'generate' ? '' : action === 'steer' ? `, layer ${choice.layer}, coef ${choice.coef}` : `, layer ${choice.layer}`;
    return this.s.jobs.run(`Persona Lab: ${title} of ${path.basename(uri.fsPath)} — ${choice.trait} on ${id.name}@${id.revision}${where}`, async ({ client, signal, progress }) => {
      const info = await client.loadModel({ path: choice.modelPath, revision: choice.revision, ...modelLoadSettings() });
      try {
        if (action !== 'generate' && choice.layer > info.config.numLayers) throw new Error(`layer ${choice.layer} is out of range: ${id.name} has rows 0..${info.config.numLayers} (hidden_states)`);
        const model: ModelHandle = { backend: client, info, name: id.name, revision: id.revision, commit: id.commit };
        const judge = await createJudge(spec, ws, { onRetry: (i) => this.s.log.warn(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
        const samp = samplingFor({}, toy, modelKind(model) === 'chat');
        const r = await runPromptFile({
          ws, model, judge, trait: choice.trait, evalTrait, prompts, action, source: path.basename(uri.fsPath),
          ...(action !== 'generate' ? { vectorPath: vectorOf(ws, choice), kind: o.kind as VectorKind, layer: choice.layer } : {}), ...(action === 'steer' ? { coef: choice.coef } : {}),
          sampling: samp.params, samplerPreset: samp.preset, seed: o.seed as number,
          chunkSize: o['chunk-size'] as number, batchSize: o['batch-size'] as number, progress, signal,
        });
        const key = uri.toString();
        const prev = this.results.get(key);
        const byIndex = prev && prev.action === action && prev.choice.trait === choice.trait ? prev.byIndex : new Map<number, { outcome: PromptOutcome; question: string }>();
        for (const out of r.outcomes) byIndex.set(out.index, { outcome: out, question: prompts.find((p) => p.index === out.index)!.question });
        this.results.set(key, { runDir: r.run.dir, action, choice, byIndex });
        this.lensesChanged.fire();
        for (const ed of vscode.window.visibleTextEditors) if (ed.document.uri.toString() === key) this.decorate(ed);
        this.s.refreshViews();
        const decorations = this.decorationsFor(doc).map((d) => ({ line: d.range.start.line, text: d.renderOptions!.after!.contentText! }));
        this.s.log.info(`${title} of ${uri.fsPath}: ${r.outcomes.length} answered (${r.run.dir})`);
        void vscode.window.showInformationMessage(`Persona Lab: ${title} of ${path.basename(uri.fsPath)} done: results are shown after each prompt.`, 'Open Judge Results')
          .then((b) => (b ? vscode.commands.executeCommand('personaLab.openJudgeResults', r.run.dir) : undefined));
        return { runDir: r.run.dir, action, outcomes: r.outcomes, decorations };
      } finally {
        await client.unloadModel(info.modelId).catch(() => undefined);
      }
    });
  }

  /** The decorations a document gets now: one after the last line of each prompt that has a result (and still reads the same). */
  decorationsFor(doc: vscode.TextDocument): vscode.DecorationOptions[] {
    const r = this.results.get(doc.uri.toString());
    const kind = kindOf(doc);
    if (!r || !kind) return [];
    const out: vscode.DecorationOptions[] = [];
    for (const p of parsePromptFile(doc.getText(), kind).prompts) {
      const got = r.byIndex.get(p.index);
      if (!got || got.question !== p.question) continue;
      const line = doc.lineAt(p.endLine);
      out.push({ range: new vscode.Range(line.range.end, line.range.end), renderOptions: { after: { contentText: summary(r, got.outcome) } }, hoverMessage: hover(r, got.outcome) });
    }
    return out;
  }

  private decorate(editor: vscode.TextEditor): void {
    if (!kindOf(editor.document)) return;
    editor.setDecorations(this.decoration, this.decorationsFor(editor.document));
  }

  dispose(): void {
    this.subs.forEach((d) => d.dispose());
    this.decoration.dispose();
    this.lensesChanged.dispose();
  }
}

const f0 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(0));

function summary(r: FileResult, o: PromptOutcome): string {
  const t = r.choice.trait;
  if (r.action === 'steer') return `${t} ${f0(o.baseline.trait)} → ${f0(o.steered?.trait)} (ℓ${r.choice.layer}, c${r.choice.coef}) · coherence ${f0(o.baseline.coherence)} → ${f0(o.steered?.coherence)}`;
  const proj = o.projection !== undefined ? `projection ${Number.isFinite(o.projection) ? o.projection.toFixed(2) : '–'} (ℓ${r.choice.layer}) · ` : '';
  return `${proj}${t} ${f0(o.baseline.trait)} · coherence ${f0(o.baseline.coherence)}`;
}

function hover(r: FileResult, o: PromptOutcome): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.appendMarkdown(`**Persona Lab — ${r.action}** (${r.choice.trait})\n\n**Baseline**: `).appendText(o.baseline.answer || '(empty)');
  if (o.steered) md.appendMarkdown(`\n\n**Steered** (layer ${r.choice.layer}, coef ${r.choice.coef}): `).appendText(o.steered.answer || '(empty)');
  md.appendMarkdown(`\n\nRun: \`${path.basename(r.runDir)}\``);
  return md;
}
