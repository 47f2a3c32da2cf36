/**
 * Steer Selection: the selected text is the prompt; its baseline and steered answers (`persona-lab generate --trait
 * --layer --coef`: one request, the same seed per pair, so the two differ only by the steering) stream into a read-only
 * markdown document beside the editor, headed by the model, revision, vector, layer, coef and the norm actually added.
 * A CodeLens on that document (and the command Insert Steered Answer) puts the steered answer after the selection.
 * The job runs under the JobRunner: cancellable progress, live in Runs.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { steerCondition } from '../../core/evaluation/conditions.js';
import { resolveOptions, samplingFor } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { RubricJudge } from '../../core/judge/rubric.js';
import { evalPrompt } from '../../core/prompts.js';
import { assertVectorFits, readVectorFile, vectorRow, type VectorKind } from '../../core/vectors/file.js';
import { isCancellation } from '../../engine/errors.js';
import type { GenerateRow, SteeringApplied } from '../../engine/protocol.js';
import { modelIdentity, modelLoadSettings } from '../config.js';
import { INLINE_SCHEME, errorText, isToy, steeringChoice, vectorOf, workspaceOf, type ChoiceArgs, type InlineServices, type SteeringChoice, type VirtualDocs } from './shared.js';

export interface SteerSelectionArgs extends ChoiceArgs {
  /** The prompt (default: the active editor's selection). */
  prompt?: string;
  maxTokens?: number;
  seed?: number;
}

export interface SteerSelectionOutcome {
  document: string;
  prompt: string;
  baseline: string;
  steered: string;
  applied?: SteeringApplied[];
  cancelled: boolean;
  choice: SteeringChoice;
  scores?: { baseline: { trait?: number; coherence: number }; steered: { trait?: number; coherence: number } };
}

interface Source { uri: vscode.Uri; end: vscode.Position }

export class SteerSelection implements vscode.CodeLensProvider, vscode.Disposable {
  private seq = 0;
  /** Per result document: where its prompt came from and the steered answer, for Insert Steered Answer. */
  private readonly results = new Map<string, { source?: Source; steered: string; done: boolean }>();
  private last: string | undefined;
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private judge: RubricJudge | undefined;

  constructor(private readonly s: InlineServices, private readonly docs: VirtualDocs) {}

  async run(args: SteerSelectionArgs = {}): Promise<SteerSelectionOutcome | undefined> {
    const editor = vscode.window.activeTextEditor;
    const fromEditor = editor && !editor.selection.isEmpty && editor.document.uri.scheme !== INLINE_SCHEME ? editor : undefined;
    const prompt = (args.prompt ?? fromEditor?.document.getText(fromEditor.selection) ?? '').trim();
    if (!prompt) throw new Error('select the text to use as the prompt first (Steer Selection steers the selected text)');
    const choice = await steeringChoice(this.s, args, 'Steer Selection');
    if (!choice) return undefined;
    const ws = workspaceOf(this.s);
    const vectorPath = vectorOf(ws, choice);
    const id = modelIdentity(choice.modelPath, choice.revision);
    const toy = isToy(choice);
    const o = resolveOptions(JOBS.generate, { seed: args.seed }, toy);
    const uri = vscode.Uri.from({ scheme: INLINE_SCHEME, path: `/steer/Steered ${++this.seq} — ${choice.trait}.md` });
    const source = !args.prompt && fromEditor ? { uri: fromEditor.document.uri, end: fromEditor.selection.end } : undefined;
    const state = { source, steered: '', done: false };
    this.results.set(uri.toString(), state);
    this.last = uri.toString();
    let header = [`model ${id.name} · revision ${id.revision}`, `vector ${choice.trait} (${path.basename(vectorPath)}) · layer ${choice.layer} · coef ${choice.coef}`];
    const texts = { baseline: '', steered: '' };
    let footer = '_generating…_';
    const render = () => this.docs.set(uri, [
      `# Steer Selection: ${choice.trait}`, '', ...header.map((h) => `- ${h}`), '', '## Prompt', '', quote(prompt), '',
      '## Baseline (unsteered)', '', texts.baseline || '…', '', `## Steered (${choice.trait}, layer ${choice.layer}, coef ${choice.coef})`, '', texts.steered || '…', '', footer, '',
    ].join('\n'));
    render();
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
    this.lensesChanged.fire();
    return this.s.jobs.run(`Persona Lab: Steer Selection — ${choice.trait} on ${id.name}@${id.revision}, layer ${choice.layer}, coef ${choice.coef}`, async ({ client, signal, progress }) => {
      const info = await client.loadModel({ path: choice.modelPath, revision: choice.revision, ...modelLoadSettings() });
      try {
        if (choice.layer > info.config.numLayers) throw new Error(`layer ${choice.layer} is out of range: ${id.name} has rows 0..${info.config.numLayers} (hidden_states)`);
        const file = readVectorFile(vectorPath);
        assertVectorFits(file, vectorPath, { name: `${id.name}@${id.revision}`, ...info.config });
        const kind = (file.data[o.kind as VectorKind] ? o.kind : Object.keys(file.data)[0]) as VectorKind;
        const steer = steerCondition('steer', vectorRow(file, kind, choice.layer), choice.layer, choice.coef, { positions: o.positions as 'response' }).steer;
        const samp = samplingFor({ 'max-new-tokens': args.maxTokens }, toy, info.hasChatTemplate);
        const input = evalPrompt(info.hasChatTemplate ? 'chat' : 'base', prompt);
        const seed = o.seed as number;
        const rows: GenerateRow[] = [{ prompt: input, seed }, { prompt: input, seed, steer }];
        let timer: ReturnType<typeof setTimeout> | undefined;
        let tokens = 0;
        let cancelled = false;
        const result = await client.generate({ modelId: info.modelId, rows, sampling: samp.params }, {
          signal,
          onToken: (n) => {
            if (!n.text) return;
            texts[n.row === 0 ? 'baseline' : 'steered'] += n.text;
            if (++tokens % 8 === 0) progress({ stage: 'generate', done: tokens, total: 2 * (samp.params.maxNewTokens ?? 0) });
            timer ??= setTimeout(() => { timer = undefined; render(); }, 50);
          },
        }).catch((e: unknown) => { if (signal.aborted || isCancellation(e)) { cancelled = true; return undefined; } throw e; });
        clearTimeout(timer);
        if (result) { texts.baseline = result.rows[0].text; texts.steered = result.rows[1].text; }
        const applied = result?.rows[1].steeringApplied;
        const a = applied?.[0];
        header = [...header, a ? `applied ‖Δ‖ ${a.norm.toFixed(3)} at layer ${a.layer} on ${a.tokens} tokens` : 'applied: –',
          `seed ${seed} (both answers) · sampler ${samp.preset}`];
        let scores: SteerSelectionOutcome['scores'];
        if (toy && result) {
          scores = { baseline: this.score(choice.trait, texts.baseline), steered: this.score(choice.trait, texts.steered) };
          header.push(`rubric judge: ${choice.trait} ${fmt(scores.baseline.trait)} → ${fmt(scores.steered.trait)}, coherence ${fmt(scores.baseline.coherence)} → ${fmt(scores.steered.coherence)}`);
        }
        footer = cancelled ? '_cancelled: the answers stop where generation stopped._' : '';
        state.steered = texts.steered;
        state.done = true;
        render();
        this.lensesChanged.fire();
        this.s.log.info(`Steer Selection: ${choice.trait} ℓ=${choice.layer} c=${choice.coef} on ${id.name}@${id.revision}${a ? `, ‖Δ‖ ${a.norm.toFixed(3)} on ${a.tokens} tokens` : ''}${cancelled ? ' (cancelled)' : ''}`);
        if (cancelled) throw signal.reason ?? new Error('cancelled');
        return { document: uri.toString(), prompt, baseline: texts.baseline, steered: texts.steered, applied, cancelled, choice, scores };
      } catch (e) {
        if (!state.done) { footer = `_failed: ${errorText(e)}_`; render(); }
        throw e;
      } finally {
        await client.unloadModel(info.modelId).catch(() => undefined);
      }
    });
  }

  /** Inserts a result document's steered answer (default: the last one) after the selection it was made from. */
  async insert(docUri?: string | vscode.Uri): Promise<string | undefined> {
    const key = docUri ? docUri.toString() : vscode.window.activeTextEditor?.document.uri.scheme === INLINE_SCHEME ? vscode.window.activeTextEditor.document.uri.toString() : this.last;
    const r = key ? this.results.get(key) : undefined;
    if (!r?.done) throw new Error('no finished steered answer to insert: run "Persona Lab: Steer Selection" on a selection first');
    if (!r.source) throw new Error('this steered answer was not made from an editor selection, so there is nowhere to insert it');
    const doc = await vscode.workspace.openTextDocument(r.source.uri);
    const text = `\n\n${r.steered.trim()}\n`;
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, r.source.end, text);
    if (!(await vscode.workspace.applyEdit(edit))) throw new Error(`could not edit ${doc.uri.fsPath}`);
    // Back to the editor it came from (not into the result's column).
    const shown = vscode.window.visibleTextEditors.find((e) => e.document === doc && e.viewColumn !== undefined);
    await vscode.window.showTextDocument(doc, { viewColumn: shown?.viewColumn, preserveFocus: false });
    return text;
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const r = this.results.get(doc.uri.toString());
    if (!r?.done || !r.source) return [];
    const line = Math.max(0, doc.getText().split('\n').findIndex((l) => l.startsWith('## Steered')));
    return [new vscode.CodeLens(new vscode.Range(line, 0, line, 0), { title: '$(insert) Insert steered answer after the selection', command: 'personaLab.insertSteeredAnswer', arguments: [doc.uri.toString()] })];
  }

  private score(trait: string, text: string): { trait?: number; coherence: number } {
    this.judge ??= new RubricJudge();
    let t: number | undefined;
    try { t = this.judge.scoreOne('trait', trait, text); } catch { t = undefined; }
    return { trait: t, coherence: this.judge.scoreOne('coherence', trait, text) };
  }

  dispose(): void { this.lensesChanged.dispose(); }
}

const quote = (t: string) => t.split('\n').map((l) => `> ${l}`).join('\n');
const fmt = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(0));
