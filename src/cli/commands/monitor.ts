/** persona-lab monitor: does the last prompt token's projection onto the vector predict the answer's trait? */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, fmt, num, openSession, printJson, progressPrinter, required, sampling, str, throughput, traitFiles } from '../common.js';
import { projectionLayerDefault } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { toyModelDir } from '../../core/toy/paths.js';
import type { VectorKind } from '../../core/vectors/file.js';
import { modelKind } from '../../core/backend.js';
import { promptsFromTrait, readMonitorPrompts, runMonitoring, toyMonitoringPrompts, type MonitorPrompt } from '../../core/jobs/monitor.js';

export const monitorCommand: CliCommand = {
  name: 'monitor',
  summary: 'Monitoring: correlate the last prompt token\'s projection onto the vector with the judged trait of the answers',
  options: JOBS.monitor,
  usage: `persona-lab monitor --trait <name> [options]
  System prompts (default: the toy's graded monitoring prompts for the trait, else the trait file's eliciting and
  suppressing instructions and no system prompt; --prompts: a JSON array of {"system", "label"?, "expected"?}) are
  crossed with the eval questions. Reports Pearson r over answers and over per-prompt means (the paper: r ≈ 0.75–0.83).
  --layer: row ℓ = hidden_states[ℓ] (default: L for the toy, else round(0.7·L)). Writes monitoring_<trait>.csv with a
  <model>_<trait>_prompt_last_proj_layer<ℓ> column (upstream cal_projection's naming) and a per-prompt table.`,
  async run(ctx) {
    const trait = required(ctx, 'trait');
    const kind = required<VectorKind>(ctx, 'kind');
    const promptsFile = str(ctx, 'prompts');
    if (promptsFile && !existsSync(promptsFile)) throw new UsageError(`--prompts ${promptsFile} does not exist`);
    const s = await openSession(ctx);
    try {
      const files = traitFiles(ctx, s.ws, trait, { extract: !promptsFile && !s.isToy, eval: true });
      const toyPrompts = s.isToy ? path.join(toyModelDir(), 'world', 'monitoring-prompts.json') : undefined;
      const prompts: MonitorPrompt[] = promptsFile ? readMonitorPrompts(path.resolve(promptsFile))
        : s.isToy && toyPrompts && existsSync(toyPrompts) ? toyMonitoringPrompts(toyPrompts, trait) : promptsFromTrait(files.extract!, trait);
      const L = s.model.info.config.numLayers;
      const layer = num(ctx, 'layer') ?? projectionLayerDefault(L, s.isToy);
      const vectorPath = str(ctx, 'vector') ? path.resolve(str(ctx, 'vector')!) : s.ws.vectorPath(s.model.name, s.model.revision, trait);
      if (!existsSync(vectorPath)) throw new UsageError(`no vector at ${vectorPath}: run \`persona-lab extract --trait ${trait}\` first or pass --vector`);
      const samp = sampling(ctx, s.isToy, modelKind(s.model) === 'chat');
      const r = await runMonitoring({
        ws: s.ws, model: s.model, judge: s.judge, trait, evalTrait: files.eval!, vectorPath, kind, vectorKey: str(ctx, 'vector-key'), layer, prompts, sampling: samp.params, samplerPreset: samp.preset,
        samples: required(ctx, 'samples'), seed: required(ctx, 'seed'), maxQuestions: num(ctx, 'max-questions'), runId: str(ctx, 'run-id'),
        progress: progressPrinter(ctx, trait), signal: ctx.signal, ...throughput(ctx),
      });
      if (ctx.json) { printJson(ctx, { runId: r.run.runId, runDir: r.run.dir, layer, rAnswers: r.rAnswers, rPromptMeans: r.rPromptMeans, prompts: r.prompts }); return EXIT.ok; }
      ctx.stdout(`${trait}, layer ${layer}: r(projection, trait) = ${fmt(r.rAnswers, 3)} over answers, ${fmt(r.rPromptMeans, 3)} over ${r.prompts.length} system prompts`);
      ctx.stdout(`${'prompt'.padEnd(22)} ${'proj'.padStart(8)} ${'trait'.padStart(6)} ${'coh'.padStart(6)}`);
      for (const p of [...r.prompts].sort((a, b) => a.projection - b.projection)) ctx.stdout(`${p.label.padEnd(22)} ${fmt(p.projection, 3).padStart(8)} ${fmt(p.trait).padStart(6)} ${fmt(p.coherence).padStart(6)}`);
      ctx.stdout(`tables: ${path.relative(process.cwd(), r.run.dir)}`);
      return EXIT.ok;
    } finally { await s.dispose(); }
  },
};
