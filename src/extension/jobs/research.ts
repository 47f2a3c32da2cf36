/**
 * The research commands that steer with a stored vector — Evaluate Steering, Run Layer × Coef Grid, Run Controls —
 * and Compute Activation Norms: each asks for what it needs (./picks.ts: a checkpoint, a trait, a layer and
 * coefficient, remembering the last answers), fills the job's option object from src/core/jobs/table.ts (the same
 * declared defaults `persona-lab evaluate|grid|controls|norms` resolve; nothing is restated here) and runs the core
 * job under the JobRunner (cancellable progress, live in Runs). Arguments given by a caller (tests, other
 * extensions, a Runs "rerun") skip the matching pick.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { modelKind, type ModelHandle } from '../../core/backend.js';
import { measureActivationNorms, normsFile, writeNormsCsv } from '../../core/calibration.js';
import { findTraitFile, recommendedSteering, resolveOptions, samplingFor, type OptionValues } from '../../core/jobs/defaults.js';
import { runControlsJob, runEvaluation, runGridJob, type VectorJob } from '../../core/jobs/pipeline.js';
import { JOBS, type JobName } from '../../core/jobs/table.js';
import { createJudge } from '../../core/judge/factory.js';
import { identifyModel } from '../../core/models.js';
import { evalPrompt } from '../../core/prompts.js';
import { isToyModelPath } from '../../core/toy/paths.js';
import { Workspace } from '../../core/storage/workspace.js';
import { loadTraitFile, type LoadedTrait } from '../../core/traits/load.js';
import type { VectorKind } from '../../core/vectors/file.js';
import type { ControlMode, ControlProjection } from '../../core/evaluation/controls.js';
import { judgeSpecWithSecret, modelLoadSettings } from '../config.js';
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
}

export interface ResearchServices extends ExtractServices {
  /** Remembers the last picks (workspaceState). */
  memory: vscode.Memento;
  /** Where "Set Judge API Key" keeps the judge's key. */
  secrets?: vscode.SecretStorage;
}

export interface ResearchOutcome { runDir: string; summary: string }

type VectorJobKind = Extract<JobName, 'evaluate' | 'grid' | 'controls'>;
const TITLES: Record<VectorJobKind | 'norms', string> = { evaluate: 'Evaluate Steering', grid: 'Layer × Coef Grid', controls: 'Controls', norms: 'Activation Norms' };

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
  const id = identifyModel(target.path, target.revision);
  const vectorPath = ws.vectorPath(id.name, id.revision, trait);
  const given: OptionValues = { samples: args.samples, 'max-questions': args.maxQuestions };
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
        ws, model, judge, trait, evalTrait, instructionTrait, vectorPath, kind: o.kind as VectorKind, sampling: samp.params, samplerPreset: samp.preset,
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
  const id = identifyModel(target.path, target.revision);
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
