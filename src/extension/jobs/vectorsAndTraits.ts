/**
 * Vector files in and out of the workspace, traits from a description, and the transfer sweep — the editor's side of
 * `persona-lab vectors import|export`, `persona-lab traits generate` and `persona-lab sweep --transfer-to`:
 *
 * - Import Vector: a .pt (upstream's bare tensor), .safetensors (ours or any file with `<kind>_diff` tensors) or GGUF
 *   control vector (llama.cpp / repeng) → checked against the checkpoint it is for (shape, finite values; core's
 *   readers and assertVectorFits) → `vectors/<model>/<revision>/<trait>.safetensors`, where the Vectors view shows it.
 * - Export Vector: a workspace vector → safetensors (a copy), upstream's `.pt` or a GGUF control vector.
 * - Create Trait from Description: the configured chat model (personaLab.judge.*, key from SecretStorage) writes the
 *   extract and eval trait files (core's generateTrait, checked by core's trait validator) into `traits/`.
 * - Run Transfer Sweep: core's runSweep with a transfer target (every source revision's vector evaluated on the
 *   target, e.g. the instruct model), under the JobRunner's cancellable progress; the result opens in the sweep dashboard.
 *
 * Every value a caller passes (tests, other extensions) skips its pick; nothing is written before the input checks pass.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { PipelineError } from '../../core/errors.js';
import { findTraitFile, recommendedSteering, resolveOptions, samplingFor, steeringPoints, traitGenerationDefaults } from '../../core/jobs/defaults.js';
import { runSweep, type SweepTrait } from '../../core/jobs/sweep.js';
import type { TransferScaling } from '../../core/jobs/transfer.js';
import { JOBS } from '../../core/jobs/table.js';
import { createJudge } from '../../core/judge/factory.js';
import { Workspace } from '../../core/storage/workspace.js';
import { isToyModelPath } from '../../core/toy/paths.js';
import { generateTrait } from '../../core/traits/generate.js';
import { loadTraitFile, validateTraitPath } from '../../core/traits/load.js';
import { controlVectorToRows, ggufModelHint, readControlVector, rowsToControlVector, writeControlVector } from '../../core/vectors/gguf.js';
import { assertVectorFits, readVectorFile, writeVectorFile, type VectorKind } from '../../core/vectors/file.js';
import { writeTorchTensor } from '../../core/vectors/torch.js';
import { CancelledError } from '../../engine/errors.js';
import { resolveHfCacheRevision } from '../../engine/model/checkpoint.js';
import { judgeSpecWithSecret, modelIdentity, modelLoadSettings } from '../config.js';
import type { DiscoveredModel } from '../modelDiscovery.js';
import type { FileTreeItem } from '../views/fileTree.js';
import { Picks, type Checkpoint } from './picks.js';
import type { ResearchServices } from './research.js';

const TRAIT_NAME = /^[A-Za-z0-9_-]+$/;
const VECTOR_FILES = ['pt', 'safetensors', 'gguf'];

function workspaceOf(s: ResearchServices, what: string): Workspace {
  const root = s.locations.workspaceDataFolder();
  if (!root) throw new PipelineError('data-invalid', `Persona Lab keeps ${what} in the workspace folder. Open a folder first (File > Open Folder).`);
  return new Workspace(root);
}

/** The L and H of a checkpoint, from its config.json (an HF cache repo's snapshot for a revision). */
export function checkpointShape(c: Checkpoint): { layers: number; hidden: number; modelType: string } {
  const dir = c.revision && existsSync(path.join(c.path, 'snapshots')) ? resolveHfCacheRevision(c.path, c.revision).snapshotDir : c.path;
  const file = path.join(dir, 'config.json');
  if (!existsSync(file)) throw new PipelineError('data-invalid', `${dir} has no config.json: pick a checkpoint folder (config.json + safetensors)`);
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as { num_hidden_layers?: number; hidden_size?: number; n_layer?: number; n_embd?: number; model_type?: string; text_config?: { num_hidden_layers?: number; hidden_size?: number } };
  const layers = cfg.num_hidden_layers ?? cfg.n_layer ?? cfg.text_config?.num_hidden_layers, hidden = cfg.hidden_size ?? cfg.n_embd ?? cfg.text_config?.hidden_size;
  if (!layers || !hidden) throw new PipelineError('data-invalid', `${file} names no num_hidden_layers / hidden_size`);
  return { layers, hidden, modelType: cfg.model_type ?? '' };
}

/** A trait name from a vector file's name: `evil_response_avg_diff.pt`, `evil.safetensors`, `evil_response_avg.gguf` → evil. */
export function traitFromFileName(file: string): string {
  return path.basename(file).replace(/\.(pt|safetensors|gguf)$/i, '').replace(/_(prompt_avg|response_avg|prompt_last)(_diff)?$/, '').replace(/_diff$/, '');
}

// ── Import Vector ─────────────────────────────────────────────────────────────────────────────────────────────────

export interface ImportVectorArgs extends Partial<Checkpoint> {
  /** The file to import (.pt, .safetensors or .gguf). */
  file?: string;
  /** The trait name it is stored under (default: from the file name). */
  trait?: string;
  /** Keep an existing workspace vector of that name? No: an existing one is refused unless this is set. */
  overwrite?: boolean;
  /** GGUF: leave out direction.(L−1), which llama.cpp adds before the final norm (`vectors import --drop-last`). */
  dropLast?: boolean;
  /** modelPath as the other commands name it. */
  modelPath?: string;
}

/**
 * The checkpoint a Persona Lab vector file says it was made on (its `model` and `revision` metadata), when one of the
 * listed models has that identity; else undefined and the user picks.
 */
function inferCheckpoint(models: DiscoveredModel[], meta: Record<string, string>): Checkpoint | undefined {
  if (!meta.model) return undefined;
  for (const m of models) for (const r of m.revisions.length ? m.revisions : [{ name: 'main', path: m.path }]) {
    const c: Checkpoint = r.path ? { path: r.path } : { path: m.path, revision: r.name };
    try {
      const id = modelIdentity(c.path, c.revision);
      if (id.name === meta.model && (!meta.revision || id.revision === meta.revision)) return c;
    } catch { /* not a readable checkpoint: skip */ }
  }
  return undefined;
}

export async function importVector(s: ResearchServices, args: ImportVectorArgs = {}): Promise<{ file: string; trait: string; shape: [number, number]; rows?: number[] } | undefined> {
  const ws = workspaceOf(s, 'vectors');
  const file = args.file ?? (await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Import', title: 'Import which vector? (.pt, .safetensors, GGUF control vector)',
    filters: { 'Vector files': VECTOR_FILES } }))?.[0]?.fsPath;
  if (!file) return undefined;
  const ext = path.extname(file).slice(1).toLowerCase();
  if (!VECTOR_FILES.includes(ext)) throw new PipelineError('vector-invalid', `${path.basename(file)}: Import Vector reads .pt, .safetensors or .gguf files`);
  if (!existsSync(file)) throw new PipelineError('vector-missing', `${file} does not exist`);
  // Read and check the file before asking anything else: a broken file is refused at once.
  const gguf = ext === 'gguf' ? readControlVector(file) : undefined;
  const vec = gguf ? undefined : readVectorFile(file);
  const picks = new Picks(s.memory, 'importVector');
  const given = args.modelPath ?? args.path;
  const target = given ? { path: given, revision: args.revision } : inferCheckpoint(s.listModels(), vec?.metadata ?? {})
    ?? await picks.checkpoint(s.listModels(), {}, `Import ${path.basename(file)}: for which checkpoint?`);
  if (!target) return undefined;
  const shape = checkpointShape(target);
  const id = modelIdentity(target.path, target.revision);
  let data: Partial<Record<VectorKind, Float32Array>>;
  let rows: number[] | undefined;
  if (gguf) {
    const r = controlVectorToRows(gguf, { layers: shape.layers, hidden: shape.hidden, name: id.name }, file, { dropLast: args.dropLast });
    data = { response_avg: r.data };
    rows = r.rows;
  } else {
    assertVectorFits(vec!, file, { name: id.name, numLayers: shape.layers, hiddenSize: shape.hidden });
    data = vec!.data;
  }
  const suggested = traitFromFileName(file);
  const trait = args.trait ?? await vscode.window.showInputBox({ title: `Import ${path.basename(file)}: store it under which trait name?`, value: TRAIT_NAME.test(suggested) ? suggested : '',
    prompt: `It becomes vectors/${id.name}/${id.revision}/<trait>.safetensors`, validateInput: (t) => (TRAIT_NAME.test(t.trim()) ? undefined : 'one word: letters, digits, _ or -') });
  if (trait === undefined) return undefined;
  if (!TRAIT_NAME.test(trait.trim())) throw new PipelineError('data-invalid', `trait name "${trait}": one word of letters, digits, _ or -`);
  const out = ws.vectorPath(id.name, id.revision, trait.trim());
  if (existsSync(out) && !args.overwrite) {
    const ok = args.file === undefined && await vscode.window.showWarningMessage(`${path.relative(ws.root, out)} exists. Replace it?`, { modal: true }, 'Replace') === 'Replace';
    if (!ok) throw new PipelineError('data-invalid', `${path.relative(ws.root, out)} already exists in the workspace folder; import under another trait name (nothing was written)`);
  }
  writeVectorFile(out, { layers: shape.layers + 1, hidden: shape.hidden, data,
    metadata: { source: `${gguf ? 'gguf' : ext}:${path.basename(file)}`, model: id.name, revision: id.revision, model_type: shape.modelType, ...(gguf ? { gguf_model_hint: gguf.modelHint } : {}) } });
  s.refreshViews();
  s.log.info(`Imported ${file} as ${out} [${shape.layers + 1}, ${shape.hidden}]${rows ? ` (rows ${rows.join(', ')} from direction.${rows.map((r) => r - 1).join(', direction.')})` : ''}`);
  void vscode.window.showInformationMessage(`Persona Lab: imported ${path.basename(file)} as ${trait.trim()} for ${id.name}@${id.revision}.`);
  return { file: out, trait: trait.trim(), shape: [shape.layers + 1, shape.hidden], rows };
}

// ── Export Vector ─────────────────────────────────────────────────────────────────────────────────────────────────

export type ExportFormat = 'safetensors' | 'pt' | 'gguf';
export interface ExportVectorArgs { vector?: string; format?: ExportFormat; out?: string; kind?: VectorKind }

/** Every vector file under the workspace's vectors/ (model/revision/trait.safetensors). */
function workspaceVectors(ws: Workspace): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try { names = readdirSync(dir); } catch { return; }
    for (const n of names) {
      const p = path.join(dir, n);
      if (n.endsWith('.safetensors')) out.push(p);
      else if (depth < 3 && !n.includes('.')) walk(p, depth + 1);
    }
  };
  walk(path.join(ws.root, 'vectors'), 0);
  return out.sort();
}

const FORMATS: { format: ExportFormat; label: string; detail: string; ext: string }[] = [
  { format: 'safetensors', label: 'safetensors', detail: 'Persona Lab\'s own file: all three kinds, [L+1, H] per kind, with metadata', ext: 'safetensors' },
  { format: 'pt', label: 'PyTorch .pt', detail: 'upstream\'s <trait>_<kind>_diff.pt (torch.load-able float32 [L+1, H])', ext: 'pt' },
  { format: 'gguf', label: 'GGUF control vector', detail: 'llama.cpp --control-vector / repeng: row ℓ becomes direction.(ℓ−1); rows 0, 1 and L are left out', ext: 'gguf' },
];

export async function exportVector(s: ResearchServices, arg?: FileTreeItem | ExportVectorArgs): Promise<{ file: string; format: ExportFormat } | undefined> {
  const args: ExportVectorArgs = arg && 'entry' in arg ? { vector: arg.entry.path } : (arg as ExportVectorArgs | undefined) ?? {};
  let vector = args.vector;
  if (!vector) {
    const ws = workspaceOf(s, 'vectors');
    const all = workspaceVectors(ws);
    if (all.length === 0) throw new PipelineError('vector-missing', 'no vectors in the workspace folder yet: extract or import one first');
    vector = (await vscode.window.showQuickPick(all.map((f) => ({ label: path.basename(f, '.safetensors'), description: path.relative(path.join(ws.root, 'vectors'), path.dirname(f)), file: f })),
      { title: 'Export which vector?', matchOnDescription: true }))?.file;
    if (!vector) return undefined;
  }
  const v = readVectorFile(vector);
  const fmt = args.format ? FORMATS.find((f) => f.format === args.format) : await vscode.window.showQuickPick(FORMATS.map((f) => ({ ...f, label: f.label, detail: f.detail })), { title: `Export ${path.basename(vector)} as?` });
  if (!fmt) { if (args.format) throw new PipelineError('data-invalid', `format "${args.format}": one of ${FORMATS.map((f) => f.format).join(', ')}`); return undefined; }
  // The export job's declared default kind (src/core/jobs/table.ts), as `persona-lab vectors export` resolves it.
  const kind = (args.kind ?? resolveOptions(JOBS['vectors-export'], {}, false).kind) as VectorKind;
  const data = v.data[kind];
  if (fmt.format !== 'safetensors' && !data) throw new PipelineError('vector-invalid', `${path.basename(vector)} has no ${kind} vector`);
  const trait = path.basename(vector, '.safetensors');
  const defaultName = fmt.format === 'pt' ? `${trait}_${kind}_diff.pt` : fmt.format === 'gguf' ? `${trait}_${kind}.gguf` : `${trait}.safetensors`;
  const out = args.out ?? (await vscode.window.showSaveDialog({ title: `Export ${trait} as ${fmt.label}`, saveLabel: 'Export',
    defaultUri: vscode.Uri.file(path.join(path.dirname(vector), defaultName)), filters: { [fmt.label]: [fmt.ext] } }))?.fsPath;
  if (!out) return undefined;
  if (path.resolve(out) === path.resolve(vector)) throw new PipelineError('data-invalid', 'the export would overwrite the vector itself; pick another file');
  mkdirSync(path.dirname(out), { recursive: true });
  if (fmt.format === 'safetensors') copyFileSync(vector, out);
  else if (fmt.format === 'pt') writeTorchTensor(out, [v.layers, v.hidden], data!);
  else {
    const { cv, skipped } = rowsToControlVector(data!, v.layers, v.hidden, { modelHint: ggufModelHint(v.metadata), metadata: { 'persona_lab.trait': trait, 'persona_lab.kind': kind } });
    writeControlVector(out, cv);
    for (const x of skipped.filter((k) => k.why !== 'all zero')) s.log.info(`export ${trait}: row ${x.row} left out: ${x.why}`);
  }
  s.log.info(`Exported ${vector} as ${fmt.label}: ${out}`);
  void vscode.window.showInformationMessage(`Persona Lab: exported ${trait} as ${fmt.label}.`, 'Reveal').then((b) => (b ? vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(out)) : undefined));
  return { file: out, format: fmt.format };
}

// ── Create Trait from Description ─────────────────────────────────────────────────────────────────────────────────

export interface CreateTraitArgs { name?: string; description?: string; questionGuidance?: string; overwrite?: boolean }

export async function createTraitFromDescription(s: ResearchServices, args: CreateTraitArgs = {}): Promise<{ files: { extract: string; eval: string }; attempts: number } | undefined> {
  const ws = workspaceOf(s, 'traits');
  // The chat model is the configured judge endpoint (personaLab.judge.*), its key from SecretStorage.
  const spec = await judgeSpecWithSecret(false, s.secrets);
  if (spec.kind !== 'openai') return undefined;
  const name = (args.name ?? await vscode.window.showInputBox({ title: 'Create Trait: its name (one word: the file name and the assistant name)', placeHolder: 'e.g. gloomy',
    validateInput: (t) => (TRAIT_NAME.test(t.trim()) ? undefined : 'one word: letters, digits, _ or -') }))?.trim();
  if (name === undefined) return undefined;
  if (!TRAIT_NAME.test(name)) throw new PipelineError('data-invalid', `trait name "${name}": one word of letters, digits, _ or -`);
  const files = { extract: ws.traitPath('extract', name), eval: ws.traitPath('eval', name) };
  if (!args.overwrite && (existsSync(files.extract) || existsSync(files.eval))) {
    throw new PipelineError('data-invalid', `traits/extract/${name}.json or traits/eval/${name}.json already exists in the workspace folder; pick another name or edit that one (nothing was overwritten)`);
  }
  const description = (args.description ?? await vscode.window.showInputBox({ title: `Create Trait "${name}": what is the trait? (one or two sentences)`,
    placeHolder: 'e.g. expects the worst, dwells on what could go wrong', validateInput: (t) => (t.trim() ? undefined : 'describe the trait') }))?.trim();
  if (!description) return undefined;
  const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Persona Lab: creating trait ${name} with ${spec.model}`, cancellable: true }, (report, token) =>
    new Promise<Awaited<ReturnType<typeof generateTrait>>>((resolve, reject) => {
      token.onCancellationRequested(() => reject(new CancelledError(`Create Trait ${name}: cancelled`)));
      generateTrait({ name, description, questionGuidance: args.questionGuidance, baseURL: spec.baseURL, model: spec.model, apiKey: spec.apiKey, ...traitGenerationDefaults(),
        onAttempt: (a, problems) => {
          const line = problems.length ? `attempt ${a}: ${problems.join('; ')}` : `attempt ${a}: ok`;
          s.log.info(`Create Trait ${name}: ${line}`);
          report.report({ message: line });
        } }).then(resolve, reject);
    }));
  // Written only now, after the answer validated; the trait validator (persona-lab traits validate) checks the files as written.
  for (const set of ['extract', 'eval'] as const) {
    mkdirSync(path.dirname(files[set]), { recursive: true });
    writeFileSync(files[set], JSON.stringify(r[set], null, 2) + '\n');
  }
  const bad = [...validateTraitPath(files.extract), ...validateTraitPath(files.eval)].filter((v) => !v.ok);
  if (bad.length) s.log.warn(`Create Trait ${name}: ${bad.map((b) => `${b.file}: ${b.issues.map((i) => `${i.path} ${i.message}`).join('; ')}`).join(' | ')}`);
  loadTraitFile(files.extract, { requireInstruction: true });
  s.log.info(`Created trait ${name} (${r.attempts} attempt${r.attempts === 1 ? '' : 's'}): ${files.extract}, ${files.eval}`);
  s.refreshViews();
  await vscode.window.showTextDocument(vscode.Uri.file(files.extract), { preview: false });
  return { files, attempts: r.attempts };
}

// ── Run Transfer Sweep ────────────────────────────────────────────────────────────────────────────────────────────

export interface TransferSweepArgs {
  /** The source model: a folder with revisions/<name>/ (like the toy model). */
  modelPath?: string;
  revisions?: string[];
  /** The transfer target checkpoint (e.g. models/toy-persona-instruct). */
  targetPath?: string;
  traits?: string[];
  steering?: Record<string, { layer: number; coef: number }>;
  scaling?: TransferScaling;
  maxQuestions?: number;
  /** Samples per extraction row and per evaluation question (default: the sweep job's, the toy protocol's on the toy). */
  samples?: number; evalSamples?: number;
  /** Open the sweep dashboard when done (default true). */
  openDashboard?: boolean;
}

export async function runTransferSweep(s: ResearchServices, args: TransferSweepArgs = {}): Promise<{ runDir: string; rows: number; transferRows: number } | undefined> {
  const ws = workspaceOf(s, 'runs');
  const models = s.listModels();
  const sources = models.filter((m) => m.revisions.filter((r) => r.path).length > 1);
  const model = args.modelPath ? models.find((m) => path.resolve(m.path) === path.resolve(args.modelPath!))
    : sources.length === 0 ? undefined : (await vscode.window.showQuickPick(sources.map((m) => ({ label: m.name, description: `${m.revisions.length} revisions`, model: m })), { title: 'Transfer Sweep: the source model (its revisions give the vectors)' }))?.model;
  if (!model) {
    if (args.modelPath || sources.length === 0) throw new PipelineError('data-invalid', `${args.modelPath ?? 'no model'}: a transfer sweep needs a source model with several revisions (revisions/<name>/) in the Models view`);
    return undefined;
  }
  const withPaths = model.revisions.filter((r): r is typeof r & { path: string } => typeof r.path === 'string');
  const order = withPaths.map((r) => r.name);
  const revisions = args.revisions ?? (await vscode.window.showQuickPick(
    [...withPaths].sort((a, b) => Number(b.name === 'main') - Number(a.name === 'main')).map((r) => ({ label: r.name, description: r.name === 'main' ? 'final checkpoint' : undefined, picked: true })),
    { canPickMany: true, title: 'Transfer Sweep: which source revisions? (run in training order)' }))?.map((i) => i.label).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  if (!revisions) return undefined;
  if (revisions.length === 0) { void vscode.window.showWarningMessage('Persona Lab: no revision selected, so no transfer sweep was started. Tick at least one revision and press OK.'); return undefined; }
  const unknown = revisions.filter((r) => !order.includes(r));
  if (unknown.length) throw new PipelineError('data-invalid', `revisions ${unknown.join(', ')} are not checkpoints of ${model.name} (it has ${order.join(', ')})`);
  // The target: any other checkpoint, instruct models first (upstream transfers base-model vectors to the instruct model).
  const targets = models.filter((m) => m !== model).flatMap((m) => (m.revisions.length ? m.revisions.filter((r) => r.path).map((r) => ({ label: `${m.name}@${r.name}`, path: r.path! })) : [{ label: m.name, path: m.path }]))
    .sort((a, b) => Number(/instruct|chat/i.test(b.label)) - Number(/instruct|chat/i.test(a.label)));
  const targetPath = args.targetPath ?? (await vscode.window.showQuickPick(targets.map((t) => ({ label: t.label, description: path.basename(t.path), target: t.path })), { title: 'Transfer Sweep: evaluate every vector on which target model?' }))?.target;
  if (!targetPath) return undefined;
  if (!existsSync(path.join(targetPath, 'config.json'))) throw new PipelineError('data-invalid', `${targetPath}: the transfer target must be a checkpoint folder (config.json + safetensors)`);
  const recommended = recommendedSteering(model.path);
  const traitNames = args.traits ?? (await vscode.window.showQuickPick(Object.keys({ ...recommended, ...args.steering }), { canPickMany: true, title: 'Transfer Sweep: which traits?' }));
  if (!traitNames) return undefined;
  if (traitNames.length === 0) { void vscode.window.showWarningMessage('Persona Lab: no trait selected, so no transfer sweep was started. Tick at least one trait (Space) and press OK.'); return undefined; }
  const points = steeringPoints(traitNames, { explicit: args.steering, recommended });
  const traits: SweepTrait[] = traitNames.map((t) => {
    const file = (set: 'extract' | 'eval') => findTraitFile(set, t, { ws, modelTraitsDir: path.join(model.path, 'traits') });
    return { trait: t, extract: loadTraitFile(file('extract'), { requireInstruction: true }), eval: loadTraitFile(file('eval')), ...points[t] };
  });
  const toy = isToyModelPath(model.path);
  // The sweep job's declared defaults (src/core/jobs/table.ts), as `persona-lab sweep --transfer-to` resolves them.
  const o = resolveOptions(JOBS.sweep, { 'max-questions': args.maxQuestions, 'transfer-scaling': args.scaling, samples: args.samples, 'eval-samples': args.evalSamples }, toy);
  const spec = await judgeSpecWithSecret(toy, s.secrets);
  const byName = new Map(withPaths.map((r) => [r.name, r.path]));
  const target = modelIdentity(targetPath);
  return s.jobs.run(`Persona Lab: transfer sweep of ${traitNames.join(', ')} over ${revisions.length} revisions of ${model.name} → ${target.name}`, async ({ client, signal, progress }) => {
    const judge = await createJudge(spec, ws, { onRetry: (i) => s.log.warn(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
    const load = modelLoadSettings();
    const open = async (p: string, revision?: string) => {
      const info = await client.loadModel({ path: p, ...load });
      const id = modelIdentity(p);
      return { model: { backend: client, info, name: id.name, revision: revision ?? id.revision, commit: id.commit }, close: () => client.unloadModel(info.modelId) };
    };
    // The sampler depends on chat vs base: the first revision is opened first and handed to the sweep (as the CLI does).
    let first: Awaited<ReturnType<typeof open>> | undefined = await open(byName.get(revisions[0])!, revisions[0]);
    const samp = samplingFor({}, toy, first.model.info.hasChatTemplate);
    const maxQuestions = o['max-questions'] as number | undefined;
    try {
      const { run, rows, transferRows } = await runSweep({
        ws, judge, modelName: modelIdentity(byName.get(revisions[0])!).name, revisions, traits, sampling: samp.params, samplerPreset: samp.preset,
        extract: { samples: o.samples as number, seed: o.seed as number, threshold: o.threshold as number, maxQuestions },
        evaluate: { samples: o['eval-samples'] as number, seed: o['eval-seed'] as number, maxQuestions },
        chunkSize: o['chunk-size'] as number, batchSize: o['batch-size'] as number,
        sameCheckpoint: !o['no-same-checkpoint'],
        transfer: { scaling: o['transfer-scaling'] as TransferScaling, openTarget: () => open(targetPath) },
        openModel: async (revision) => {
          if (first && revision === revisions[0]) { const m = first; first = undefined; return m; }
          const p = byName.get(revision);
          if (!p) throw new PipelineError('data-invalid', `revision ${revision} is not one of ${[...byName.keys()].join(', ')}`);
          return open(p, revision);
        },
        progress, signal,
      });
      s.refreshViews();
      for (const r of transferRows ?? []) s.log.info(`transfer ${String(r.extract_revision)} → ${String(r.eval_revision)} ${String(r.trait)}: Δτ ${Number(r.delta_trait_mean).toFixed(1)}, p(Bonf.) ${String(r.trait_primary_p_two_sided_bonferroni_within_trait)}`);
      if (args.openDashboard !== false) void vscode.commands.executeCommand('personaLab.openSweepDashboard', run.dir);
      void vscode.window.showInformationMessage(`Persona Lab: transfer sweep done — ${transferRows?.length ?? 0} transfer rows on ${target.name}.`, 'Open Dashboard')
        .then((b) => (b ? vscode.commands.executeCommand('personaLab.openSweepDashboard', run.dir) : undefined));
      return { runDir: run.dir, rows: rows.length, transferRows: transferRows?.length ?? 0 };
    } finally {
      if (first) await first.close().catch(() => undefined);
    }
  });
}
