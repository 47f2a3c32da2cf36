/**
 * Steering Playground: a webview panel (webview/playground/main.ts, on the webview kit) where a prompt is answered
 * n times without steering and n times steered, side by side, streamed token by token. Steering is one or more rows
 * (vector, layer ℓ, coef) applied together, with the worker's positions (response/prompt/all) and scaling
 * (raw/unit/target-norm). Both columns are ONE generate request on the session's worker (JobRunner.client()):
 * rows 0..n−1 baseline, rows n..2n−1 steered, row i and row n+i with the same seed (seed + i), so the only difference
 * between the columns is the steering. Each steered answer shows the norm the worker reports it actually added per
 * layer. After a run every answer gets a per-token heat-map: the worker's `project` (the monitor's projection of
 * hidden_states[ℓ] onto unit(v[ℓ]), an unsteered forward over prompt + answer) for each steering row. "Judge these
 * answers" scores them with the configured judge (the rubric judge on the toy model, where it also runs by itself;
 * the LLM judge with the SecretStorage key otherwise); "Save as prompt file" appends the prompt with the settings to
 * `prompts/playground-<model>-<revision>.jsonl` in the workspace folder.
 *
 * One panel per checkpoint (model@revision); the palette command asks which checkpoint; the panel comes back after a
 * window reload (WebviewPanelSerializer over the { source, form } its webview saved). Messages are typed and parsed
 * in webview/playground/protocol.ts. The command resolves once the panel has drawn its form (and, when given a
 * prompt, once it has drawn the finished generation), so tests can wait for it.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { panelHtml, webviewOptions } from './webview/kit.js';
import { createJudge } from '../core/judge/factory.js';
import type { Judge, JudgeRequest } from '../core/judge/types.js';
import { identifyModel, type ModelIdentity } from '../core/models.js';
import { evalPrompt } from '../core/prompts.js';
import { findTraitFile, samplerPresetFor } from '../core/jobs/defaults.js';
import { SAMPLER_PRESETS } from '../core/sampling.js';
import { modelFolderName, Workspace } from '../core/storage/workspace.js';
import { isToyModelPath } from '../core/toy/paths.js';
import { loadTraitFile } from '../core/traits/load.js';
import { assertVectorFits, readVectorFile, vectorRow, VECTOR_KINDS, type PersonaVector } from '../core/vectors/file.js';
import type { InferenceClient } from '../engine/client.js';
import { isCancellation } from '../engine/errors.js';
import { encodeF32, type GenerateResult, type GenerateRow, type ModelInfo as LoadedModelInfo, type PromptInput } from '../engine/protocol.js';
import {
  parseFromWebview, parseState, type Answer, type Column, type ColumnMeans, type FromWebview, type GenerationRequest, type HeatRow,
  type PlaygroundVector, type RenderedCounts, type Score, type SteerRow, type ToWebview,
} from '../../webview/playground/protocol.js';
import { judgeSpecWithSecret, modelLoadSettings } from './config.js';
import type { JobRunner } from './jobs.js';
import { Picks } from './jobs/picks.js';
import type { Locations } from './locations.js';
import type { DiscoveredModel } from './modelDiscovery.js';
import { columnMeans, promptFileLine, steerSpecs, tokenHeat, validateRequest } from './playground/request.js';
import { FileTreeItem } from './views/fileTree.js';

export const PLAYGROUND_VIEW_TYPE = 'personaLab.playground';

/** Arguments for scripted use (tests, other commands). Without `prompt` the panel only opens. */
export interface PlaygroundArgs extends Partial<Omit<GenerationRequest, 'steer'>> {
  /** A checkpoint folder (default: the vector's model, else the playground shown last, else a pick). */
  modelPath?: string;
  revision?: string;
  /** One steering row: a trait name (a vector of this model in the workspace folder) or a vector file path … */
  vector?: string;
  layer?: number;
  coef?: number;
  /** … or several rows (vector as above). */
  steer?: Partial<SteerRow>[];
  /** With a prompt, generate at once (default true). */
  run?: boolean;
  /** After the run: score the answers with the configured judge (as the panel's "Judge these answers"). */
  judge?: boolean;
  /** After the run: save the prompt as a prompt file (as the panel's "Save as prompt file"). */
  savePromptFile?: boolean;
}

export interface PlaygroundRun {
  runId: string;
  request: GenerationRequest;
  /** Per steering row: the vector's trait. */
  traits: string[];
  cancelled: boolean;
  baseline: Answer[];
  steered: Answer[];
  heatRows: HeatRow[];
  means?: Record<Column, ColumnMeans>;
  judge?: string;
  /** What the webview drew (its 'done' message). */
  rendered: RenderedCounts;
}

/**
 * What the command returns: the panel as drawn (its vectors, the form's values, the notice shown when there are no
 * vectors) and, when a prompt was given, the generation as drawn — or the error the panel shows instead.
 */
export interface PlaygroundOutcome {
  model: string;
  revision: string;
  /** Trait names of the vectors offered. */
  vectors: string[];
  form: GenerationRequest;
  notice?: string;
  run?: PlaygroundRun;
  /** With `judge`: the scores as the panel drew them. */
  judged?: { judge: string; scores: Score[]; means: Record<Column, ColumnMeans>; drawn: { scored: number; means: number } };
  /** With `savePromptFile`: the file written and its line count. */
  saved?: { file: string; lines: number };
  error?: string;
}

export interface PlaygroundServices {
  log: vscode.LogOutputChannel;
  locations: Locations;
  jobs: JobRunner;
  extensionUri: vscode.Uri;
  listModels(): DiscoveredModel[];
  /** Remembers the last checkpoint picked (workspaceState). */
  memory: vscode.Memento;
  /** The judge's API key ("Set Judge API Key"). */
  secrets?: vscode.SecretStorage;
}

interface Target { path: string; revision?: string; id: ModelIdentity; toy: boolean }

const READY_TIMEOUT_MS = 60_000;
const make = (p: string, revision?: string): Target => ({ path: p, revision, id: identifyModel(p, revision), toy: isToyModelPath(p) });
const sourceOf = (t: Target) => JSON.stringify({ path: t.path, revision: t.revision });

/**
 * One playground panel per checkpoint (model@revision): opening it again for the same checkpoint reveals it and applies
 * the new arguments; a ▷ on a vector of another revision opens that revision's own panel beside it.
 */
export class Playground implements vscode.Disposable {
  private readonly panels = new Map<string, PlaygroundPanel>();
  private readonly subs: vscode.Disposable[] = [];
  /** The checkpoint shown last (scripted calls without a model reuse it). */
  private lastKey: string | undefined;

  constructor(private readonly s: PlaygroundServices) {
    // After a window reload VS Code hands back each open playground with the state its webview saved.
    this.subs.push(vscode.window.registerWebviewPanelSerializer(PLAYGROUND_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => {
        const saved = parseState(state);
        let src: { path?: unknown; revision?: unknown } = {};
        try { src = saved ? JSON.parse(saved.source) as typeof src : {}; } catch { /* not ours */ }
        const root = this.s.locations.workspaceDataFolder();
        if (!vscode.workspace.isTrusted) {
          // Restricted Mode: nothing loads a model (the command is refused the same way, src/extension/commands.ts).
          this.s.log.info('Not restoring the Steering Playground: it loads a model, and this workspace is not trusted (Restricted Mode).');
          panel.dispose();
          return;
        }
        if (typeof src.path !== 'string' || !existsSync(path.join(src.path, 'config.json')) || !root) {
          this.s.log.info(`Not restoring a Steering Playground: ${typeof src.path === 'string' ? `${src.path} is no longer a checkpoint` : 'it saved no checkpoint'}`);
          panel.dispose();
          return;
        }
        const target = make(src.path, typeof src.revision === 'string' ? src.revision : undefined);
        // The webview loads when VS Code shows it (maybe much later than now): its 'ready' draws the saved form.
        this.panelFor(target, panel).restore(new Workspace(root), target, saved?.form);
      },
    }));
  }

  async open(arg?: FileTreeItem | PlaygroundArgs): Promise<PlaygroundOutcome | undefined> {
    const root = this.s.locations.workspaceDataFolder();
    if (!root) { void vscode.window.showErrorMessage('The Steering Playground reads persona vectors from the workspace folder. Open a folder first (File > Open Folder).'); return undefined; }
    const args: PlaygroundArgs = arg instanceof FileTreeItem ? { vector: arg.entry.path } : arg ?? {};
    for (const v of [args.vector, ...(args.steer ?? []).map((r) => r.vector)]) {
      if (v && /[\\/]/.test(v) && !v.endsWith('.safetensors') && !v.endsWith('.pt')) throw new Error(`${v} is not a vector file (.safetensors or upstream .pt)`);
    }
    const target = await this.resolveTarget(new Workspace(root), args, arg === undefined);
    if (!target) return undefined;
    return this.panelFor(target).show(new Workspace(root), target, args);
  }

  private panelFor(target: Target, adopt?: vscode.WebviewPanel): PlaygroundPanel {
    const key = `${path.resolve(target.path)}@${target.revision ?? ''}`;
    this.lastKey = key;
    let panel = this.panels.get(key);
    if (panel && adopt) { adopt.dispose(); return panel; }
    if (!panel) {
      const created = new PlaygroundPanel(this.s, adopt);
      panel = created;
      this.panels.set(key, created);
      created.onDidDispose(() => { if (this.panels.get(key) === created) this.panels.delete(key); });
    }
    return panel;
  }

  /**
   * The checkpoint: given; or the one a workspace vector file was extracted on; or (scripted, without a model) the
   * playground shown last; or a pick — the palette command always asks, offering the last pick first, then `main`.
   */
  private async resolveTarget(ws: Workspace, args: PlaygroundArgs, fromPalette: boolean): Promise<Target | undefined> {
    if (args.modelPath) return make(args.modelPath, args.revision);
    const vectorsRoot = path.join(ws.root, 'vectors');
    const file = [args.vector, ...(args.steer ?? []).map((r) => r.vector)].find((v) => v && path.isAbsolute(v));
    if (file && path.dirname(path.dirname(path.dirname(file))) === vectorsRoot) {
      // vectors/<model>/<revision>/<trait>.safetensors: find the checkpoint whose folder names match.
      const revDir = path.basename(path.dirname(file)), modelDir = path.basename(path.dirname(path.dirname(file)));
      for (const m of this.s.listModels()) {
        for (const r of m.revisions.length ? m.revisions : [{ name: 'main', path: m.path }]) {
          const t = r.path ? make(r.path) : make(m.path, r.name);
          if (modelFolderName(t.id.name) === modelDir && modelFolderName(t.id.revision) === revDir) return t;
        }
      }
      throw new Error(`${file} was extracted on ${modelDir}@${revDir}, which is not in the Models view: add its checkpoint folder with "Persona Lab: Add Model Folder" (or pass modelPath)`);
    }
    if (!fromPalette && this.lastKey) {
      const last = this.panels.get(this.lastKey);
      if (last?.target) return last.target;
    }
    const picked = await new Picks(this.s.memory, 'playground').checkpoint(this.s.listModels(), {}, 'Open the Steering Playground on which checkpoint?');
    return picked ? make(picked.path, picked.revision) : undefined;
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    this.panels.clear();
    for (const d of this.subs) d.dispose();
  }
}

type PanelEvent = FromWebview | { type: 'run-failed'; runId?: string; message: string };

interface RunState { seq: number; id: string; abort: AbortController }

/** A finished run, kept for the command's answer, "Judge these answers" and the heat-map. */
interface FinishedRun extends Omit<PlaygroundRun, 'rendered'> { seq: number; prompt: string; answers: Answer[] }

class PlaygroundPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly events = new vscode.EventEmitter<PanelEvent>();
  private readonly disposed = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposed.event;
  private readonly ready: Promise<void>;
  private isDisposed = false;
  private ws: Workspace | undefined;
  target: Target | undefined;
  private vectors: PlaygroundVector[] = [];
  private notice: string | undefined;
  /** The loaded model, for one worker client and one checkpoint (key). */
  private model: { client: InferenceClient; key: string; info: Promise<LoadedModelInfo> } | undefined;
  private run: RunState | undefined;
  private seq = 0;
  /** Finished runs by id (the last few). */
  private readonly finished = new Map<string, FinishedRun>();
  /** The form a restored panel's webview saved, drawn at its 'ready'. */
  private restored: Partial<GenerationRequest> | undefined;

  constructor(private readonly s: PlaygroundServices, adopt?: vscode.WebviewPanel) {
    this.panel = adopt ?? vscode.window.createWebviewPanel(PLAYGROUND_VIEW_TYPE, 'Steering Playground', vscode.ViewColumn.Active,
      webviewOptions(s.extensionUri, true));
    if (adopt) this.panel.webview.options = webviewOptions(s.extensionUri, true);
    this.panel.iconPath = vscode.Uri.joinPath(s.extensionUri, 'media', 'persona-lab.svg');
    this.ready = new Promise<void>((resolve) => {
      const sub = this.events.event((m) => { if (m.type === 'ready') { sub.dispose(); resolve(); } });
    });
    this.panel.webview.onDidReceiveMessage((raw: unknown) => {
      const m = parseFromWebview(raw);
      if (m) this.onMessage(m);
      else this.s.log.warn('Steering Playground: ignored a malformed message from the webview');
    });
    this.panel.onDidDispose(() => this.dispose());
    // The kit's shell (src/extension/webview/kit.ts): strict CSP, dist/webview/playground.{js,css}.
    this.panel.webview.html = panelHtml(this.panel.webview, s.extensionUri, 'playground', 'Steering Playground');
  }

  /** Shows `target` with `args` applied; resolves when the webview drew it (and, with a prompt, the generation). */
  async show(ws: Workspace, target: Target, args: PlaygroundArgs & { form?: Partial<GenerationRequest> }): Promise<PlaygroundOutcome> {
    this.ws = ws;
    this.panel.reveal();
    await this.until(this.ready, READY_TIMEOUT_MS, 'the Steering Playground did not start within 60 s (see the webview developer tools)');
    const after = this.seq;
    const autoRun = Boolean(args.prompt) && args.run !== false;
    const initialized = this.next<Extract<FromWebview, { type: 'initialized' }>>((m) => m.type === 'initialized');
    const done = autoRun ? this.next((m) => (m.type === 'done' && (this.finished.get(m.runId)?.seq ?? 0) > after) || m.type === 'run-failed' || m.type === 'error') : undefined;
    done?.catch(() => undefined); // awaited below; keep an early rejection from going unhandled
    await this.init(target, args, autoRun);
    const drawn = await this.until(initialized, READY_TIMEOUT_MS, 'the Steering Playground did not draw its form within 60 s');
    const outcome: PlaygroundOutcome = { model: target.id.name, revision: target.id.revision, vectors: this.vectors.map((v) => v.trait), form: drawn.form, notice: this.notice };
    if (!done) return outcome;
    const ev = await done;
    if (ev.type === 'run-failed' || ev.type === 'error') return { ...outcome, error: ev.message };
    if (ev.type !== 'done') throw new Error(`unexpected ${ev.type}`);
    const { seq: _seq, prompt: _prompt, answers: _answers, ...rest } = this.finished.get(ev.runId)!;
    const out: PlaygroundOutcome = { ...outcome, run: { ...rest, rendered: ev.rendered } };
    if (args.judge && !ev.cancelled) {
      const drawnJudge = this.next<Extract<FromWebview, { type: 'judge-drawn' }>>((m) => m.type === 'judge-drawn' && m.runId === ev.runId);
      drawnJudge.catch(() => undefined);
      const judged = await this.judgeRun(ev.runId);
      if ('error' in judged) return { ...out, error: judged.error };
      const d = await this.until(drawnJudge, READY_TIMEOUT_MS, 'the Steering Playground did not draw the judge scores within 60 s');
      out.judged = { ...judged, drawn: { scored: d.scored, means: d.means } };
    }
    if (args.savePromptFile) {
      const saved = this.savePrompts(rest.request);
      if ('error' in saved) return { ...out, error: saved.error };
      out.saved = saved;
    }
    return out;
  }

  /** A panel VS Code restored after a reload: the webview's 'ready' (whenever it comes) draws `form` on `target`. */
  restore(ws: Workspace, target: Target, form: Partial<GenerationRequest> | undefined): void {
    this.ws = ws;
    this.target = target;
    this.restored = form;
    this.panel.title = `Steering Playground: ${target.id.name}@${target.id.revision}`;
  }

  /** Loads the model (if needed), lists the vectors, and sends the form's content; a failure is shown in the panel too. */
  private async init(target: Target, args: PlaygroundArgs & { form?: Partial<GenerationRequest> }, autoRun: boolean): Promise<void> {
    if (this.target && this.target.path !== target.path) this.run?.abort.abort(new Error('the playground switched model'));
    this.target = target;
    const label = `${target.id.name}@${target.id.revision}`;
    this.panel.title = `Steering Playground: ${label}`;
    this.post({ type: 'status', text: `Loading ${label}…` });
    try {
      await this.sendForm(target, label, args, autoRun);
    } catch (e) {
      this.post({ type: 'error', message: errorMessage(e) });
      throw e;
    }
  }

  /** A vector named by trait or by path: one of this checkpoint's, or a file added to the list. */
  private findVector(name: string, label: string, dir: string): string {
    const asPath = path.resolve(name);
    const found = this.vectors.find((v) => v.id === asPath || v.trait === name);
    if (found) return found.id;
    if (/[\\/]/.test(name) && existsSync(asPath)) {
      const trait = path.basename(asPath).replace(/\.(safetensors|pt)$/, '').replace(/_(prompt_avg|response_avg|prompt_last)_diff$/, '');
      this.vectors.push({ id: asPath, trait, label: `${trait} (${asPath})` });
      return asPath;
    }
    throw new Error(`no vector "${name}" for ${label}: vectors are read from ${dir}`);
  }

  private async sendForm(target: Target, label: string, args: PlaygroundArgs & { form?: Partial<GenerationRequest> }, autoRun: boolean): Promise<void> {
    let info: LoadedModelInfo;
    try {
      info = (await this.loadModel()).info;
    } catch (e) {
      throw new Error(`could not load ${label}: ${errorMessage(e)}`, { cause: e });
    }
    const dir = this.ws!.vectorDir(target.id.name, target.id.revision);
    this.vectors = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort()
      .map((f) => ({ id: path.join(dir, f), trait: f.slice(0, -'.safetensors'.length), label: f.slice(0, -'.safetensors'.length) })) : [];
    const L = info.config.numLayers;
    const preset = SAMPLER_PRESETS[samplerPresetFor(target.toy, info.hasChatTemplate)];
    // The toy model steers best at its last layer (models/toy-persona/manifest.json recommendedSteering); upstream
    // persona_vectors steers Qwen2.5-7B at layer 20 of 28 with coef 2.
    const row: SteerRow = { vector: this.vectors[0]?.id ?? '', layer: target.toy ? Math.min(4, L) : Math.round((L * 20) / 28), coef: target.toy ? 4 : 2 };
    const defaults: GenerationRequest = {
      prompt: '', steer: [row], positions: 'response', scaling: 'raw', targetNorm: 1,
      n: 4, seed: 0, temperature: preset.temperature, maxTokens: target.toy ? preset.maxNewTokens : Math.min(preset.maxNewTokens, 128),
    };
    const fields: Partial<GenerationRequest> = { ...(args.form ?? {}) };
    if (fields.steer) fields.steer = fields.steer.filter((r) => this.vectors.some((v) => v.id === r.vector)); // a restored form: vectors that still exist
    if (fields.steer?.length === 0) delete fields.steer;
    for (const k of ['prompt', 'positions', 'scaling', 'targetNorm', 'n', 'seed', 'temperature', 'maxTokens'] as const) if (args[k] !== undefined) (fields as Record<string, unknown>)[k] = args[k];
    if (args.steer?.length) {
      fields.steer = args.steer.map((r) => ({ vector: r.vector ? this.findVector(r.vector, label, dir) : row.vector, layer: r.layer ?? row.layer, coef: r.coef ?? row.coef }));
    } else if (args.vector !== undefined || args.layer !== undefined || args.coef !== undefined) {
      fields.steer = [{ vector: args.vector ? this.findVector(args.vector, label, dir) : row.vector, layer: args.layer ?? row.layer, coef: args.coef ?? row.coef }];
    }
    const notice = this.notice = this.vectors.length === 0
      ? `No persona vectors for ${label} yet. Run "Persona Lab: Extract Persona Vector…" on this checkpoint first (or \`persona-lab extract\`); the playground reads ${dir}.`
      : undefined;
    this.post({
      type: 'init', model: { name: target.id.name, revision: target.id.revision, path: target.path, numLayers: L, toy: target.toy },
      vectors: this.vectors, vectorDir: dir, defaults, preset: Object.keys(fields).length ? fields : undefined, autoRun: autoRun && !notice, notice,
      source: sourceOf(target),
    });
    if (autoRun && notice) this.events.fire({ type: 'run-failed', message: notice });
  }

  /** The target's model in the session's worker, loaded once; a new worker (the old one died) or target reloads. */
  private async loadModel(): Promise<{ client: InferenceClient; info: LoadedModelInfo }> {
    const t = this.target!;
    const client = await this.s.jobs.client();
    const key = `${t.path}@${t.revision ?? ''}`;
    if (this.model?.client !== client || this.model.key !== key) {
      this.unloadModel();
      const info = client.loadModel({ path: t.path, revision: t.revision, ...modelLoadSettings() });
      const entry = { client, key, info };
      this.model = entry;
      info.then((i) => this.s.log.info(`Steering Playground: loaded ${t.id.name}@${t.id.revision} as ${i.modelId} (${i.executionProvider}, ${Math.round(i.loadMs)} ms)`),
        () => { if (this.model === entry) this.model = undefined; });
    }
    return { client, info: await this.model!.info };
  }

  private unloadModel(): void {
    const m = this.model;
    this.model = undefined;
    void m?.info.then((i) => m.client.unloadModel(i.modelId)).catch(() => undefined);
  }

  private onMessage(m: FromWebview): void {
    this.events.fire(m);
    switch (m.type) {
      case 'generate': void this.generate(m.request); break;
      case 'stop': this.run?.abort.abort(new Error('stopped')); break;
      case 'extract': void this.extract(); break;
      case 'judge': void this.judgeRun(m.runId); break;
      case 'save-prompts': {
        const r = this.savePrompts(m.request);
        if (!('error' in r)) {
          void vscode.window.showInformationMessage(`Saved the prompt to ${path.basename(r.file)} (${r.lines} prompt${r.lines === 1 ? '' : 's'}).`, 'Open').then((a) => {
            if (a === 'Open') void vscode.window.showTextDocument(vscode.Uri.file(r.file));
          });
        }
        break;
      }
      case 'error': this.s.log.error(`Steering Playground (webview): ${m.message}`); break;
      case 'ready': {
        // A restored panel's webview, or a reloaded one (developer tools), asks: send the (saved) form.
        const form = this.restored;
        this.restored = undefined;
        if (this.target) void this.init(this.target, { form }, false).catch((e: unknown) => this.s.log.error(`Steering Playground: ${errorMessage(e)}`));
        break;
      }
      default: break;
    }
  }

  /** Runs the Extract command on this checkpoint, then lists the vectors again. */
  private async extract(): Promise<void> {
    const t = this.target;
    if (!t) return;
    await vscode.commands.executeCommand('personaLab.extractVector', { modelPath: t.path, revision: t.revision });
    if (!this.isDisposed && this.target === t) await this.init(t, {}, false).catch((e: unknown) => this.s.log.error(`Steering Playground: ${errorMessage(e)}`));
  }

  private async generate(raw: GenerationRequest): Promise<void> {
    this.run?.abort.abort(new Error('superseded'));
    const run: RunState = { seq: ++this.seq, id: `run-${this.seq}`, abort: new AbortController() };
    this.run = run;
    const t0 = Date.now();
    try {
      const { client, info } = await this.loadModel();
      const req = validateRequest(raw, info.config.numLayers);
      const t = this.target!;
      // Every row's vector: listed for this checkpoint, of this model's shape, its response_avg (else first) kind.
      const files = new Map<string, PersonaVector>();
      const rows = req.steer.map((s, i) => {
        const vector = this.vectors.find((v) => v.id === s.vector);
        if (!vector) throw new Error(this.vectors.length ? `pick a persona vector${req.steer.length > 1 ? ` (steering row ${i + 1})` : ''}` : 'no persona vectors yet: run "Persona Lab: Extract Persona Vector…" first');
        let file = files.get(vector.id);
        if (!file) {
          file = readVectorFile(vector.id);
          assertVectorFits(file, vector.id, { name: `${t.id.name}@${t.id.revision}`, ...info.config });
          files.set(vector.id, file);
        }
        const kind = file.data.response_avg ? 'response_avg' : VECTOR_KINDS.find((k) => file.data[k])!;
        return { file: vector.id, trait: file.metadata.trait || vector.trait, values: vectorRow(file, kind, s.layer) };
      });
      const steer = steerSpecs(req, rows);
      const traits = rows.map((r) => r.trait);
      const prompt = evalPrompt(info.hasChatTemplate ? 'chat' : 'base', req.prompt);
      const genRows: GenerateRow[] = [
        ...Array.from({ length: req.n }, (_, i) => ({ prompt, seed: req.seed + i })),
        ...Array.from({ length: req.n }, (_, i) => ({ prompt, seed: req.seed + i, steer })),
      ];
      const preset = SAMPLER_PRESETS[samplerPresetFor(t.toy, info.hasChatTemplate)];
      const where = (row: number) => ({ column: (row < req.n ? 'baseline' : 'steered') as Column, index: row % req.n });
      this.post({ type: 'started', runId: run.id, request: req, traits, scored: t.toy });
      const described = req.steer.map((s, i) => `${traits[i]} ℓ=${s.layer} c=${s.coef}`).join(' + ');
      this.s.log.info(`Steering Playground ${run.id}: ${described} (${req.positions}, ${req.scaling}${req.scaling === 'target-norm' ? ` ${req.targetNorm}` : ''}), n=${req.n}, seeds ${req.seed}…${req.seed + req.n - 1}`);

      // Token deltas are sent in small batches: one message per ~30 ms instead of one per token. Every token's delta
      // (also '') is kept per row: the heat-map colours the answer token by token.
      const texts = genRows.map(() => '');
      const pieces: string[][] = genRows.map(() => []);
      let pending: { column: Column; index: number; text: string }[] = [];
      let timer: ReturnType<typeof setTimeout> | undefined;
      const flush = () => {
        timer = undefined;
        if (pending.length) this.post({ type: 'tokens', runId: run.id, deltas: pending });
        pending = [];
      };
      let cancelled = false;
      let result: GenerateResult | undefined;
      try {
        result = await client.generate({ modelId: info.modelId, rows: genRows, sampling: { ...preset, temperature: req.temperature, maxNewTokens: req.maxTokens } }, {
          signal: run.abort.signal,
          onToken: (n) => {
            pieces[n.row].push(n.text);
            if (!n.text) return;
            texts[n.row] += n.text;
            pending.push({ ...where(n.row), text: n.text });
            timer ??= setTimeout(flush, 30);
          },
        });
      } catch (e) {
        if (!(run.abort.signal.aborted || isCancellation(e))) throw e;
        cancelled = true;
      } finally {
        clearTimeout(timer);
        flush();
      }
      const answers: Answer[] = genRows.map((r, i) => ({
        ...where(i), seed: r.seed!, text: result?.rows[i].text ?? texts[i], finishReason: result?.rows[i].finishReason ?? 'cancelled', tokens: result?.rows[i].tokenIds.length ?? 0,
        ...(result?.rows[i].steeringApplied ? { applied: result.rows[i].steeringApplied } : {}),
      }));
      const heatRows: HeatRow[] = req.steer.map((s, i) => ({ trait: traits[i], layer: s.layer, vector: s.vector }));
      const tHeat = Date.now();
      if (result && !cancelled) await this.addHeat(client, info.modelId, prompt, result, pieces, answers, rows, req, run.abort.signal);
      const heatMs = Date.now() - tHeat;
      let means: Record<Column, ColumnMeans> | undefined;
      let judgeId: string | undefined;
      const fin: FinishedRun = {
        seq: run.seq, runId: run.id, request: req, traits, cancelled, prompt: req.prompt, answers, heatRows,
        baseline: answers.filter((a) => a.column === 'baseline'), steered: answers.filter((a) => a.column === 'steered'),
      };
      this.finished.set(run.id, fin);
      for (const id of [...this.finished.keys()].slice(0, -4)) this.finished.delete(id); // a command waits for the latest only
      // The toy model's rubric judge is offline and instant: its scores come with the answers.
      if (t.toy && !cancelled) {
        const scored = await this.score(fin, run.abort.signal);
        means = fin.means = scored.means;
        judgeId = fin.judge = scored.judge;
      }
      this.post({ type: 'finished', runId: run.id, cancelled, answers, heatRows, means, judge: judgeId, tokensPerSecond: result?.tokensPerSecond ?? 0, elapsedMs: Date.now() - t0 });
      this.s.log.info(`Steering Playground ${run.id}: ${cancelled ? 'stopped' : 'done'} in ${Date.now() - t0} ms (generation ${Math.round(result?.elapsedMs ?? 0)} ms, heat-map ${heatMs} ms)`
        + (means ? `; mean ${traits[0]} baseline ${fmt(means.baseline.trait)}, steered ${fmt(means.steered.trait)}; coherence ${fmt(means.baseline.coherence)} → ${fmt(means.steered.coherence)}` : ''));
    } catch (e) {
      const message = errorMessage(e);
      this.s.log.warn(`Steering Playground ${run.id}: ${message}`);
      this.post({ type: 'error', runId: run.id, message });
      this.events.fire({ type: 'run-failed', runId: run.id, message });
    } finally {
      if (this.run === run) this.run = undefined;
    }
  }

  /**
   * The per-token projection heat-map of every answer: one `project` request over prompt + answer ids (the monitor's
   * unsteered forward), one projection per steering row (its vector's row ℓ). A failure leaves the answers without a
   * heat-map and says why in the log; it never fails the run.
   */
  private async addHeat(client: InferenceClient, modelId: string, prompt: PromptInput, result: GenerateResult, pieces: string[][], answers: Answer[],
    rows: { values: Float32Array }[], req: GenerationRequest, signal: AbortSignal): Promise<void> {
    const usable = answers.map((a, i) => (result.rows[i].tokenIds.length - (a.finishReason === 'eos' ? 1 : 0) > 0 ? i : -1)).filter((i) => i >= 0);
    if (usable.length === 0) return;
    try {
      const proj = await client.project({
        modelId,
        items: usable.map((i) => ({ prompt, response: { ids: result.rows[i].tokenIds } })),
        vectors: req.steer.map((s, r) => ({ id: `row${r}`, vector: { values: encodeF32(rows[r].values) }, layer: s.layer })),
      }, { signal });
      usable.forEach((i, k) => {
        const it = proj.items[k];
        answers[i].heat = tokenHeat(pieces[i], result.rows[i].tokenIds.length, answers[i].finishReason, it.promptTokens, req.steer.map((_, r) => it.projections[`row${r}`]));
      });
    } catch (e) {
      if (signal.aborted) return;
      this.s.log.warn(`Steering Playground: no per-token projection heat-map: ${errorMessage(e)}`);
    }
  }

  /** The configured judge for this checkpoint: the rubric judge on the toy model, the LLM judge (SecretStorage key) otherwise. */
  private async judgeFor(): Promise<Judge> {
    const t = this.target!;
    // Made afresh each time: the settings or the key may have changed since (the LLM judge's cache is on disk).
    const spec = await judgeSpecWithSecret(t.toy, this.s.secrets);
    return createJudge(spec, this.ws!, { onRetry: (i) => this.s.log.warn(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
  }

  /**
   * Trait (the first steering row's) and coherence scores for every answer of a run, and the column means. The trait's
   * eval_prompt comes from its eval trait file (workspace, then the model's own); without one, or a trait the judge
   * does not know, only coherence is scored.
   */
  private async score(run: FinishedRun, signal?: AbortSignal, given?: Judge): Promise<{ judge: string; scores: Score[]; means: Record<Column, ColumnMeans> }> {
    const judge = given ?? await this.judgeFor();
    const info = await this.model!.info;
    const trait = run.traits[0];
    const modelKind = info.hasChatTemplate ? 'chat' : 'base';
    let evalPrompt: string | undefined;
    try {
      const modelTraitsDir = this.target!.toy ? path.dirname(this.s.locations.embeddedTraitsFolder()) : undefined;
      evalPrompt = loadTraitFile(findTraitFile('eval', trait, { ws: this.ws!, modelTraitsDir })).data.eval_prompt;
    } catch { evalPrompt = undefined; }
    const base = (a: Answer): Omit<JudgeRequest, 'metric'> => ({ trait, evalPrompt, modelKind, question: run.prompt, answer: a.text });
    const coherence = await judge.score(run.answers.map((a) => ({ ...base(a), metric: 'coherence' })), { signal });
    let traitScores: (number | null)[] = [];
    if (evalPrompt || judge.id.startsWith('rubric:')) {
      try { traitScores = await judge.score(run.answers.map((a) => ({ ...base(a), metric: 'trait' })), { signal }); } catch (e) {
        if (signal?.aborted || isCancellation(e)) throw e;
        this.s.log.info(`Steering Playground: no ${trait} score (${errorMessage(e)}); coherence only`);
      }
    } else {
      this.s.log.info(`Steering Playground: no eval trait file for ${trait}, so no trait score (coherence only): put one at ${this.ws!.traitPath('eval', trait)}`);
    }
    run.answers.forEach((a, i) => {
      a.coherence = coherence[i] ?? undefined;
      a.trait = traitScores[i] ?? undefined;
    });
    const scores: Score[] = run.answers.map((a) => ({ column: a.column, index: a.index, trait: a.trait, coherence: a.coherence }));
    return { judge: judge.id, scores, means: columnMeans(run.answers) };
  }

  /** "Judge these answers": scores the run's answers and sends them; the panel shows a failure. */
  private async judgeRun(runId: string): Promise<{ judge: string; scores: Score[]; means: Record<Column, ColumnMeans> } | { error: string }> {
    const run = this.finished.get(runId);
    if (!run) { const error = 'no finished answers to judge: generate first'; this.post({ type: 'error', message: error, keep: true }); return { error }; }
    try {
      const judge = await this.judgeFor();
      this.post({ type: 'judging', runId, judge: judge.id });
      const out = await this.score(run, undefined, judge);
      run.means = out.means;
      run.judge = out.judge;
      this.post({ type: 'judged', runId, ...out });
      this.s.log.info(`Steering Playground ${runId}: judged by ${out.judge}: mean ${run.traits[0]} baseline ${fmt(out.means.baseline.trait)}, steered ${fmt(out.means.steered.trait)}`);
      return out;
    } catch (e) {
      const error = `could not judge the answers: ${errorMessage(e)}`;
      this.s.log.warn(`Steering Playground: ${error}`);
      this.post({ type: 'error', runId, message: error, keep: true });
      return { error };
    }
  }

  /** "Save as prompt file": appends the prompt (with the settings) to prompts/playground-<model>-<revision>.jsonl. */
  private savePrompts(raw: GenerationRequest): { file: string; lines: number } | { error: string } {
    try {
      const t = this.target!;
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      if (!folder) throw new Error('open a workspace folder first');
      const prompt = String(raw.prompt ?? '').trim();
      if (!prompt) throw new Error('type a prompt first');
      const req = { ...raw, prompt };
      const file = path.join(folder, 'prompts', `playground-${modelFolderName(t.id.name)}-${modelFolderName(t.id.revision)}.jsonl`);
      const line = promptFileLine(req, {
        model: t.id.name, revision: t.id.revision,
        traits: req.steer.map((s) => this.vectors.find((v) => v.id === s.vector)?.trait ?? ''),
        vectorFile: (id) => path.relative(folder, id).split(path.sep).join('/'),
      });
      mkdirSync(path.dirname(file), { recursive: true });
      const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
      appendFileSync(file, `${before && !before.endsWith('\n') ? '\n' : ''}${line}\n`);
      const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).length;
      const relative = path.relative(folder, file).split(path.sep).join('/');
      this.post({ type: 'saved', file, relative, lines });
      this.s.log.info(`Steering Playground: saved the prompt to ${relative} (${lines} prompts)`);
      return { file, lines };
    } catch (e) {
      const error = `could not save the prompt file: ${errorMessage(e)}`;
      this.post({ type: 'error', message: error, keep: true });
      return { error };
    }
  }

  private post(m: ToWebview): void {
    if (!this.isDisposed) void this.panel.webview.postMessage(m);
  }

  /** The next event that matches; rejects when the panel closes first. */
  private next<T extends PanelEvent>(match: (m: PanelEvent) => boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const sub = this.events.event((m) => { if (match(m)) { sub.dispose(); gone.dispose(); resolve(m as T); } });
      const gone = this.disposed.event(() => { sub.dispose(); reject(new Error('the Steering Playground was closed')); });
    });
  }

  private until<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); })]).finally(() => clearTimeout(timer));
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.run?.abort.abort(new Error('the playground was closed'));
    this.unloadModel();
    this.disposed.fire();
    this.disposed.dispose();
    this.events.dispose();
    this.panel.dispose();
  }
}

const fmt = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(1));
const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));
