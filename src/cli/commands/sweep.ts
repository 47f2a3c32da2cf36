/** persona-lab sweep: extract and steer at every checkpoint of a model (upstream checkpoint_sweep.sh). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, flag, fmt, judgeSpec, list, num, printJson, progressPrinter, required, sampling, startWorker, str, throughput, toyDir, traitFiles, workspace } from '../common.js';
import { loadOptionsFor, parseSteering, recommendedSteering, steerScalingFor, steeringPoints } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { createJudge } from '../../core/judge/factory.js';
import { isToyModelPath } from '../../core/toy/paths.js';
import { identifyModel } from '../../core/models.js';
import { sortRevisions } from '../../core/geometry/revisions.js';
import { runSweep, runSweepUnits, type SweepJob, type SweepTrait } from '../../core/jobs/sweep.js';
import { checkTransferScaling, type TransferScaling } from '../../core/jobs/transfer.js';
import { emitSlurmPlan } from './jobs.js';
import { sweepPlanUnits } from '../../core/slurm/plan.js';

export const sweepCommand: CliCommand = {
  name: 'sweep',
  summary: 'Checkpoint sweep: extract each trait and steer with it at every revision; one table with Bonferroni; geometry',
  options: JOBS.sweep,
  usage: `persona-lab sweep --trait <name>[,<name>…] [--revisions all|a,b,c] [--layer ℓ --coef c | --steering evil=4:6,impolite=4:4]
  [--transfer-to <checkpoint folder> [--transfer-scaling match-target|target-norm|raw] [--no-same-checkpoint]] [options]
  The model is a folder with revisions/<name>/ checkpoints (like models/toy-persona, the default; revisions in its
  manifest's order) or an HF cache repo folder (models--org--name) with --revisions. Per-trait steering points default
  to the model manifest's recommendedSteering. A revision whose extraction keeps too few pairs gets a nonextractable
  row and the sweep goes on. Writes <workspace>/runs/sweep-…/{combined.csv, combined_significance.csv, geometry/}.
  Rerunning resumes every completed stage. --transfer-to also evaluates every revision's vector on one target model
  (upstream transfer_sweep; e.g. models/toy-persona-instruct): baseline once per trait, the target's own vector as the
  reference row, Bonferroni over the source checkpoints → transfer_combined*.csv. match-target (default) rescales each
  vector to the norm of the target's own vector (a pure direction transfer); target-norm to the target's mean hidden-state
  norm at the layer (upstream VECTOR_NORM: then coef is a fraction of it, e.g. 0.5); raw uses the vectors as they are.
  --scaling unit (coef·v̂) or target-norm --target-norm N (coef·N·v̂) has the worker scale every steered vector, at each
  checkpoint and, with --transfer-scaling raw, on the target; raw (default) adds coef·v.
  Each revision's activation norms are written to <workspace>/norms/<model>/<revision>_shared_norms.csv (upstream format).
  --slurm writes a Slurm job-array plan instead (one task per revision × trait, then a merge job; --submit sbatches it;
  persona-lab jobs status|resume RUN follow it). --unit and --merge are what those jobs run.`,
  async run(ctx) {
    const traits = list(ctx, 'trait') ?? [];
    if (traits.length === 0) throw new UsageError('--trait is required');
    const ws = workspace(ctx);
    const { root, revisions, hfCache } = resolveRevisions(ctx);
    const points = steeringPoints(traits, { explicit: parseSteering(str(ctx, 'steering')), layer: num(ctx, 'layer'), coef: num(ctx, 'coef'), recommended: recommendedSteering(root) });
    const sweepTraits: SweepTrait[] = traits.map((trait) => {
      const files = traitFiles(ctx, ws, trait, { extract: true, eval: true });
      return { trait, extract: files.extract!, eval: files.eval!, ...points[trait] };
    });
    const isToy = isToyModelPath(root);
    // --scaling (the worker's, at every checkpoint and in the transfer) against --transfer-scaling: usage errors now, before any load.
    const steerScaling = steerScalingFor(ctx.flags);
    const transferScaling = required<TransferScaling>(ctx, 'transfer-scaling');
    const transferTo = str(ctx, 'transfer-to');
    if (transferTo && !existsSync(transferTo)) throw new UsageError(`--transfer-to ${transferTo} does not exist`);
    if (transferTo) checkTransferScaling(transferScaling, steerScaling);
    if (flag(ctx, 'slurm')) {
      // One array task per revision × trait cell (src/core/jobs/sweep.ts: sweepUnits), then the merge after them all.
      const { units, merge } = sweepPlanUnits(revisions, traits);
      return emitSlurmPlan(ctx, ws, 'sweep', `${path.basename(root)}-${traits.join('+')}`, units, merge);
    }
    const unitArg = str(ctx, 'unit');
    const unit = unitArg ? { revision: unitArg.slice(0, unitArg.lastIndexOf(':')), trait: unitArg.slice(unitArg.lastIndexOf(':') + 1) } : undefined;
    if (unit && (!revisions.includes(unit.revision) || !traits.includes(unit.trait))) throw new UsageError(`--unit ${unitArg}: needs <revision>:<trait> with a revision of ${revisions.join(', ')} and a trait of ${traits.join(', ')}`);
    if (unit && flag(ctx, 'merge')) throw new UsageError('--unit and --merge exclude each other');
    const loadOptions = loadOptionsFor(ctx.flags);
    const client = await startWorker(ctx);
    try {
      const judge = await createJudge(judgeSpec(ctx, isToy), ws, { onRetry: (i) => ctx.stderr(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
      let chat: boolean | undefined;
      // The sampler depends on chat vs base, so the first revision is opened before the sweep starts; the sweep then
      // takes that open model instead of loading it a second time.
      let preopened: Awaited<ReturnType<typeof load>> | undefined;
      const first = unit?.revision ?? revisions[0];
      const openModel = async (revision: string) => {
        if (preopened && revision === first) { const m = preopened; preopened = undefined; return m; }
        return load(revision);
      };
      const load = async (revision: string) => {
        const p = hfCache ? root : path.join(root, 'revisions', revision);
        ctx.stderr(`loading ${path.basename(root)}@${revision} …`);
        const info = await client.loadModel({ path: p, revision: hfCache ? revision : undefined, ...loadOptions });
        chat ??= info.hasChatTemplate;
        const id = identifyModel(p, hfCache ? revision : undefined, loadOptions.weightFormat);
        return { model: { backend: client, info, name: id.name, revision, commit: id.commit }, close: () => client.unloadModel(info.modelId) };
      };
      preopened = await load(first);
      const samp = sampling(ctx, isToy, chat!);
      const modelName = identifyModel(hfCache ? root : path.join(root, 'revisions', revisions[0]), undefined, loadOptions.weightFormat).name;
      const transfer = transferTo ? {
        scaling: transferScaling,
        openTarget: async () => {
          const p = path.resolve(transferTo);
          ctx.stderr(`loading transfer target ${p} …`);
          const info = await client.loadModel({ path: p, ...loadOptions });
          const id = identifyModel(p, undefined, loadOptions.weightFormat);
          return { model: { backend: client, info, name: id.name, revision: id.revision, commit: id.commit }, close: () => client.unloadModel(info.modelId) };
        },
      } : undefined;
      const job: SweepJob = {
        transfer, sameCheckpoint: !flag(ctx, 'no-same-checkpoint'), scaling: steerScaling,
        ws, judge, modelName, revisions, openModel, traits: sweepTraits, sampling: samp.params, samplerPreset: samp.preset,
        extract: { samples: required(ctx, 'samples', isToy), seed: required(ctx, 'seed'), threshold: required(ctx, 'threshold'), maxQuestions: num(ctx, 'max-questions') },
        evaluate: { samples: required(ctx, 'eval-samples', isToy), seed: required(ctx, 'eval-seed'), maxQuestions: num(ctx, 'max-questions') },
        runId: str(ctx, 'run-id'), progress: progressPrinter(ctx, 'sweep'), signal: ctx.signal, ...throughput(ctx),
      };
      if (unit) {
        const { runDir, ran } = await runSweepUnits(job, [unit]);
        if (ctx.json) printJson(ctx, { unit, runDir, ran: ran.length > 0 });
        else ctx.stdout(`${unit.revision}/${unit.trait}: ${ran.length ? 'done' : 'already done'} → ${path.relative(process.cwd(), runDir)}/units/`);
        return EXIT.ok;
      }
      // The merge job opens no checkpoint but the one that told chat from base: free it before merging.
      if (flag(ctx, 'merge') && preopened) { await preopened.close(); preopened = undefined; }
      const { run, rows, trajectories, transferRows } = await runSweep(job, { mergeOnly: flag(ctx, 'merge') });
      if (ctx.json) { printJson(ctx, { runId: run.runId, runDir: run.dir, rows, trajectories, transferRows }); return EXIT.ok; }
      ctx.stdout(`${'revision'.padEnd(20)} ${'trait'.padEnd(12)} ${'pairs'.padStart(7)} ${'Δτ'.padStart(6)} ${'coh'.padStart(5)} ${'p (Bonf.)'.padStart(10)} ${'cos→main'.padStart(8)}`);
      for (const r of rows) {
        const t = trajectories[String(r.trait)];
        const cos = t?.revisions.includes(String(r.eval_revision)) ? (r.eval_revision === t.main ? 1 : t.toMain.find((x) => x.revision === r.eval_revision)?.cosine) : undefined;
        const p = r.trait_primary_p_two_sided_bonferroni_within_trait;
        ctx.stdout(`${String(r.eval_revision).padEnd(20)} ${String(r.trait).padEnd(12)} ${String(r.effective_rows ?? 0).padStart(7)} ${r.vector_exists ? fmt(r.delta_trait_mean as number).padStart(6) : '  none'} ` +
          `${r.vector_exists ? fmt(r.output_coherence_mean as number).padStart(5) : '     '} ${typeof p === 'number' ? p.toPrecision(2).padStart(10) : ''.padStart(10)} ${fmt(cos, 3).padStart(8)}`);
      }
      if (transferRows?.length) {
        ctx.stdout(`transfer to ${String(transferRows[0].eval_revision)}:`);
        for (const r of transferRows) {
          const p = r.trait_primary_p_two_sided_bonferroni_within_trait;
          ctx.stdout(`  ${String(r.extract_revision).padEnd(32)} ${String(r.trait).padEnd(12)} Δτ ${fmt(r.delta_trait_mean as number).padStart(6)} coh ${fmt(r.output_coherence_mean as number).padStart(5)} ${typeof p === 'number' ? `p ${p.toPrecision(2)}` : ''}`);
        }
      }
      ctx.stdout(`tables: ${path.relative(process.cwd(), run.path('combined_significance.csv'))}; geometry: ${path.relative(process.cwd(), run.path('geometry'))}`);
      return EXIT.ok;
    } finally { await client.dispose(); }
  },
};

function resolveRevisions(ctx: Parameters<CliCommand['run']>[0]): { root: string; revisions: string[]; hfCache: boolean } {
  const root = path.resolve(str(ctx, 'model') ?? toyDir('no --model given and the embedded toy model was not found; pass --model <folder with revisions/>'));
  if (!existsSync(root)) throw new UsageError(`model folder ${root} does not exist; pass --model <folder with revisions/> or the toy is missing`);
  const manifestFile = path.join(root, 'manifest.json');
  const manifest = existsSync(manifestFile) ? JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown> : null;
  const asked = required(ctx, 'revisions');
  const hfCache = path.basename(root).startsWith('models--');
  let available: string[];
  if (hfCache) {
    if (asked === 'all') throw new UsageError('an HF cache repo needs --revisions a,b,c (the branches or commits to sweep)');
    available = asked.split(',');
  } else if (existsSync(path.join(root, 'revisions'))) {
    const listed = Array.isArray(manifest?.revisions) ? (manifest.revisions as { name: string }[]).map((r) => r.name) : [];
    available = listed.length ? listed : sortRevisions(readdirSync(path.join(root, 'revisions')));
  } else {
    throw new UsageError(`${root} has no revisions/ folder: a sweep needs a model with several checkpoints (a folder with revisions/<name>/, or an HF cache repo folder with --revisions)`);
  }
  const revisions = asked === 'all' || hfCache ? available : asked.split(',').map((r) => r.trim()).filter(Boolean);
  for (const r of revisions) if (!available.includes(r)) throw new UsageError(`revision ${r} is not one of ${available.join(', ')}`);
  return { root, revisions, hfCache };
}
