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
import { findTraitFile, resolveOptions, samplingFor } from '../core/jobs/defaults.js';
import { runExtraction } from '../core/jobs/pipeline.js';
import { JOBS } from '../core/jobs/table.js';
import { createJudge } from '../core/judge/factory.js';
import { isToyModelPath } from '../core/toy/paths.js';
import { Workspace } from '../core/storage/workspace.js';
import { loadTraitFile } from '../core/traits/load.js';
import { judgeSpec, modelIdentity, modelLoadSettings } from './config.js';
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
  const traitFile = findTraitFile('extract', trait, { ws, modelTraitsDir: toy ? path.dirname(s.locations.embeddedTraitsFolder()) : undefined });
  const spec = judgeSpec(toy);
  // The extract job's declared defaults (src/core/jobs/table.ts), as `persona-lab extract` resolves them.
  const o = resolveOptions(JOBS.extract, { samples: args.samples, 'max-questions': args.maxQuestions }, toy);
  const id = modelIdentity(target.path, target.revision);
  return s.jobs.run(`Persona Lab: extracting ${trait} on ${id.name}@${id.revision}`, async ({ client, signal, progress }) => {
    const info = await client.loadModel({ path: target.path, revision: target.revision, ...modelLoadSettings() });
    try {
      const judge = await createJudge(spec, ws, { onRetry: (i) => s.log.warn(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
      const samp = samplingFor({}, toy, info.hasChatTemplate);
      const { run, result } = await runExtraction({
        ws, model: { backend: client, info, name: id.name, revision: id.revision, commit: id.commit }, judge, trait,
        traitFile: loadTraitFile(traitFile, { requireInstruction: true }), sampling: samp.params, samplerPreset: samp.preset,
        seed: o.seed as number, samples: o.samples as number, maxQuestions: o['max-questions'] as number | undefined,
        threshold: o.threshold as number, minPairs: o['min-pairs'] as number, chunkSize: o['chunk-size'] as number, batchSize: o['batch-size'] as number, progress, signal,
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
