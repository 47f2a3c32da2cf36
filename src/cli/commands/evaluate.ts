/** persona-lab evaluate: baseline vs steered answers at one (layer, coef), with paired statistics. */
import type { CliCommand } from '../command.js';
import { EXIT, flag, fmt, openSession, printJson, required, steeringPoint } from '../common.js';
import { vectorJobBase } from '../vector-jobs.js';
import { runEvaluation } from '../../core/jobs/pipeline.js';
import { JOBS } from '../../core/jobs/table.js';

export const evaluateCommand: CliCommand = {
  name: 'evaluate',
  summary: 'Steer at one layer and coefficient and compare with the baseline (Δτ, sign-flip test)',
  options: JOBS.evaluate,
  usage: `persona-lab evaluate --trait <name> --layer <ℓ> --coef <c> [options]`,
  async run(ctx) {
    const trait = required(ctx, 'trait');
    const { layer, coef } = steeringPoint(ctx);
    const s = await openSession(ctx);
    try {
      const { run, results } = await runEvaluation({ ...vectorJobBase(ctx, s, trait), layer, coef, promptBaseline: flag(ctx, 'prompt-baseline') });
      if (ctx.json) printJson(ctx, { runId: run.runId, runDir: run.dir, conditions: results });
      else for (const r of results) {
        ctx.stdout(`${r.condition.id.padEnd(16)} τ ${fmt(r.trait.mean)} coh ${fmt(r.coherence.mean)}` +
          (r.traitPaired ? `  Δτ ${fmt(r.deltaTraitMean)} Δcoh ${fmt(r.deltaCoherenceMean)} p=${r.traitPaired.primaryPTwoSided.toPrecision(3)} (${r.traitPaired.primaryTest})` : ''));
      }
      return EXIT.ok;
    } finally { await s.dispose(); }
  },
};
