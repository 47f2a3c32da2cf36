/**
 * "Run Checkpoint Sweep": for a model with several revisions (the Models view's model item, or a pick), extract the
 * chosen traits and steer with them at every revision — src/core/sweep.ts, the same job as `persona-lab sweep`, with
 * progress and cancellation. Steering points come from the model's manifest (recommendedSteering) unless given.
 * Results: runs/sweep-…/combined_significance.csv and geometry/ in the workspace folder; the log gets a summary.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { findTraitFile, recommendedSteering, resolveOptions, samplingFor, steeringPoints, type OptionValues } from '../core/jobs/defaults.js';
import { runSweep, type SweepTrait } from '../core/jobs/sweep.js';
import { JOBS } from '../core/jobs/table.js';
import { createJudge } from '../core/judge/factory.js';
import { isToyModelPath } from '../core/toy/paths.js';
import { Workspace } from '../core/storage/workspace.js';
import { loadTraitFile } from '../core/traits/load.js';
import { judgeSpec, modelIdentity, modelLoadSettings } from './config.js';
import type { ExtractServices } from './extractCommand.js';
import type { DiscoveredModel } from './modelDiscovery.js';
import { ModelItem } from './views/modelsView.js';
import { buildPlan, submitPlan, sweepPlanUnits, writePlan, type Submission } from '../core/slurm/plan.js';

export interface SweepArgs { modelPath?: string; revisions?: string[]; traits?: string[]; steering?: Record<string, { layer: number; coef: number }>; maxQuestions?: number;
  /** The sweep job's sample counts, seeds and pair threshold (the table's defaults when not given): Rerun passes a run's recorded ones. */
  samples?: number; evalSamples?: number; seed?: number; evalSeed?: number; threshold?: number;
  /** Where to run: this machine (the extension's worker) or Slurm (sbatch on this host, e.g. a login node under Remote-SSH). */
  where?: 'local' | 'slurm' }
export interface SweepOutcome { runDir: string; rows: Record<string, unknown>[]; submitted?: Submission }

export async function runCheckpointSweep(s: ExtractServices, arg?: ModelItem | SweepArgs): Promise<SweepOutcome | undefined> {
  const root = s.locations.workspaceDataFolder();
  if (!root) { void vscode.window.showErrorMessage('Persona Lab writes sweep results into the workspace folder. Open a folder first (File > Open Folder).'); return undefined; }
  const args: SweepArgs = arg instanceof ModelItem ? { modelPath: arg.model.path } : arg ?? {};
  const model = args.modelPath ? s.listModels().find((m) => path.resolve(m.path) === path.resolve(args.modelPath!)) : await pickModel(s.listModels());
  if (!model) { if (args.modelPath) throw new Error(`${args.modelPath} is not a model in the Models view`); return undefined; }
  const withPaths = model.revisions.filter((r): r is typeof r & { path: string } => typeof r.path === 'string');
  if (withPaths.length < 2) throw new Error(`${model.name} has ${withPaths.length} checkpoint folder(s); a sweep needs a model with several revisions (revisions/<name>/)`);
  // `main` (the final checkpoint) first and focused; the sweep still runs the picked revisions in training order.
  const order = withPaths.map((r) => r.name);
  const revisions = args.revisions ?? (await vscode.window.showQuickPick(
    [...withPaths].sort((a, b) => Number(b.name === 'main') - Number(a.name === 'main')).map((r) => ({ label: r.name, description: r.name === 'main' ? 'final checkpoint' : undefined, picked: true })),
    { canPickMany: true, title: 'Sweep which revisions? (run in training order)' }))?.map((i) => i.label).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  if (revisions?.length === 0) { void vscode.window.showWarningMessage('Persona Lab: no revision selected, so no sweep was started. Tick at least one revision and press OK.'); return undefined; }
  if (!revisions?.length) return undefined;
  const recommended = recommendedSteering(model.path);
  const ws = new Workspace(root);
  const traitNames = args.traits ?? (await vscode.window.showQuickPick(Object.keys({ ...recommended, ...args.steering }), { canPickMany: true, title: 'Which traits?' }));
  if (traitNames?.length === 0) { void vscode.window.showWarningMessage('Persona Lab: no trait selected, so no sweep was started. Tick at least one trait (Space) and press OK.'); return undefined; }
  if (!traitNames?.length) return undefined;
  const points = steeringPoints(traitNames, { explicit: args.steering, recommended });
  const traits: SweepTrait[] = traitNames.map((t) => {
    const file = (set: 'extract' | 'eval') => findTraitFile(set, t, { ws, modelTraitsDir: path.join(model.path, 'traits') });
    return { trait: t, extract: loadTraitFile(file('extract'), { requireInstruction: true }), eval: loadTraitFile(file('eval')), ...points[t] };
  });
  const toy = isToyModelPath(model.path);
  if (!toy) throw new Error('the sweep command runs on the embedded toy model from the editor for now; use `persona-lab sweep --judge openai …` for other models');
  // Asked in the interactive flow only: a caller passing SweepArgs (tests, other commands) runs here unless it says slurm.
  const interactive = arg === undefined || arg instanceof ModelItem;
  const where = args.where ?? (!interactive ? 'local' : (await vscode.window.showQuickPick([
    { label: 'This machine', description: 'the extension\'s inference worker', where: 'local' as const },
    { label: 'Slurm', description: 'sbatch on this host: one array task per revision × trait, then the merge', where: 'slurm' as const },
  ], { title: 'Run the sweep where?' }))?.where);
  if (!where) return undefined;
  // The sweep job's declared defaults (src/core/jobs/table.ts), as `persona-lab sweep` resolves them.
  const given: OptionValues = { 'max-questions': args.maxQuestions, samples: args.samples, 'eval-samples': args.evalSamples, seed: args.seed, 'eval-seed': args.evalSeed, threshold: args.threshold };
  if (where === 'slurm') return submitSweepToSlurm(s, ws, model.path, revisions, traits, given);
  const byName = new Map(withPaths.map((r) => [r.name, r.path]));
  const o = resolveOptions(JOBS.sweep, given, toy);
  return s.jobs.run(`Persona Lab: sweeping ${traitNames.join(', ')} over ${revisions.length} revisions of ${model.name}`, async ({ client, signal, progress }) => {
    const judge = await createJudge(judgeSpec(toy), ws);
    const load = modelLoadSettings();
    const samp = samplingFor({}, toy, false);
    const maxQuestions = o['max-questions'] as number | undefined;
    const { run, rows } = await runSweep({
      ws, judge, modelName: modelIdentity(byName.get(revisions[0])!).name, revisions, traits, sampling: samp.params, samplerPreset: samp.preset,
      extract: { samples: o.samples as number, seed: o.seed as number, threshold: o.threshold as number, maxQuestions },
      evaluate: { samples: o['eval-samples'] as number, seed: o['eval-seed'] as number, maxQuestions },
      chunkSize: o['chunk-size'] as number, batchSize: o['batch-size'] as number,
      openModel: async (revision) => {
        const p = byName.get(revision);
        if (!p) throw new Error(`revision ${revision} is not one of ${[...byName.keys()].join(', ')}`);
        const info = await client.loadModel({ path: p, ...load });
        const id = modelIdentity(p);
        return { model: { backend: client, info, name: id.name, revision, commit: id.commit }, close: () => client.unloadModel(info.modelId) };
      },
      progress, signal,
    });
    s.refreshViews();
    for (const r of rows) s.log.info(`sweep ${String(r.eval_revision)} ${String(r.trait)}: ${r.vector_exists ? `Δτ ${Number(r.delta_trait_mean).toFixed(1)}, p(Bonf.) ${String(r.trait_primary_p_two_sided_bonferroni_within_trait)}` : String(r.status)}`);
    void vscode.window.showInformationMessage(`Persona Lab: sweep done — ${run.path('combined_significance.csv')}`, 'Open Dashboard')
      .then((b) => (b ? vscode.commands.executeCommand('personaLab.openSweepDashboard', run.dir) : undefined));
    return { runDir: run.dir, rows };
  });
}

/**
 * The same plan as `persona-lab sweep … --slurm --submit` (src/core/slurm/plan.ts), from the editor's picks; the Runs
 * view then shows its units' states. The jobs run the extension's own CLI (dist/cli.js) with this host's Node (an
 * Electron host runs as node), so the extension folder must be on a filesystem the compute nodes see.
 */
function submitSweepToSlurm(s: ExtractServices, ws: Workspace, modelPath: string, revisions: string[], traits: SweepTrait[], given: OptionValues): SweepOutcome {
  const names = traits.map((t) => t.trait);
  const picked = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const flags = { model: modelPath, revisions: revisions.join(','), trait: names, steering: traits.map((t) => `${t.trait}=${t.layer}:${t.coef}`).join(','),
    ...picked, ...slurmSettings() };
  const { units, merge } = sweepPlanUnits(revisions, names);
  const plan = buildPlan({ job: 'sweep', label: `${path.basename(modelPath)}-${names.join('+')}`, flags, specs: JOBS.sweep, ws, units, merge,
    cli: [process.execPath, s.locations.cliScript()], cwd: ws.root, setup: process.versions.electron ? ['export ELECTRON_RUN_AS_NODE=1'] : [] });
  const { dir } = writePlan(ws, plan);
  const submitted = submitPlan(dir);
  s.log.info(`sweep submitted to Slurm: array job ${submitted.arrayJobId} (${plan.units.length} units), merge job ${submitted.mergeJobId}; plan ${dir}`);
  s.refreshViews();
  void vscode.window.showInformationMessage(`Persona Lab: sweep submitted to Slurm — array job ${submitted.arrayJobId}, ${plan.units.length} units; the Runs view shows their states.`);
  return { runDir: dir, rows: [], submitted };
}

/**
 * personaLab.slurm.* as the job table's --slurm-* values (src/core/jobs/table.ts SLURM_OPTIONS, no defaults of their
 * own): an empty string or 0 leaves the option out, so the cluster's defaults apply.
 */
export function slurmSettings(): OptionValues {
  const c = vscode.workspace.getConfiguration('personaLab.slurm');
  const str = (k: string) => c.get<string>(k)?.trim() || undefined;
  const num = (k: string) => c.get<number>(k) || undefined;
  return Object.fromEntries(Object.entries({
    'slurm-partition': str('partition'), 'slurm-account': str('account'), 'slurm-qos': str('qos'), 'slurm-gres': str('gres'), 'slurm-time': str('time'),
    'slurm-mem': str('mem'), 'slurm-cpus-per-task': num('cpusPerTask'), 'slurm-throttle': num('throttle'), 'slurm-sbatch': str('sbatch'), 'slurm-setup': str('setup'),
  }).filter(([, v]) => v !== undefined));
}

async function pickModel(models: DiscoveredModel[]): Promise<DiscoveredModel | undefined> {
  const multi = models.filter((m) => m.revisions.filter((r) => r.path).length > 1);
  if (multi.length === 0) throw new Error('no model with several revisions found (a folder with revisions/<name>/ or a manifest listing them)');
  return (await vscode.window.showQuickPick(multi.map((m) => ({ label: m.name, description: m.path, model: m })), { title: 'Sweep which model?' }))?.model;
}
