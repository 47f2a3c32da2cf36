/** persona-lab shift: the finetuning shift along each persona vector, the finetuned models' trait expression, their r, and screening of the training data. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, fmt, list, num, printJson, progressPrinter, required, sampling, startWorker, str, throughput, traitFiles, workspace, judgeSpec, flag, opt } from '../common.js';
import { InputError, preflight } from '../preflight.js';
import { JOBS } from '../../core/jobs/table.js';
import { loadOptionsFor } from '../../core/jobs/defaults.js';
import { createJudge } from '../../core/judge/factory.js';
import { identifyModel } from '../../core/models.js';
import { PipelineError } from '../../core/errors.js';
import { readScreenData } from '../../core/jobs/screen.js';
import { runShift, type ShiftModelRef, type ShiftTrait } from '../../core/shift/index.js';
import { isToyModelPath, toyInstructDir, toyModelDir } from '../../core/toy/paths.js';
import { readVectorFile, type VectorKind } from '../../core/vectors/file.js';
import { checkTextLengths, contextWindowOf, promptTextLimit } from '../../core/validate/limits.js';

/**
 * A model named on the command line: an existing checkpoint folder, else (the toy) "instruct", a revision
 * (revisions/<name>) or a finetune (finetunes/<name>).
 */
export function resolveModelRef(ref: string): string {
  if (existsSync(ref)) return path.resolve(ref);
  let toy: string | undefined;
  try { toy = toyModelDir(); } catch { toy = undefined; }
  if (toy) {
    if (ref === 'instruct' || ref === 'toy-persona-instruct') return toyInstructDir();
    for (const sub of ['revisions', 'finetunes']) if (existsSync(path.join(toy, sub, ref))) return path.join(toy, sub, ref);
  }
  const names = (sub: string) => (toy && existsSync(path.join(toy, sub)) ? readdirSync(path.join(toy, sub)) : []);
  throw new UsageError(`no checkpoint folder "${ref}"${toy ? `, and the toy model has no revision or finetune of that name (revisions: ${names('revisions').join(', ')}; finetunes: ${names('finetunes').join(', ') || 'none'}; or "instruct")` : ''}`);
}

export const shiftCommand: CliCommand = {
  name: 'shift',
  summary: 'Finetuning shift: per trait and layer, finetuned minus base last-prompt projection onto the vector, vs judged expression (r), and screening of the training data',
  options: JOBS.shift,
  usage: `persona-lab shift [--base A] --finetuned B [C …] [options]
  For each trait: shift_ℓ = mean last-prompt-token projection of B minus A on the trait's evaluation questions, onto A's
  vector at every layer ℓ; B's judged trait expression on the same questions (no system prompt); across the finetuned
  models, Pearson r of shift vs expression (the paper: 0.76–0.97). With each model's training data (train.jsonl next to
  its weights, or --train-data) also screening before finetuning: the dataset's mean projection difference ΔP (as
  \`screen\`, on A) and whether it orders the datasets like the shifts they caused; rows with a "label" field give the
  precision of the top 10 % by ΔP_i. Needs A's vectors: \`persona-lab extract --model <A> --trait <name>\` first.
  On the toy: persona-lab extract --model models/toy-persona-instruct --trait evil,sycophantic
              persona-lab shift --trait evil,sycophantic --finetuned toy-persona-ft-neutral toy-persona-ft-evil toy-persona-ft-sycophantic toy-persona-ft-em`,
  async run(ctx) {
    const ws = workspace(ctx);
    const basePath = resolveModelRef(str(ctx, 'base') ?? 'instruct');
    const ftRefs = [...(list(ctx, 'finetuned') ?? []), ...ctx.args];
    if (ftRefs.length === 0) throw new UsageError('--finetuned is required: one finetuned model or several');
    const ftPaths = ftRefs.map(resolveModelRef);
    const isToy = isToyModelPath(basePath) && ftPaths.every(isToyModelPath);
    const traits = opt<string[]>(ctx, 'trait', isToy);
    if (!traits?.length) throw new UsageError('--trait is required');
    const weightFormat = loadOptionsFor(ctx.flags).weightFormat;
    const baseId = identifyModel(basePath, undefined, weightFormat);
    preflight(ctx, ws, { path: basePath, isToy }, baseId);
    // Every input checked before the worker starts: trait files, vectors, training data (nothing written on a refusal).
    const kind = required<VectorKind>(ctx, 'kind');
    const vectorDir = str(ctx, 'vector-dir');
    const given = list(ctx, 'train-data');
    if (given && given.length !== ftPaths.length) throw new UsageError(`--train-data names ${given.length} files for ${ftPaths.length} finetuned models; give one per model, in --finetuned order`);
    const noScreen = flag(ctx, 'no-screen');
    let shiftTraits: ShiftTrait[];
    const data: (string | undefined)[] = ftPaths.map((p, i) => (noScreen ? undefined : given ? path.resolve(given[i]) : existsSync(path.join(p, 'train.jsonl')) ? path.join(p, 'train.jsonl') : undefined));
    // Prompt lengths: the same limit as every job's preflight (context window − max-new-tokens, or --max-prompt-chars).
    const limit = promptTextLimit({ contextTokens: contextWindowOf(basePath), maxNewTokens: sampling(ctx, isToy, true).params.maxNewTokens, maxChars: num(ctx, 'max-prompt-chars') });
    try {
      shiftTraits = traits.map((trait) => {
        const vectorPath = vectorDir ? path.resolve(vectorDir, `${trait}.safetensors`) : ws.vectorPath(baseId.name, baseId.revision, trait);
        if (!existsSync(vectorPath)) throw new UsageError(`no vector at ${vectorPath}: the shift is measured along the base model's vector; run \`persona-lab extract --model ${path.relative(process.cwd(), basePath) || '.'} --trait ${trait}\` first or pass --vector-dir`);
        readVectorFile(vectorPath, { key: str(ctx, 'vector-key'), kind });
        const evalTrait = traitFiles(ctx, ws, trait, { eval: true }).eval!;
        checkTextLengths(evalTrait.data.questions.map((q, i) => ({ where: `$.questions[${i}]`, text: q })), limit, evalTrait.file, 'trait-invalid');
        return { trait, eval: evalTrait, vectorPath, kind, vectorKey: str(ctx, 'vector-key') };
      });
      for (const d of data) if (d) { if (!existsSync(d)) throw new UsageError(`--train-data ${d} does not exist`); readScreenData(d, 'chat', { limit }); }
    } catch (e) {
      if (PipelineError.is(e, ['trait-invalid', 'data-invalid', 'vector-invalid', 'vector-missing'])) throw new InputError((e as Error).message, e);
      throw e;
    }
    const spec = judgeSpec(ctx, isToy);
    ctx.stderr(`loading ${baseId.name}@${baseId.revision} …`);
    const client = await startWorker(ctx);
    try {
      const loadOptions = loadOptionsFor(ctx.flags);
      const info = await client.loadModel({ path: basePath, ...loadOptions });
      const judge = await createJudge(spec, ws, { onRetry: (i) => ctx.stderr(`judge: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
      const base = { backend: client, info, name: baseId.name, revision: baseId.revision, commit: baseId.commit };
      const finetuned: ShiftModelRef[] = ftPaths.map((p, i) => {
        const id = identifyModel(p, undefined, weightFormat);
        return { ...id, data: data[i], open: async () => {
          ctx.stderr(`loading ${id.name}@${id.revision} …`);
          const fi = await client.loadModel({ path: p, ...loadOptions });
          return { model: { backend: client, info: fi, name: id.name, revision: id.revision, commit: id.commit }, close: () => client.unloadModel(fi.modelId) };
        } };
      });
      const L = info.config.numLayers;
      const layer = num(ctx, 'layer', isToy) ?? Math.round(L * 0.7);
      const samp = sampling(ctx, isToy, info.hasChatTemplate);
      const r = await runShift({
        ws, base, finetuned, traits: shiftTraits, layer, judge, sampling: samp.params, samplerPreset: samp.preset,
        samples: required(ctx, 'samples', isToy), seed: required(ctx, 'seed'), screenSeed: required(ctx, 'screen-seed'), maxQuestions: num(ctx, 'max-questions'),
        runId: str(ctx, 'run-id'), progress: progressPrinter(ctx, 'shift'), signal: ctx.signal, ...throughput(ctx),
      });
      if (ctx.json) { printJson(ctx, { runId: r.run.runId, runDir: r.run.dir, layer: r.layer, summary: r.summary, screening: r.screening.filter((x) => x.layer === r.layer),
        orders: r.orders.filter((x) => x.layer === r.layer), rows: r.rows.filter((x) => x.layer === r.layer) }); return EXIT.ok; }
      ctx.stdout(`finetuning shift at layer ${r.layer} (base ${r.base}; shift = finetuned − base mean last-prompt projection onto the base's vector)`);
      ctx.stdout(`${'model'.padEnd(28)} ${'trait'.padEnd(12)} ${'shift'.padStart(8)} ${'expr'.padStart(6)} ${'coh'.padStart(6)}`);
      for (const x of r.rows.filter((y) => y.layer === r.layer)) ctx.stdout(`${x.model.padEnd(28)} ${x.trait.padEnd(12)} ${fmt(x.shift, 3).padStart(8)} ${fmt(x.expression).padStart(6)} ${fmt(x.coherence).padStart(6)}`);
      for (const s of r.summary) ctx.stdout(`${s.trait}: r(shift, expression) = ${fmt(s.r, 3)} over ${s.n} finetuned models`);
      if (r.screening.length) {
        ctx.stdout('screening the training data on the base (dataset ΔP, as `screen`):');
        for (const s of r.screening.filter((x) => x.layer === r.layer)) ctx.stdout(`  ${s.model.padEnd(28)} ${s.trait.padEnd(12)} ΔP ${fmt(s.datasetDeltaP, 4).padStart(8)}  shift ${fmt(s.shift, 3).padStart(7)}` +
          (s.precisionAtTop === null ? '' : `  precision@top ${s.top}: ${fmt(s.precisionAtTop, 2)} (${s.labelled}/${s.samples} ${s.trait} rows)`));
        for (const o of r.orders.filter((x) => x.layer === r.layer)) ctx.stdout(`  ${o.trait}: order by ΔP ${o.same ? '=' : '≠'} order by shift (Spearman ${fmt(o.spearman, 2)}): ${o.byDeltaP.join(' > ')}`);
      }
      ctx.stdout(`tables: ${path.relative(process.cwd(), r.run.dir)}`);
      return EXIT.ok;
    } finally { await client.dispose(); }
  },
};
