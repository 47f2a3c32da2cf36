/** persona-lab screen: projection difference of training samples — which data would shift the model toward the trait? */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, fmt, num, openSession, printJson, progressPrinter, required, sampling, str, throughput } from '../common.js';
import { projectionLayerDefault } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { modelKind } from '../../core/backend.js';
import { readScreenData, runScreening } from '../../core/jobs/screen.js';
import type { VectorKind } from '../../core/vectors/file.js';

export const screenCommand: CliCommand = {
  name: 'screen',
  summary: 'Data screening: projection difference ΔP of each training sample vs the model\'s own answer, onto the vector',
  options: JOBS.screen,
  usage: `persona-lab screen --trait <name> --data <file.jsonl|file.csv> [options]
  Data: JSONL {"messages": [..., {"role": "assistant", "content": answer}]} (PV training format) or {"question", "answer"}
  rows, or a CSV with question/answer columns. For each sample the model's own answer y' is generated (resumable) and
  ΔP = (ā(x, y) − ā(x, y'))·v̂ over response tokens at layer ℓ (default L for the toy, else 0.7·L); ΔP > 0 pulls
  toward the trait. Writes screening_<trait>.csv, most trait-shifting first.`,
  async run(ctx) {
    const trait = required(ctx, 'trait');
    const data = required(ctx, 'data');
    if (!existsSync(data)) throw new UsageError(`--data ${data} does not exist`);
    const kind = required<VectorKind>(ctx, 'kind');
    const s = await openSession(ctx, { judge: false });
    try {
      const mk = modelKind(s.model);
      const { samples, sha256 } = readScreenData(path.resolve(data), mk);
      const L = s.model.info.config.numLayers;
      const layer = num(ctx, 'layer') ?? projectionLayerDefault(L, s.isToy);
      const vectorPath = str(ctx, 'vector') ? path.resolve(str(ctx, 'vector')!) : s.ws.vectorPath(s.model.name, s.model.revision, trait);
      if (!existsSync(vectorPath)) throw new UsageError(`no vector at ${vectorPath}: run \`persona-lab extract --trait ${trait}\` first or pass --vector`);
      const samp = sampling(ctx, s.isToy, mk === 'chat');
      const r = await runScreening({ ws: s.ws, model: s.model, trait, data: samples, dataSha256: sha256, vectorPath, kind, vectorKey: str(ctx, 'vector-key'), layer, sampling: samp.params, samplerPreset: samp.preset,
        seed: required(ctx, 'seed'), runId: str(ctx, 'run-id'), progress: progressPrinter(ctx, trait), signal: ctx.signal, ...throughput(ctx) });
      if (ctx.json) { printJson(ctx, { runId: r.run.runId, runDir: r.run.dir, layer, datasetDeltaP: r.datasetDeltaP, samples: r.samples }); return EXIT.ok; }
      ctx.stdout(`${trait}, layer ${layer}: dataset ΔP = ${fmt(r.datasetDeltaP, 4)} over ${samples.length} samples (> 0: finetuning on it would pull toward ${trait})`);
      const top = required<number>(ctx, 'top');
      const ranked = [...r.samples].filter((x) => Number.isFinite(x.deltaP)).sort((a, b) => b.deltaP - a.deltaP);
      ctx.stdout(`most ${trait}-shifting samples:`);
      for (const x of ranked.slice(0, top)) ctx.stdout(`  ${fmt(x.deltaP, 4).padStart(8)}  ${x.id.padEnd(16)} ${x.question.slice(0, 60)}`);
      ctx.stdout(`table: ${path.relative(process.cwd(), r.run.path(`screening_${trait}.csv`))}`);
      return EXIT.ok;
    } finally { await s.dispose(); }
  },
};
