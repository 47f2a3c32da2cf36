/** persona-lab controls: random and balanced-shuffle control directions, norm-matched, at one (layer, coef). */
import type { CliCommand } from '../command.js';
import { EXIT, flag, fmt, openSession, printJson, required, steeringPoint, workspace } from '../common.js';
import { emitSlurmPlan } from './jobs.js';
import { steerScalingFor } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { vectorJobBase } from '../vector-jobs.js';
import { runControlsJob } from '../../core/jobs/pipeline.js';
import type { ControlMode, ControlProjection } from '../../core/evaluation/controls.js';

export const controlsCommand: CliCommand = {
  name: 'controls',
  summary: 'Random-direction and balanced label-shuffle controls at the same layer and coefficient',
  options: JOBS.controls,
  usage: `persona-lab controls --trait <name> --layer <ℓ> --coef <c> [options]
  Controls are made orthogonal to v[ℓ] (default; 'none' keeps any chance share of v̂) and rescaled to ‖v[ℓ]‖.
  The shuffle swaps exactly half of the filtered pairs, one of each couple of near-neighbour pairs (matched
  pairs; upstream's per-pair coin flip leaks the true direction; see src/core/README.md).
  Control effects at the last layer are heavy-tailed: use more seeds (e.g. --seeds 0:9:1) for a stable mean.`,
  async run(ctx) {
    const trait = required(ctx, 'trait');
    const { layer, coef } = steeringPoint(ctx);
    const modes = required<ControlMode[]>(ctx, 'modes');
    const seeds = required<number[]>(ctx, 'seeds');
    const projection = required<ControlProjection>(ctx, 'projection');
    steerScalingFor(ctx.flags);
    // Controls are one unit: one array task on the cluster.
    if (flag(ctx, 'slurm')) return emitSlurmPlan(ctx, workspace(ctx), 'controls', trait, [{ id: trait, overrides: {} }]);
    const s = await openSession(ctx);
    try {
      const { run, controls } = await runControlsJob({ ...vectorJobBase(ctx, s, trait), layer, coef, seeds, modes, projection });
      if (ctx.json) {
        printJson(ctx, { runId: run.runId, runDir: run.dir, projection: controls.projection, summary: controls.summary, controls: controls.controls,
          conditions: controls.results });
      }
      else {
        ctx.stdout(`real     Δτ ${fmt(controls.real.deltaTraitMean)} coh ${fmt(controls.real.coherence.mean)}`);
        for (const m of modes) {
          const cos = controls.controls.filter((c) => c.mode === m).map((c) => fmt(c.cosToVector, 2)).join(', ');
          ctx.stdout(`${m.padEnd(8)} Δτ ${fmt(controls.summary[m].meanDeltaTrait)} (mean of seeds; ${controls.summary[m].deltas.map((d) => fmt(d)).join(', ')})` +
            `  cos to v as built ${cos}${controls.projection === 'orthogonal' ? ', removed' : ''}`);
        }
      }
      return EXIT.ok;
    } finally { await s.dispose(); }
  },
};
