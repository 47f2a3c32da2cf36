/**
 * "Extract Persona Vector": pick a checkpoint (or right-click a revision in the Models view) and a trait, then
 * run src/core's extraction — generate pos/neg answers, judge, filter pairs, capture, mean difference — into the
 * workspace folder, with progress and cancellation. A rerun resumes the same run (nothing completed is redone).
 * Judge: the offline rubric judge for the embedded toy model; an OpenAI-compatible judge from the
 * personaLab.judge.* settings (API key from OPENAI_API_KEY) for any other model.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { PipelineError } from '../core/errors.js';
import { createJudge, type JudgeSpec } from '../core/judge/factory.js';
import { identifyModel } from '../core/models.js';
import { runExtraction } from '../core/pipeline.js';
import { SAMPLER_PRESETS } from '../core/sampling.js';
import { isToyModelPath } from '../core/toy/paths.js';
import { Workspace } from '../core/storage/workspace.js';
import { loadTraitFile } from '../core/traits/load.js';
import { modelLoadSettings, readSettings } from './config.js';
import type { JobRunner } from './jobs.js';
import type { Locations } from './locations.js';
import type { DiscoveredModel } from './modelDiscovery.js';
import { RevisionItem } from './views/modelsView.js';

/** Arguments for scripted use (tests, other extensions); every field is asked for when missing. */
export interface ExtractArgs { modelPath?: string; revision?: string; trait?: string; samples?: number; maxQuestions?: number }

export interface ExtractServices { log: vscode.LogOutputChannel; locations: Locations; jobs: JobRunner; listModels(): DiscoveredModel[]; refreshViews(): void }

export interface ExtractOutcome { status: 'ok' | 'not-extractable'; vectorPath?: string; statusPath?: string; pairsKept: number; pairsTotal: number; runDir: string; reason?: string }

export async function extractVector(s: ExtractServices, arg?: RevisionItem | ExtractArgs): Promise<ExtractOutcome | undefined> {
  const root = s.locations.workspaceDataFolder();
  if (!root) { void vscode.window.showErrorMessage('Persona Lab writes vectors into the workspace folder. Open a folder first (File > Open Folder).'); return undefined; }
  const args: ExtractArgs = arg instanceof RevisionItem ? { modelPath: arg.revision.path ?? arg.model.path, revision: arg.revision.path ? undefined : arg.revision.name } : arg ?? {};
  const target = args.modelPath ? { path: args.modelPath, revision: args.revision } : await pickCheckpoint(s.listModels());
  if (!target) return undefined;
  const toy = isToyModelPath(target.path);
  const ws = new Workspace(root);
  const trait = args.trait ?? await pickTrait(ws, toy ? s.locations.embeddedTraitsFolder() : undefined);
  if (!trait) return undefined;
  const traitFile = [ws.traitPath('extract', trait), path.join(s.locations.embeddedTraitsFolder(), `${trait}.json`)].find((f) => existsSync(f) && (toy || f.startsWith(root)));
  if (!traitFile) throw new Error(`no extraction trait file for "${trait}": put it at ${ws.traitPath('extract', trait)}`);
  const spec = judgeSpec(toy);
  const id = identifyModel(target.path, target.revision);
  return s.jobs.run(`Persona Lab: extracting ${trait} on ${id.name}@${id.revision}`, async ({ client, signal, progress }) => {
    const info = await client.loadModel({ path: target.path, revision: target.revision, ...modelLoadSettings() });
    try {
      const judge = await createJudge(spec, ws, { onRetry: (i) => s.log.warn(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
      const preset = toy ? 'toy' : info.hasChatTemplate ? 'pv' : 'pp';
      const { run, result } = await runExtraction({
        ws, model: { backend: client, info, name: id.name, revision: id.revision, commit: id.commit }, judge, trait,
        traitFile: loadTraitFile(traitFile, { requireInstruction: true }), sampling: SAMPLER_PRESETS[preset], samplerPreset: preset,
        seed: 0, samples: args.samples ?? (toy ? 2 : 10), maxQuestions: args.maxQuestions, progress, signal,
      });
      s.refreshViews();
      const f = result.filter;
      if (result.status === 'ok') {
        s.log.info(`${trait}: ${f.pairs_kept}/${f.pairs_total} pairs kept → ${result.vectorPath}`);
        void vscode.window.showInformationMessage(`Persona Lab: ${trait} vector extracted (${f.pairs_kept}/${f.pairs_total} pairs kept).`);
        return { status: 'ok', vectorPath: result.vectorPath, pairsKept: f.pairs_kept, pairsTotal: f.pairs_total, runDir: run.dir };
      }
      s.log.warn(`${trait}: not extractable — ${result.reason}`);
      void vscode.window.showWarningMessage(`Persona Lab: ${trait} is not extractable at ${id.name}@${id.revision}: ${result.reason}`);
      return { status: 'not-extractable', statusPath: result.statusPath, pairsKept: f.pairs_kept, pairsTotal: f.pairs_total, runDir: run.dir, reason: result.reason };
    } finally {
      await client.unloadModel(info.modelId).catch(() => undefined);
    }
  });
}

function judgeSpec(toy: boolean): JudgeSpec {
  if (toy) return { kind: 'rubric' };
  const { baseUrl, model } = readSettings().judge;
  if (!baseUrl || !model) {
    throw new PipelineError('judge-not-configured', 'this model needs an LLM judge: set personaLab.judge.baseUrl and personaLab.judge.model (an OpenAI-compatible endpoint with logprobs) and OPENAI_API_KEY in the environment');
  }
  return { kind: 'openai', baseURL: baseUrl, model, apiKey: process.env.OPENAI_API_KEY };
}

export async function pickCheckpoint(models: DiscoveredModel[], title = 'Extract a persona vector on which checkpoint?'): Promise<{ path: string; revision?: string } | undefined> {
  const items = models.flatMap((m) => (m.revisions.length ? m.revisions : [{ name: 'main', path: m.path }])
    .map((r) => ({ label: `${m.name}@${r.name}`, description: r.path ?? m.path, target: r.path ? { path: r.path } : { path: m.path, revision: r.name } })));
  if (items.length === 0) throw new Error('no models found: add a checkpoint folder with "Persona Lab: Add Model Folder"');
  return (await vscode.window.showQuickPick(items, { title }))?.target;
}

async function pickTrait(ws: Workspace, embedded: string | undefined): Promise<string | undefined> {
  const names = new Set<string>();
  for (const dir of [path.join(ws.traitsDir, 'extract'), embedded]) {
    if (dir && existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.json')) names.add(f.slice(0, -5));
  }
  if (names.size === 0) throw new Error(`no trait files: put one at ${path.join(ws.traitsDir, 'extract', '<trait>.json')} (upstream schema)`);
  return vscode.window.showQuickPick([...names].sort(), { title: 'Which trait?' });
}
