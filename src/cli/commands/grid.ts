/** persona-lab grid: layer × coefficient sweep with baseline, prompting baseline and a fine pass at the knee. */
import type { CliCommand } from '../command.js';
import { EXIT, flag, fmt, num, numList, openSession, printJson, required, workspace } from '../common.js';
import { emitSlurmPlan } from './jobs.js';
import { steerScalingFor } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { vectorJobBase } from '../vector-jobs.js';
import { runGridJob } from '../../core/jobs/pipeline.js';

export const gridCommand: CliCommand = {
  name: 'grid',
  summary: 'Layer × coefficient steering grid; reports the best (layer, coef) with coherence ≥ 50',
  options: JOBS.grid,
  usage: `persona-lab grid --trait <name> [options]
  Lists accept "a,b,c" and inclusive ranges "start:stop:step". --refine adds coefficients at that step between each layer's
  last coherent and first incoherent coefficient (the knee), where the useful ones are.`,
  async run(ctx) {
    const trait = required(ctx, 'trait');
    // Parse every flag before starting the worker, so usage errors are immediate (exit 2).
    const layersFlag = numList(ctx, 'layers') ?? [], coefs = required<number[]>(ctx, 'coefs');
    const refineStep = num(ctx, 'refine'), minCoherence = required<number>(ctx, 'min-coherence');
    steerScalingFor(ctx.flags);
    // A grid is one unit (its refinement and best point need every layer): one array task on the cluster.
    if (flag(ctx, 'slurm')) return emitSlurmPlan(ctx, workspace(ctx), 'grid', trait, [{ id: trait, overrides: {} }]);
    const s = await openSession(ctx);
    try {
      const L = s.model.info.config.numLayers;
      const layers = layersFlag.length ? layersFlag : Array.from({ length: L }, (_, i) => i + 1);
      const { run, grid } = await runGridJob({
        ...vectorJobBase(ctx, s, trait), layers, coefs, refineStep, promptBaseline: !flag(ctx, 'no-prompt-baseline'), minCoherence,
      });
      if (ctx.json) printJson(ctx, { runId: run.runId, runDir: run.dir, best: grid.best, baseline: grid.baseline, prompt: grid.prompt, refined: grid.refined, conditions: grid.results });
      else {
        for (const r of grid.results) ctx.stdout(`${r.condition.id.padEnd(16)} τ ${fmt(r.trait.mean).padStart(5)} coh ${fmt(r.coherence.mean).padStart(5)}  Δτ ${fmt(r.deltaTraitMean).padStart(6)}`);
        const b = grid.best;
        ctx.stdout(b ? `best: layer ${b.condition.layer} coef ${b.condition.coef} Δτ ${fmt(b.deltaTraitMean)} coherence ${fmt(b.coherence.mean)}` : 'best: none with coherence ≥ 50');
      }
      return EXIT.ok;
    } finally { await s.dispose(); }
  },
};
