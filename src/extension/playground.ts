/**
 * Steering Playground: a webview panel (webview/playground/main.ts) where a prompt is answered n times without
 * steering and n times steered with a persona vector at one layer and coefficient, side by side, streamed token
 * by token. Both columns are ONE generate request on the session's worker (JobRunner.client()): rows 0..n−1
 * baseline, rows n..2n−1 steered, row i and row n+i with the same seed (seed + i), so the only difference between
 * the columns is the steering. Steering is core's steerCondition (positions 'response', raw coef) with row ℓ of the
 * vector file's response_avg vector; the model is loaded once per checkpoint and kept while the panel is open.
 * For the embedded toy model every answer also gets the offline rubric judge's trait and coherence scores.
 *
 * Messages are typed in webview/playground/protocol.ts. The command resolves once the panel has drawn its form
 * (and, when given a prompt, once it has drawn the finished generation), so tests can wait for it.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { panelHtml, webviewOptions } from './webview/kit.js';
import { steerCondition } from '../core/evaluation/conditions.js';
import { RubricJudge } from '../core/judge/rubric.js';
import { identifyModel, type ModelIdentity } from '../core/models.js';
import { evalPrompt } from '../core/prompts.js';
import { samplerPresetFor } from '../core/jobs/defaults.js';
import { SAMPLER_PRESETS } from '../core/sampling.js';
import { modelFolderName, Workspace } from '../core/storage/workspace.js';
import { isToyModelPath } from '../core/toy/paths.js';
import { assertVectorFits, readVectorFile, vectorRow, VECTOR_KINDS } from '../core/vectors/file.js';
import type { InferenceClient } from '../engine/client.js';
import { isCancellation } from '../engine/errors.js';
import type { GenerateResult, GenerateRow, ModelInfo as LoadedModelInfo } from '../engine/protocol.js';
import type {
  Answer, Column, ColumnMeans, FromWebview, GenerationRequest, PlaygroundVector, RenderedCounts, ToWebview,
} from '../../webview/playground/protocol.js';
import { modelLoadSettings } from './config.js';
import { pickCheckpoint } from './extractCommand.js';
import type { JobRunner } from './jobs.js';
import type { Locations } from './locations.js';
import type { DiscoveredModel } from './modelDiscovery.js';
import { FileTreeItem } from './views/fileTree.js';

/** Arguments for scripted use (tests, other commands). Without `prompt` the panel only opens. */
export interface PlaygroundArgs extends Partial<Omit<GenerationRequest, 'vector'>> {
  /** A checkpoint folder (default: the vector's model, else the embedded toy model's main revision). */
  modelPath?: string;
  revision?: string;
  /** A trait name (a vector of this model in the workspace folder) or a vector file path. */
  vector?: string;
  /** With a prompt, generate at once (default true). */
  run?: boolean;
}

export interface PlaygroundRun {
  runId: string;
  request: GenerationRequest;
  trait: string;
  cancelled: boolean;
  baseline: Answer[];
  steered: Answer[];
  means?: Record<Column, ColumnMeans>;
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
  error?: string;
}

export interface PlaygroundServices {
  log: vscode.LogOutputChannel;
  locations: Locations;
  jobs: JobRunner;
  extensionUri: vscode.Uri;
  listModels(): DiscoveredModel[];
}

interface Target { path: string; revision?: string; id: ModelIdentity; toy: boolean }

const READY_TIMEOUT_MS = 60_000;

/**
 * One playground panel per checkpoint (model@revision): opening it again for the same checkpoint reveals it and applies
 * the new arguments; a ▷ on a vector of another revision opens that revision's own panel beside it.
 */
export class Playground implements vscode.Disposable {
  private readonly panels = new Map<string, PlaygroundPanel>();

  constructor(private readonly s: PlaygroundServices) {}

  async open(arg?: FileTreeItem | PlaygroundArgs): Promise<PlaygroundOutcome | undefined> {
    const root = this.s.locations.workspaceDataFolder();
    if (!root) { void vscode.window.showErrorMessage('The Steering Playground reads persona vectors from the workspace folder. Open a folder first (File > Open Folder).'); return undefined; }
    const args: PlaygroundArgs = arg instanceof FileTreeItem ? { vector: arg.entry.path } : arg ?? {};
    if (args.vector && /[\\/]/.test(args.vector) && !args.vector.endsWith('.safetensors') && !args.vector.endsWith('.pt')) {
      throw new Error(`${args.vector} is not a vector file (.safetensors or upstream .pt)`);
    }
    const target = await this.resolveTarget(new Workspace(root), args);
    if (!target) return undefined;
    const key = `${path.resolve(target.path)}@${target.revision ?? ''}`;
    let panel = this.panels.get(key);
    if (!panel) {
      panel = new PlaygroundPanel(this.s);
      this.panels.set(key, panel);
      panel.onDidDispose(() => { if (this.panels.get(key) === panel) this.panels.delete(key); });
    }
    return panel.show(new Workspace(root), target, args);
  }

  /** The checkpoint: given, or the one a workspace vector file was extracted on, or the toy model, or a pick. */
  private async resolveTarget(ws: Workspace, args: PlaygroundArgs): Promise<Target | undefined> {
    const make = (p: string, revision?: string): Target => ({ path: p, revision, id: identifyModel(p, revision), toy: isToyModelPath(p) });
    if (args.modelPath) return make(args.modelPath, args.revision);
    const vectorsRoot = path.join(ws.root, 'vectors');
    if (args.vector && path.isAbsolute(args.vector) && path.dirname(path.dirname(path.dirname(args.vector))) === vectorsRoot) {
      // vectors/<model>/<revision>/<trait>.safetensors: find the checkpoint whose folder names match.
      const revDir = path.basename(path.dirname(args.vector)), modelDir = path.basename(path.dirname(path.dirname(args.vector)));
      for (const m of this.s.listModels()) {
        for (const r of m.revisions.length ? m.revisions : [{ name: 'main', path: m.path }]) {
          const t = r.path ? make(r.path) : make(m.path, r.name);
          if (modelFolderName(t.id.name) === modelDir && modelFolderName(t.id.revision) === revDir) return t;
        }
      }
      throw new Error(`${args.vector} was extracted on ${modelDir}@${revDir}, which is not in the Models view: add its checkpoint folder with "Persona Lab: Add Model Folder" (or pass modelPath)`);
    }
    const toyMain = path.join(this.s.locations.embeddedModel('toy-persona'), 'revisions', 'main');
    if (existsSync(path.join(toyMain, 'config.json'))) return make(toyMain);
    const picked = await pickCheckpoint(this.s.listModels(), 'Open the Steering Playground on which checkpoint?');
    return picked ? make(picked.path, picked.revision) : undefined;
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    this.panels.clear();
  }
}

type PanelEvent = FromWebview | { type: 'run-failed'; runId?: string; message: string };

interface RunState { seq: number; id: string; abort: AbortController }

class PlaygroundPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly events = new vscode.EventEmitter<PanelEvent>();
  private readonly disposed = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposed.event;
  private readonly ready: Promise<void>;
  private isDisposed = false;
  private ws: Workspace | undefined;
  private target: Target | undefined;
  private vectors: PlaygroundVector[] = [];
  private notice: string | undefined;
  /** The loaded model, for one worker client and one checkpoint (key). */
  private model: { client: InferenceClient; key: string; info: Promise<LoadedModelInfo> } | undefined;
  private judge: RubricJudge | undefined;
  private run: RunState | undefined;
  private seq = 0;
  /** Finished runs by id, until the webview reports it drew them. */
  private readonly finished = new Map<string, Omit<PlaygroundRun, 'rendered'> & { seq: number }>();

  constructor(private readonly s: PlaygroundServices) {
    this.panel = vscode.window.createWebviewPanel('personaLab.playground', 'Steering Playground', vscode.ViewColumn.Active,
      webviewOptions(s.extensionUri, true));
    this.panel.iconPath = vscode.Uri.joinPath(s.extensionUri, 'media', 'persona-lab.svg');
    this.panel.webview.html = this.html();
    this.ready = new Promise<void>((resolve) => {
      const sub = this.events.event((m) => { if (m.type === 'ready') { sub.dispose(); resolve(); } });
    });
    this.panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m));
    this.panel.onDidDispose(() => this.dispose());
  }

  /** Shows `target` with `args` applied; resolves when the webview drew it (and, with a prompt, the generation). */
  async show(ws: Workspace, target: Target, args: PlaygroundArgs): Promise<PlaygroundOutcome> {
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
    const run = this.finished.get(ev.runId)!;
    this.finished.delete(ev.runId);
    const { seq: _seq, ...rest } = run;
    return { ...outcome, run: { ...rest, rendered: ev.rendered } };
  }

  /** Loads the model (if needed), lists the vectors, and sends the form's content; a failure is shown in the panel too. */
  private async init(target: Target, args: PlaygroundArgs, autoRun: boolean): Promise<void> {
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

  private async sendForm(target: Target, label: string, args: PlaygroundArgs, autoRun: boolean): Promise<void> {
    let info: LoadedModelInfo;
    try {
      info = (await this.loadModel()).info;
    } catch (e) {
      throw new Error(`could not load ${label}: ${errorMessage(e)}`, { cause: e });
    }
    const dir = this.ws!.vectorDir(target.id.name, target.id.revision);
    this.vectors = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort()
      .map((f) => ({ id: path.join(dir, f), trait: f.slice(0, -'.safetensors'.length), label: f.slice(0, -'.safetensors'.length) })) : [];
    let preselect: string | undefined;
    if (args.vector) {
      const asPath = path.resolve(args.vector);
      const found = this.vectors.find((v) => v.id === asPath || v.trait === args.vector);
      if (found) preselect = found.id;
      else if (/[\\/]/.test(args.vector) && existsSync(asPath)) {
        const trait = path.basename(asPath).replace(/\.(safetensors|pt)$/, '').replace(/_(prompt_avg|response_avg|prompt_last)_diff$/, '');
        this.vectors.push({ id: asPath, trait, label: `${trait} (${asPath})` });
        preselect = asPath;
      } else {
        throw new Error(`no vector "${args.vector}" for ${label}: vectors are read from ${dir}`);
      }
    }
    const L = info.config.numLayers;
    const preset = SAMPLER_PRESETS[samplerPresetFor(target.toy, info.hasChatTemplate)];
    const defaults: GenerationRequest = {
      prompt: '', vector: this.vectors[0]?.id ?? '',
      // The toy model steers best at its last layer (models/toy-persona/manifest.json recommendedSteering); upstream
      // persona_vectors steers Qwen2.5-7B at layer 20 of 28 with coef 2.
      layer: target.toy ? Math.min(4, L) : Math.round((L * 20) / 28), coef: target.toy ? 4 : 2,
      n: 4, seed: 0, temperature: preset.temperature, maxTokens: target.toy ? preset.maxNewTokens : Math.min(preset.maxNewTokens, 128),
    };
    const fields: Partial<GenerationRequest> = {};
    for (const k of ['prompt', 'layer', 'coef', 'n', 'seed', 'temperature', 'maxTokens'] as const) if (args[k] !== undefined) (fields as Record<string, unknown>)[k] = args[k];
    if (preselect) fields.vector = preselect;
    const notice = this.notice = this.vectors.length === 0
      ? `No persona vectors for ${label} yet. Run "Persona Lab: Extract Persona Vector…" on this checkpoint first (or \`persona-lab extract\`); the playground reads ${dir}.`
      : undefined;
    this.post({
      type: 'init', model: { name: target.id.name, revision: target.id.revision, path: target.path, numLayers: L, toy: target.toy },
      vectors: this.vectors, vectorDir: dir, defaults, preset: Object.keys(fields).length ? fields : undefined, autoRun: autoRun && !notice, notice,
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
      case 'error': this.s.log.error(`Steering Playground (webview): ${m.message}`); break;
      case 'ready':
        // A reloaded webview (developer tools) asks again: send the form again.
        if (this.target) void this.init(this.target, {}, false).catch((e: unknown) => this.s.log.error(`Steering Playground: ${errorMessage(e)}`));
        break;
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
      const req = validate(raw, info.config.numLayers);
      const vector = this.vectors.find((v) => v.id === req.vector);
      if (!vector) throw new Error(this.vectors.length ? 'pick a persona vector' : 'no persona vectors yet: run "Persona Lab: Extract Persona Vector…" first');
      const t = this.target!;
      const file = readVectorFile(vector.id);
      assertVectorFits(file, vector.id, { name: `${t.id.name}@${t.id.revision}`, ...info.config });
      const kind = file.data.response_avg ? 'response_avg' : VECTOR_KINDS.find((k) => file.data[k])!;
      const steer = steerCondition('steer', vectorRow(file, kind, req.layer), req.layer, req.coef, { positions: 'response' }).steer;
      const trait = file.metadata.trait || vector.trait;
      const prompt = evalPrompt(info.hasChatTemplate ? 'chat' : 'base', req.prompt);
      const rows: GenerateRow[] = [
        ...Array.from({ length: req.n }, (_, i) => ({ prompt, seed: req.seed + i })),
        ...Array.from({ length: req.n }, (_, i) => ({ prompt, seed: req.seed + i, steer })),
      ];
      const preset = SAMPLER_PRESETS[samplerPresetFor(t.toy, info.hasChatTemplate)];
      const where = (row: number) => ({ column: (row < req.n ? 'baseline' : 'steered') as Column, index: row % req.n });
      this.post({ type: 'started', runId: run.id, request: req, trait, scored: t.toy });
      this.s.log.info(`Steering Playground ${run.id}: ${trait} ℓ=${req.layer} c=${req.coef}, n=${req.n}, seeds ${req.seed}…${req.seed + req.n - 1}`);

      // Token deltas are sent in small batches: one message per ~30 ms instead of one per token.
      const texts = rows.map(() => '');
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
        result = await client.generate({ modelId: info.modelId, rows, sampling: { ...preset, temperature: req.temperature, maxNewTokens: req.maxTokens } }, {
          signal: run.abort.signal,
          onToken: (n) => {
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
      const answers: Answer[] = rows.map((r, i) => ({
        ...where(i), seed: r.seed!, text: result?.rows[i].text ?? texts[i], finishReason: result?.rows[i].finishReason ?? 'cancelled', tokens: result?.rows[i].tokenIds.length ?? 0,
        ...(result?.rows[i].steeringApplied ? { applied: result.rows[i].steeringApplied } : {}),
      }));
      let means: Record<Column, ColumnMeans> | undefined;
      if (t.toy && !cancelled) means = this.score(trait, answers);
      const done = { runId: run.id, request: req, trait, cancelled, baseline: answers.filter((a) => a.column === 'baseline'), steered: answers.filter((a) => a.column === 'steered'), means };
      this.finished.set(run.id, { ...done, seq: run.seq });
      for (const id of [...this.finished.keys()].slice(0, -4)) this.finished.delete(id); // a command waits for the latest only
      this.post({ type: 'finished', runId: run.id, cancelled, answers, means, tokensPerSecond: result?.tokensPerSecond ?? 0, elapsedMs: Date.now() - t0 });
      if (means) this.s.log.info(`Steering Playground ${run.id}: mean ${trait} baseline ${fmt(means.baseline.trait)}, steered ${fmt(means.steered.trait)}; coherence ${fmt(means.baseline.coherence)} → ${fmt(means.steered.coherence)}`);
    } catch (e) {
      const message = errorMessage(e);
      this.s.log.warn(`Steering Playground ${run.id}: ${message}`);
      this.post({ type: 'error', runId: run.id, message });
      this.events.fire({ type: 'run-failed', runId: run.id, message });
    } finally {
      if (this.run === run) this.run = undefined;
    }
  }

  /** The offline rubric judge's scores (toy model): per answer, and the mean per column. */
  private score(trait: string, answers: Answer[]): Record<Column, ColumnMeans> {
    this.judge ??= new RubricJudge();
    for (const a of answers) {
      a.coherence = this.judge.scoreOne('coherence', trait, a.text);
      try { a.trait = this.judge.scoreOne('trait', trait, a.text); } catch { /* a trait the rubric does not know: coherence only */ }
    }
    const mean = (xs: (number | undefined)[]) => { const v = xs.filter((x): x is number => x !== undefined); return v.length ? v.reduce((s, x) => s + x, 0) / v.length : undefined; };
    const col = (c: Column): ColumnMeans => { const as = answers.filter((a) => a.column === c); return { trait: mean(as.map((a) => a.trait)), coherence: mean(as.map((a) => a.coherence)) }; };
    return { baseline: col('baseline'), steered: col('steered') };
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

  private html(): string {
    // The kit's shell (src/extension/webview/kit.ts): strict CSP, dist/webview/playground.{js,css}.
    return panelHtml(this.panel.webview, this.s.extensionUri, 'playground', 'Steering Playground');
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

/** The form's values as numbers in range, or an error that names the field. */
function validate(r: GenerationRequest, numLayers: number): GenerationRequest {
  // An emptied field arrives as NaN/null (never read as 0: layer 0 is the embeddings, coef 0 no steering).
  const empty = (v: unknown, name: string) => { if (v === null || v === undefined || v === '' || Number.isNaN(v)) throw new Error(`${name} is empty: type a number`); };
  const int = (v: unknown, name: string, lo: number, hi: number) => {
    empty(v, name);
    const x = Number(v);
    if (!Number.isInteger(x) || x < lo || x > hi) throw new Error(`${name} must be a whole number in ${lo}..${hi} (got ${String(v)})`);
    return x;
  };
  const real = (v: unknown, name: string, lo: number, hi: number) => {
    empty(v, name);
    const x = Number(v);
    if (!Number.isFinite(x) || x < lo || x > hi) throw new Error(`${name} must be a number in ${lo}..${hi} (got ${String(v)})`);
    return x;
  };
  const prompt = String(r.prompt ?? '').trim();
  if (!prompt) throw new Error('type a prompt first');
  return {
    prompt, vector: String(r.vector ?? ''),
    layer: int(r.layer, `layer (ℓ = hidden_states[ℓ], 0..L with L = ${numLayers})`, 0, numLayers),
    coef: real(r.coef, 'coef', -1000, 1000), n: int(r.n, 'n', 1, 32), seed: int(r.seed, 'seed', 0, 2 ** 31 - 1),
    temperature: real(r.temperature, 'temperature', 0, 5), maxTokens: int(r.maxTokens, 'max tokens', 1, 4096),
  };
}

const fmt = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(1));
const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));
