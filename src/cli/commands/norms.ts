/** persona-lab norms: per-layer hidden-state L2 norms on calibration prompts (upstream's <revision>_shared_norms.csv). */
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { EXIT, fmt, openSession, printJson, required, str, traitFiles } from '../common.js';
import { JOBS } from '../../core/jobs/table.js';
import { modelKind } from '../../core/backend.js';
import { measureActivationNorms, normsFile, writeNormsCsv } from '../../core/calibration.js';
import { evalPrompt } from '../../core/prompts.js';

export const normsCommand: CliCommand = {
  name: 'norms',
  summary: 'Mean/std hidden-state L2 norm per layer on calibration prompts (upstream activation_norms CSV)',
  options: JOBS.norms,
  usage: `persona-lab norms [options]
  Calibration prompts: the trait's evaluation questions (upstream used evil's 20 for every trait: "shared" norms). A prompt's
  value at layer ℓ is the mean over its tokens of ‖hidden_states[ℓ]‖₂; mean_l2/std_l2 over prompts (std with n − 1).
  Default output: <workspace>/norms/<model>/<revision>_shared_norms.csv, which geometry and transfer pick up.`,
  async run(ctx) {
    const trait = required(ctx, 'trait');
    const s = await openSession(ctx, { judge: false });
    try {
      const files = traitFiles(ctx, s.ws, trait, { eval: true });
      const kind = modelKind(s.model);
      const prompts = files.eval!.data.questions.slice(0, required<number>(ctx, 'max-questions')).map((q) => evalPrompt(kind, q));
      const norms = await measureActivationNorms(s.model, prompts, { signal: ctx.signal });
      const out = path.resolve(str(ctx, 'out') ?? normsFile(s.ws, s.model.name, s.model.revision));
      writeNormsCsv(out, norms);
      if (ctx.json) { printJson(ctx, { file: out, model: s.model.name, revision: s.model.revision, norms }); return EXIT.ok; }
      ctx.stdout(`${s.model.name}@${s.model.revision}: ${prompts.length} calibration prompts (${trait} eval questions)`);
      ctx.stdout('layer   mean_l2    std_l2');
      for (const n of norms) ctx.stdout(`${String(n.layer).padStart(5)} ${fmt(n.meanL2, 3).padStart(9)} ${fmt(n.stdL2, 3).padStart(9)}`);
      ctx.stdout(`wrote ${out}`);
      return EXIT.ok;
    } finally { await s.dispose(); }
  },
};
