/** persona-lab extract: persona vector for one trait (or several) on one checkpoint. */
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { UsageError } from '../command.js';
import { EXIT, fmt, int, num, openSession, printJson, progressPrinter, sampling, str, throughput, traitFiles } from '../common.js';
import { modelKind } from '../../core/backend.js';
import { runExtraction } from '../../core/pipeline.js';

export const SAMPLING_USAGE = `Sampling: [--sampler toy|pv|pp] [--temperature] [--top-p] [--top-k] [--max-new-tokens] [--min-new-tokens] [--repetition-penalty]`;
export const COMMON_USAGE = `Model: [--model <checkpoint folder>] (default: the embedded toy model) [--revision main] [--threads N]
Judge: [--judge rubric|openai] [--judge-base-url URL] [--judge-model gpt-4.1-mini-2025-04-14] [--judge-api-key-env OPENAI_API_KEY]
       [--judge-concurrency 8] [--no-judge-cache] [--judge-no-seed] [--judge-extra-body JSON]
       [--judge-input-price USD/Mtok --judge-output-price USD/Mtok]
Files: [--workspace .persona-lab] [--trait-file F] [--eval-file F] [--traits-dir D] [--run-id ID]
${SAMPLING_USAGE}
Output: [--json] (one JSON document on stdout; progress on stderr)
Throughput: [--chunk-size 128] (rows per request and durable append) [--batch-size 64] (worker batch; the worker lowers it to fit memory)`;

export const extractCommand: CliCommand = {
  name: 'extract',
  summary: 'Extract a persona vector (generate pos/neg, judge, filter pairs, capture, mean difference)',
  usage: `persona-lab extract --trait <name>[,<name>…] [--samples N] [--seed 0] [--threshold 50] [--min-pairs 1] [--max-questions N]
${COMMON_USAGE}
Exit codes: 0 vector written, 3 not extractable (a status file says why), 1 failure, 2 usage.
A rerun of the same command resumes the same run (nothing completed is regenerated or re-judged).`,
  async run(ctx) {
    const traits = (str(ctx, 'trait') ?? '').split(',').filter(Boolean);
    if (traits.length === 0) throw new UsageError('--trait is required');
    const s = await openSession(ctx);
    try {
      const samp = sampling(ctx, s.isToy, modelKind(s.model) === 'chat');
      const out: unknown[] = [];
      let code: number = EXIT.ok;
      for (const trait of traits) {
        const files = traitFiles(ctx, s.ws, trait, { extract: true });
        const { run, result } = await runExtraction({
          ws: s.ws, model: s.model, judge: s.judge, trait, traitFile: files.extract!, sampling: samp.params, samplerPreset: samp.preset,
          seed: int(ctx, 'seed', 0), samples: int(ctx, 'samples', s.isToy ? 2 : 10), maxQuestions: num(ctx, 'max-questions'),
          threshold: num(ctx, 'threshold', 50), minPairs: int(ctx, 'min-pairs', 1), runId: traits.length === 1 ? str(ctx, 'run-id') : undefined,
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
