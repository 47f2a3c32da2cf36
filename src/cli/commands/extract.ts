/** persona-lab extract: persona vector for one trait (or several) on one checkpoint. */
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { UsageError } from '../command.js';
import { EXIT, flag, fmt, list, num, openSession, printJson, progressPrinter, required, sampling, str, throughput, traitFiles, workspace } from '../common.js';
import { emitSlurmPlan } from './jobs.js';
import { modelKind } from '../../core/backend.js';
import { runExtraction } from '../../core/jobs/pipeline.js';
import { JOBS } from '../../core/jobs/table.js';

export const extractCommand: CliCommand = {
  name: 'extract',
  summary: 'Extract a persona vector (generate pos/neg, judge, filter pairs, capture, mean difference)',
  options: JOBS.extract,
  usage: `persona-lab extract --trait <name>[,<name>…] [options]
Exit codes: 0 vector written, 3 not extractable (a status file says why), 1 failure, 2 usage.
A rerun of the same command resumes the same run (nothing completed is regenerated or re-judged).`,
  async run(ctx) {
    const traits = list(ctx, 'trait') ?? [];
    if (traits.length === 0) throw new UsageError('--trait is required');
    // One array task per trait (each its own extraction run); no merge: the vectors are the result.
    if (flag(ctx, 'slurm')) return emitSlurmPlan(ctx, workspace(ctx), 'extract', traits.join('+'), traits.map((t) => ({ id: t, overrides: { trait: [t] } })));
    const s = await openSession(ctx);
    try {
      const samp = sampling(ctx, s.isToy, modelKind(s.model) === 'chat');
      const out: unknown[] = [];
      let code: number = EXIT.ok;
      for (const trait of traits) {
        const files = traitFiles(ctx, s.ws, trait, { extract: true });
        const { run, result } = await runExtraction({
          ws: s.ws, model: s.model, judge: s.judge, trait, traitFile: files.extract!, sampling: samp.params, samplerPreset: samp.preset,
          seed: required(ctx, 'seed'), samples: required(ctx, 'samples', s.isToy), maxQuestions: num(ctx, 'max-questions'),
          threshold: required(ctx, 'threshold'), minPairs: required(ctx, 'min-pairs'), runId: traits.length === 1 ? str(ctx, 'run-id') : undefined,
          progress: progressPrinter(ctx, trait), signal: ctx.signal, ...throughput(ctx),
        });
        const f = result.filter;
        out.push({ trait, runId: run.runId, runDir: run.dir, ...result });
        if (result.status === 'ok') {
          if (!ctx.json) ctx.stdout(`${trait}: ${f.pairs_kept}/${f.pairs_total} pairs kept (pos τ ${fmt(f.pos_trait_mean)}, neg τ ${fmt(f.neg_trait_mean)}) → ${path.relative(process.cwd(), result.vectorPath)}`);
        } else {
          code = EXIT.notExtractable;
          if (!ctx.json) ctx.stdout(`${trait}: not extractable — ${result.reason} (${path.relative(process.cwd(), result.statusPath)})`);
        }
      }
      if (ctx.json) printJson(ctx, traits.length === 1 ? out[0] : out);
      return code;
    } finally { await s.dispose(); }
  },
};
