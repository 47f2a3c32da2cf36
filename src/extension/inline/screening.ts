/**
 * Screening inline: a JSONL that a screening run screened (`persona-lab screen` / Screen Dataset; the run records the
 * dataset's sha256, so the file as it is now must be the file that was screened) shows each sample's projection
 * difference ΔP at the start of its line, coloured on a diverging scale (toward the trait red, away blue; themed chart colours),
 * and a CodeLens on line 1 with the run's summary, "Sort by ΔP" (a read-only view of the samples, largest ΔP first,
 * decorated the same way) and "Export above/below threshold…" (a new JSONL of those samples, lines kept byte for byte).
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { deltaPScale, findScreeningRun, samplesByThreshold, screenedLines, sortedByDeltaP, type ScreenedLine, type ScreeningRun } from '../../core/promptFiles/screening.js';
import { parseNumberField } from '../jobs/picks.js';
import { INLINE_SCHEME, type InlineServices, type VirtualDocs } from './shared.js';

export interface ExportArgs { uri?: string | vscode.Uri; side?: 'above' | 'below'; threshold?: number; output?: string }
export interface ExportOutcome { file: string; count: number; skipped: number }

/** Five steps of the diverging scale, strongest toward the trait first. */
const BUCKETS = [
  { min: 0.5, color: 'charts.red' }, { min: 0.15, color: 'charts.orange' }, { min: -0.15, color: 'descriptionForeground' },
  { min: -0.5, color: 'charts.blue' }, { min: -Infinity, color: 'charts.purple' },
];

export class ScreeningInline implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly types = BUCKETS.map((b) => vscode.window.createTextEditorDecorationType({
    // Before the line: dataset rows are long, so a badge after them would sit off screen.
    before: { margin: '0 1.5em 0 0', color: new vscode.ThemeColor(b.color), fontWeight: 'bold' },
  }));
  /** Sorted views: their lines and the run they came from. */
  private readonly views = new Map<string, { run: ScreeningRun; lines: ScreenedLine[] }>();
  private readonly cache = new Map<string, ScreeningRun | null>();
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private readonly subs: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly s: InlineServices, private readonly docs: VirtualDocs) {
    const refreshAll = () => { this.cache.clear(); this.lensesChanged.fire(); vscode.window.visibleTextEditors.forEach((e) => this.decorate(e)); };
    this.subs.push(
      vscode.window.onDidChangeVisibleTextEditors((eds) => eds.forEach((e) => this.decorate(e))),
      // An edit changes the text's sha256 (and so whether a run matches): re-check once typing pauses.
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (!e.document.fileName.toLowerCase().endsWith('.jsonl')) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => { for (const ed of vscode.window.visibleTextEditors) if (ed.document === e.document) this.decorate(ed); this.lensesChanged.fire(); }, 300);
      }),
      { dispose: () => clearTimeout(this.timer) },
      // A screening run that finishes while its dataset is open: decorate it then.
      s.jobs.onDidChange(() => { if (s.jobs.active().length === 0) refreshAll(); }),
    );
    vscode.window.visibleTextEditors.forEach((e) => this.decorate(e));
  }

  /** The finished screening run of this document's exact text, if any. */
  runFor(doc: vscode.TextDocument): ScreeningRun | undefined {
    if (doc.uri.scheme !== 'file' || !doc.fileName.toLowerCase().endsWith('.jsonl')) return undefined;
    const root = this.s.locations.workspaceDataFolder();
    if (!root) return undefined;
    const sha = createHash('sha256').update(doc.getText()).digest('hex');
    if (!this.cache.has(sha)) {
      if (this.cache.size > 64) this.cache.clear(); // one entry per edited version of a file: keep it bounded
      this.cache.set(sha, findScreeningRun(path.join(root, 'runs'), sha) ?? null);
    }
    return this.cache.get(sha) ?? undefined;
  }

  /** Each decorated line with its text and colour (the same list the editor gets; exposed for tests). */
  decorationsFor(doc: vscode.TextDocument): { line: number; text: string; color: string }[] {
    const view = this.views.get(doc.uri.toString());
    const run = view?.run ?? this.runFor(doc);
    if (!run) return [];
    const lines = view ? view.lines.map((l, i) => ({ ...l, line: i })) : screenedLines(doc.getText(), run);
    const scale = deltaPScale(lines);
    return lines.filter((l) => l.line < doc.lineCount).map((l) => {
      const d = l.deltaP;
      if (d === null || !Number.isFinite(d)) return { line: l.line, text: 'ΔP –', color: 'descriptionForeground' };
      const x = scale(d);
      const k = Math.max(1, Math.round(Math.abs(x) * 5));
      const bar = '▮'.repeat(k) + '▯'.repeat(5 - k); // a fixed width, so the rows stay aligned
      return { line: l.line, text: `ΔP ${d >= 0 ? '+' : ''}${d.toFixed(3)} ${bar}`, color: BUCKETS.find((b) => x >= b.min)!.color };
    });
  }

  private decorate(editor: vscode.TextEditor): void {
    const items = this.decorationsFor(editor.document);
    if (items.length === 0 && !this.views.has(editor.document.uri.toString()) && !editor.document.fileName.toLowerCase().endsWith('.jsonl')) return;
    BUCKETS.forEach((b, k) => editor.setDecorations(this.types[k], items.filter((i) => i.color === b.color).map((i) => {
      const start = editor.document.lineAt(i.line).range.start;
      return { range: new vscode.Range(start, start), renderOptions: { before: { contentText: i.text } } };
    })));
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (this.views.has(doc.uri.toString())) return [];
    const run = this.runFor(doc);
    if (!run) return [];
    const r = new vscode.Range(0, 0, 0, 0);
    const d = run.datasetDeltaP;
    const uri = doc.uri.toString();
    return [
      new vscode.CodeLens(r, { title: `$(graph) ΔP screening: ${run.trait} at layer ${run.layer} on ${run.model}@${run.revision}; dataset ΔP ${d === null ? '–' : `${d >= 0 ? '+' : ''}${d.toFixed(3)}`} over ${run.deltaP.size} samples`,
        command: 'revealFileInOS', arguments: [vscode.Uri.file(run.runDir)], tooltip: run.runDir }),
      new vscode.CodeLens(r, { title: '$(sort-precedence) Sort by ΔP', command: 'personaLab.sortByDeltaP', arguments: [uri] }),
      new vscode.CodeLens(r, { title: '$(export) Export above/below threshold…', command: 'personaLab.exportByThreshold', arguments: [{ uri }] }),
    ];
  }

  /** Opens the samples sorted by ΔP (largest first) as a read-only JSONL beside the file. */
  async sort(arg?: string | vscode.Uri): Promise<{ document: string; ids: string[] } | undefined> {
    const doc = await this.document(arg);
    const run = this.runFor(doc);
    if (!run) throw new Error(`${path.basename(doc.fileName)} has no finished screening run for its current text: run "Persona Lab: Screen Dataset…" on it`);
    const lines = sortedByDeltaP(doc.getText(), run);
    const raw = doc.getText().split(/\r?\n/);
    const uri = vscode.Uri.from({ scheme: INLINE_SCHEME, path: `/sorted/${path.basename(doc.fileName, '.jsonl')} by ΔP.jsonl` });
    this.views.set(uri.toString(), { run, lines });
    this.docs.set(uri, `${lines.map((l) => raw[l.line]).join('\n')}\n`);
    const shown = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { viewColumn: vscode.ViewColumn.Beside, preview: true });
    this.decorate(shown);
    return { document: uri.toString(), ids: lines.map((l) => l.id) };
  }

  /** Writes the samples with ΔP ≥ threshold (above) or < threshold (below) to a new JSONL and opens it. */
  async export(args: ExportArgs = {}): Promise<ExportOutcome | undefined> {
    const doc = await this.document(args.uri);
    const run = this.runFor(doc);
    if (!run) throw new Error(`${path.basename(doc.fileName)} has no finished screening run for its current text: run "Persona Lab: Screen Dataset…" on it`);
    const side = args.side ?? (await vscode.window.showQuickPick([
      { label: 'Above the threshold', description: 'ΔP ≥ t: the samples that pull toward the trait', side: 'above' as const },
      { label: 'Below the threshold', description: 'ΔP < t: the rest', side: 'below' as const },
    ], { title: `Export which ${run.trait} samples?` }))?.side;
    if (!side) return undefined;
    let threshold = args.threshold;
    if (threshold === undefined) {
      const text = await vscode.window.showInputBox({ title: `Export samples ${side === 'above' ? 'with ΔP ≥' : 'with ΔP <'} which threshold?`, value: (run.datasetDeltaP ?? 0).toFixed(3),
        prompt: `dataset ΔP ${run.datasetDeltaP?.toFixed(3) ?? '–'} (the mean)`, validateInput: (t) => { const v = parseNumberField(t, 'Threshold'); return typeof v === 'string' ? v : undefined; } });
      if (text === undefined) return undefined;
      threshold = parseNumberField(text, 'Threshold') as number;
    }
    const out = samplesByThreshold(doc.getText(), run, threshold, side);
    if (out.count === 0) throw new Error(`no sample has ΔP ${side === 'above' ? '≥' : '<'} ${threshold}; nothing was written`);
    const base = doc.fileName.replace(/\.jsonl$/i, '');
    let file = args.output;
    if (!file) {
      file = (await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(`${base}.${side}-${threshold}.jsonl`), filters: { 'JSON Lines': ['jsonl'] }, title: `Export ${out.count} samples` }))?.fsPath;
      if (!file) return undefined;
    }
    if (path.resolve(file) === path.resolve(doc.fileName)) throw new Error('choose another file: the export would overwrite the screened dataset');
    writeFileSync(file, out.jsonl);
    this.s.log.info(`Exported ${out.count} samples of ${doc.fileName} with ΔP ${side === 'above' ? '≥' : '<'} ${threshold} to ${file}${out.skipped ? ` (${out.skipped} without a ΔP left out)` : ''}`);
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false, viewColumn: vscode.ViewColumn.Beside });
    return { file, count: out.count, skipped: out.skipped };
  }

  private async document(arg?: string | vscode.Uri): Promise<vscode.TextDocument> {
    const uri = arg ? (typeof arg === 'string' ? vscode.Uri.parse(arg) : arg) : vscode.window.activeTextEditor?.document.uri;
    if (!uri) throw new Error('open a screened JSONL dataset first');
    return vscode.workspace.openTextDocument(uri);
  }

  dispose(): void {
    this.subs.forEach((d) => d.dispose());
    this.types.forEach((t) => t.dispose());
    this.lensesChanged.dispose();
  }
}
