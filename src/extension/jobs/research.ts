/**
 * The research commands that steer with a stored vector — Evaluate Steering, Run Layer × Coef Grid, Run Controls —
 * and Compute Activation Norms: each asks for what it needs (./picks.ts: a checkpoint, a trait, a layer and
 * coefficient, remembering the last answers), fills the job's option object from src/core/jobs/table.ts (the same
 * declared defaults `persona-lab evaluate|grid|controls|norms` resolve; nothing is restated here) and runs the core
 * job under the JobRunner (cancellable progress, live in Runs). Arguments given by a caller (tests, other
 * extensions, a Runs "rerun") skip the matching pick.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { modelKind, type ModelHandle } from '../../core/backend.js';
import { measureActivationNorms, normsFile, writeNormsCsv } from '../../core/calibration.js';
import { checkpointLayerCount, findTraitFile, projectionLayerDefault, recommendedSteering, resolveOptions, samplingFor, steerScalingFor, type OptionValues } from '../../core/jobs/defaults.js';
import { runControlsJob, runEvaluation, runGridJob, type VectorJob } from '../../core/jobs/pipeline.js';
import { promptsFromTrait, readMonitorPrompts, runMonitoring, toyMonitoringPrompts, type MonitorPrompt } from '../../core/jobs/monitor.js';
import { readScreenData, runScreening } from '../../core/jobs/screen.js';
import { JOBS, type JobName } from '../../core/jobs/table.js';
import { createJudge } from '../../core/judge/factory.js';
import { evalPrompt } from '../../core/prompts.js';
import { isToyModelPath } from '../../core/toy/paths.js';
import { Workspace } from '../../core/storage/workspace.js';
import { loadTraitFile, type LoadedTrait } from '../../core/traits/load.js';
import type { VectorKind } from '../../core/vectors/file.js';
import type { ControlMode, ControlProjection } from '../../core/evaluation/controls.js';
import { judgeSpecWithSecret, modelIdentity, modelLoadSettings } from '../config.js';
import type { ExtractServices } from '../extractCommand.js';
import { Picks, type Checkpoint } from './picks.js';

/** Arguments for scripted use; every missing one is asked for. */
export interface ResearchArgs {
  modelPath?: string; revision?: string; trait?: string;
  layer?: number; coef?: number;
  /** Grid only. */
  layers?: number[]; coefs?: number[];
  /** Controls only. */
  seeds?: number[];
  samples?: number; maxQuestions?: number;
  /** Evaluate, grid, controls: the vector file's tensor to read (the CLI's --vector-key) and the worker's scaling (--scaling, --target-norm). */
  vectorKey?: string; scaling?: 'raw' | 'unit' | 'target-norm'; targetNorm?: number;
  /** Monitor only: a JSON array of {"system", "label"?, "expected"?} (default: the toy's graded prompts, else the trait's instructions). */
  promptsFile?: string;
  /** Screen only: the training samples (.jsonl or .csv). */
  dataFile?: string;
}

export interface ResearchServices extends ExtractServices {
  /** Remembers the last picks (workspaceState). */
  memory: vscode.Memento;
  /** Where "Set Judge API Key" keeps the judge's key. */
  secrets?: vscode.SecretStorage;
}

export interface ResearchOutcome { runDir: string; summary: string }

type VectorJobKind = Extract<JobName, 'evaluate' | 'grid' | 'controls'>;
const TITLES: Record<VectorJobKind | 'norms' | 'monitor' | 'screen', string> = { evaluate: 'Evaluate Steering', grid: 'Layer × Coef Grid', controls: 'Controls', norms: 'Activation Norms',
  monitor: 'Monitor Prompts', screen: 'Screen Dataset' };

/** Evaluate Steering, Run Layer × Coef Grid or Run Controls on a checkpoint's stored vector. */
export async function runVectorJob(s: ResearchServices, kind: VectorJobKind, args: ResearchArgs = {}): Promise<ResearchOutcome | undefined> {
  const ws = workspaceOf(s);
  if (!ws) return undefined;
  const picks = new Picks(s.memory, kind);
  const target = await picks.checkpoint(s.listModels(), args, `${TITLES[kind]}: on which checkpoint?`);
  if (!target) return undefined;
  const toy = isToyModelPath(target.path);
  const modelTraitsDir = toy ? path.dirname(s.locations.embeddedTraitsFolder()) : undefined;
  const trait = await picks.trait(ws, s.locations.embeddedTraitsFolder(), args.trait, `${TITLES[kind]}: which trait?`);
  if (!trait) return undefined;
  const id = modelIdentity(target.path, target.revision);
  const vectorPath = ws.vectorPath(id.name, id.revision, trait);
  const given: OptionValues = { samples: args.samples, 'max-questions': args.maxQuestions, 'vector-key': args.vectorKey, scaling: args.scaling, 'target-norm': args.targetNorm };
  let point: { layer: number; coef: number } | undefined;
  if (kind !== 'grid') {
    point = await picks.steeringPoint(args, recommendedSteering(path.dirname(path.dirname(target.path)))[trait] ?? recommendedSteering(target.path)[trait], TITLES[kind]);
    if (!point) return undefined;
  } else {
    given.layers = args.layers;
    given.coefs = args.coefs;
  }
  if (kind === 'controls') given.seeds = args.seeds;
  // The job's declared defaults (src/core/jobs/table.ts), as the CLI resolves them.
  const o = resolveOptions(JOBS[kind], given, toy);
  const scaling = steerScalingFor(o);
  const evalTrait = loadTraitFile(findTraitFile('eval', trait, { ws, modelTraitsDir }));
  let instructionTrait: LoadedTrait | undefined;
  try { instructionTrait = loadTraitFile(findTraitFile('extract', trait, { ws, modelTraitsDir }), { requireInstruction: true }); } catch { instructionTrait = undefined; }
  const spec = await judgeSpecWithSecret(toy, s.secrets);
  const where = point ? ` at layer ${point.layer}, coef ${point.coef}` : '';
  return s.jobs.run(`Persona Lab: ${TITLES[kind]} — ${trait} on ${id.name}@${id.revision}${where}`, async ({ client, signal, progress }) => {
    const info = await client.loadModel({ path: target.path, revision: target.revision, ...modelLoadSettings() });
    try {
      const model: ModelHandle = { backend: client, info, name: id.name, revision: id.revision, commit: id.commit };
      const judge = await createJudge(spec, ws, { onRetry: (i) => s.log.warn(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
      const samp = samplingFor({}, toy, modelKind(model) === 'chat');
      const base: VectorJob = {
        ws, model, judge, trait, evalTrait, instructionTrait, vectorPath, kind: o.kind as VectorKind, vectorKey: o['vector-key'] as string | undefined, scaling, sampling: samp.params, samplerPreset: samp.preset,
        seed: o.seed as number, samples: o.samples as number, maxQuestions: o['max-questions'] as number | undefined,
        chunkSize: o['chunk-size'] as number, batchSize: o['batch-size'] as number, progress, signal,
      };
      let out: ResearchOutcome;
      if (kind === 'evaluate') {
        const { run, results } = await runEvaluation({ ...base, ...point!, promptBaseline: true });
        const steered = results.find((r) => r.traitPaired);
        out = { runDir: run.dir, summary: steered ? `Δτ ${fmt(steered.deltaTraitMean)}, coherence ${fmt(steered.coherence.mean)}` : `${results.length} conditions` };
      } else if (kind === 'grid') {
        const layers = (o.layers as number[] | undefined)?.length ? o.layers as number[] : Array.from({ length: info.config.numLayers }, (_, i) => i + 1);
        const { run, grid } = await runGridJob({ ...base, layers, coefs: o.coefs as number[], refineStep: o.refine as number | undefined,
          promptBaseline: !o['no-prompt-baseline'], minCoherence: o['min-coherence'] as number });
        const b = grid.best;
        out = { runDir: run.dir, summary: b ? `best layer ${b.condition.layer}, coef ${b.condition.coef}: Δτ ${fmt(b.deltaTraitMean)}, coherence ${fmt(b.coherence.mean)}` : `no point with coherence ≥ ${String(o['min-coherence'])}` };
      } else {
        const modes = o.modes as ControlMode[];
        const { run, controls } = await runControlsJob({ ...base, ...point!, seeds: o.seeds as number[], modes, projection: o.projection as ControlProjection });
        out = { runDir: run.dir, summary: `real Δτ ${fmt(controls.real.deltaTraitMean)}; ${modes.map((m) => `${m} Δτ ${fmt(controls.summary[m].meanDeltaTrait)}`).join(', ')}` };
      }
      s.refreshViews();
      s.log.info(`${TITLES[kind]} ${trait}: ${out.summary} (${out.runDir})`);
      finished(`${TITLES[kind]} ${trait}: ${out.summary}`, kind, out.runDir);
      return out;
    } finally {
      await client.unloadModel(info.modelId).catch(() => undefined);
    }
  });
}

/** Compute Activation Norms: per-layer hidden-state L2 norms on a trait's evaluation questions (`persona-lab norms`). */
export async function computeNorms(s: ResearchServices, args: ResearchArgs = {}): Promise<{ file: string; layers: number } | undefined> {
  const ws = workspaceOf(s);
  if (!ws) return undefined;
  const picks = new Picks(s.memory, 'norms');
  const target = await picks.checkpoint(s.listModels(), args, 'Compute Activation Norms: on which checkpoint?');
  if (!target) return undefined;
  const toy = isToyModelPath(target.path);
  const o = resolveOptions(JOBS.norms, { trait: args.trait, 'max-questions': args.maxQuestions }, toy);
  const trait = o.trait as string;
  const evalTrait = loadTraitFile(findTraitFile('eval', trait, { ws, modelTraitsDir: toy ? path.dirname(s.locations.embeddedTraitsFolder()) : undefined }));
  const id = modelIdentity(target.path, target.revision);
  return s.jobs.run(`Persona Lab: activation norms of ${id.name}@${id.revision}`, async ({ client, signal, progress }) => {
    const info = await client.loadModel({ path: target.path, revision: target.revision, ...modelLoadSettings() });
    try {
      const model: ModelHandle = { backend: client, info, name: id.name, revision: id.revision, commit: id.commit };
      const prompts = evalTrait.data.questions.slice(0, o['max-questions'] as number).map((q) => evalPrompt(modelKind(model), q));
      progress({ stage: 'norms', done: 0, total: prompts.length });
      const norms = await measureActivationNorms(model, prompts, { signal });
      progress({ stage: 'norms', done: prompts.length, total: prompts.length });
      const file = normsFile(ws, id.name, id.revision);
      writeNormsCsv(file, norms);
      s.refreshViews();
      s.log.info(`Activation norms of ${id.name}@${id.revision} (${prompts.length} ${trait} questions) → ${file}`);
      void vscode.window.showInformationMessage(`Persona Lab: activation norms written (${norms.length} layers).`, 'Open').then((b) => (b ? vscode.window.showTextDocument(vscode.Uri.file(file)) : undefined));
      return { file, layers: norms.length };
    } finally {
      await client.unloadModel(info.modelId).catch(() => undefined);
    }
  });
}

/**
 * Monitor Prompts (`persona-lab monitor`: does the last prompt token's projection onto v predict the answer's trait score?) or
 * Screen Dataset (`persona-lab screen`: each training sample's projection difference ΔP against the model's own answer).
 * The layer is asked for (prefilled with the last one, else the CLI's default: core's projectionLayerDefault) when not given.
 */
export async function runProjectionJob(s: ResearchServices, job: 'monitor' | 'screen', args: ResearchArgs = {}): Promise<ResearchOutcome | undefined> {
  const ws = workspaceOf(s);
  if (!ws) return undefined;
  const picks = new Picks(s.memory, job);
  const target = await picks.checkpoint(s.listModels(), args, `${TITLES[job]}: on which checkpoint?`);
  if (!target) return undefined;
  const toy = isToyModelPath(target.path);
  const modelTraitsDir = toy ? path.dirname(s.locations.embeddedTraitsFolder()) : undefined;
  const trait = await picks.trait(ws, s.locations.embeddedTraitsFolder(), args.trait, `${TITLES[job]}: which trait?`);
  if (!trait) return undefined;
  const id = modelIdentity(target.path, target.revision);
  const vectorPath = ws.vectorPath(id.name, id.revision, trait);
  if (!existsSync(vectorPath)) throw new Error(`no ${trait} vector for ${id.name}@${id.revision} yet: run "Persona Lab: Extract Persona Vector…" on it first`);
  let dataFile = args.dataFile;
  if (job === 'screen' && !dataFile) {
    dataFile = (await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Screen', title: 'Screen which training data? (JSONL of {"messages"} or {"question","answer"}, or CSV)',
      filters: { 'Training data': ['jsonl', 'csv'] } }))?.[0]?.fsPath;
    if (!dataFile) return undefined;
  }
  const L = checkpointLayerCount(target.path);
  const layer = await picks.layer(args.layer, L === undefined ? undefined : projectionLayerDefault(L, toy), TITLES[job]);
  if (layer === undefined) return undefined;
  const o = resolveOptions(JOBS[job], job === 'monitor' ? { samples: args.samples, 'max-questions': args.maxQuestions } : {}, toy);
  const evalTrait = job === 'monitor' ? loadTraitFile(findTraitFile('eval', trait, { ws, modelTraitsDir })) : undefined;
  const spec = job === 'monitor' ? await judgeSpecWithSecret(toy, s.secrets) : undefined;
  return s.jobs.run(`Persona Lab: ${TITLES[job]} — ${trait} on ${id.name}@${id.revision} at layer ${layer}`, async ({ client, signal, progress }) => {
    const info = await client.loadModel({ path: target.path, revision: target.revision, ...modelLoadSettings() });
    try {
      if (layer > info.config.numLayers) throw new Error(`layer ${layer} is out of range: ${id.name} has rows 0..${info.config.numLayers} (hidden_states)`);
      const model: ModelHandle = { backend: client, info, name: id.name, revision: id.revision, commit: id.commit };
      const samp = samplingFor({}, toy, modelKind(model) === 'chat');
      const common = { ws, model, trait, vectorPath, kind: o.kind as VectorKind, layer, sampling: samp.params, samplerPreset: samp.preset, seed: o.seed as number,
        chunkSize: o['chunk-size'] as number, batchSize: o['batch-size'] as number, progress, signal };
      let out: ResearchOutcome;
      if (job === 'monitor') {
        const toyPrompts = toy ? path.join(path.dirname(modelTraitsDir!), 'world', 'monitoring-prompts.json') : undefined;
        const prompts: MonitorPrompt[] = args.promptsFile ? readMonitorPrompts(args.promptsFile)
          : toyPrompts && existsSync(toyPrompts) ? toyMonitoringPrompts(toyPrompts, trait)
            : promptsFromTrait(loadTraitFile(findTraitFile('extract', trait, { ws, modelTraitsDir }), { requireInstruction: true }), trait);
        const judge = await createJudge(spec!, ws, { onRetry: (i) => s.log.warn(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
        const r = await runMonitoring({ ...common, judge, evalTrait: evalTrait!, prompts, samples: o.samples as number, maxQuestions: o['max-questions'] as number | undefined });
        out = { runDir: r.run.dir, summary: `r(projection, trait) ${fmt3(r.rAnswers)} over answers, ${fmt3(r.rPromptMeans)} over ${r.prompts.length} system prompts` };
      } else {
        const { samples, sha256 } = readScreenData(dataFile!, modelKind(model));
        const r = await runScreening({ ...common, data: samples, dataSha256: sha256 });
        out = { runDir: r.run.dir, summary: `dataset ΔP ${fmt3(r.datasetDeltaP)} over ${samples.length} samples (> 0 pulls toward ${trait})` };
      }
      s.refreshViews();
      s.log.info(`${TITLES[job]} ${trait}: ${out.summary} (${out.runDir})`);
      void vscode.window.showInformationMessage(`Persona Lab: ${TITLES[job]} ${trait}: ${out.summary}`, 'Reveal Run').then((b) => (b ? vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(out.runDir)) : undefined));
      return out;
    } finally {
      await client.unloadModel(info.modelId).catch(() => undefined);
    }
  });
}

const fmt3 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3));

function workspaceOf(s: ResearchServices): Workspace | undefined {
  const root = s.locations.workspaceDataFolder();
  if (!root) { void vscode.window.showErrorMessage('Persona Lab writes runs into the workspace folder. Open a folder first (File > Open Folder).'); return undefined; }
  return new Workspace(root);
}

/** The finished toast; its action stays reachable from the run's item in Runs (Open Judge Results / Open Grid Results). */
function finished(message: string, kind: VectorJobKind, runDir: string): void {
  const [label, command] = kind === 'grid' ? ['Open Grid', 'personaLab.openGrid'] : ['Open Judge Results', 'personaLab.openJudgeResults'];
  void vscode.window.showInformationMessage(`Persona Lab: ${message}`, label).then((b) => (b ? vscode.commands.executeCommand(command, runDir) : undefined));
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(1));

export type { Checkpoint };
