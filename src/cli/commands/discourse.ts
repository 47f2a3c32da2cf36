/** persona-lab discourse: the discourse-type ablation (paper 2 §6) — a vector per discourse type, each steered on every type's eval set. */
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, fmt, num, openSession, printJson, progressPrinter, required, sampling, str, throughput, toyDir, modelPath, workspace, flag } from '../common.js';
import { InputError } from '../preflight.js';
import { PipelineError } from '../../core/errors.js';
import { recommendedSteering, steeringPoints } from '../../core/jobs/defaults.js';
import { JOBS } from '../../core/jobs/table.js';
import { loadTraitFile, loadTraitText, type LoadedTrait } from '../../core/traits/load.js';
import { contextWindowOf, promptTextLimit } from '../../core/validate/limits.js';
import { runDiscourse, writeTraitFiles, type DiscourseTypeFiles } from '../../core/discourse/discourse.js';
import { combinedEvalData, findDiscourseFile, loadDiscourseTrait, TOY_NO_STORIES, toyDiscourseTraits, traitBytes, type DiscourseType } from '../../core/discourse/formats.js';

export const discourseCommand: CliCommand = {
  name: 'discourse',
  summary: 'Discourse-type ablation: a vector per discourse type (description, story, dialogue) and combined, each steered on every type\'s eval set',
  options: JOBS.discourse,
  usage: `persona-lab discourse --trait <name> [--types description,story,dialogue] [options]
  Base-model extraction (raw-text prompts) from each type's trait files — pretraining_persona's
  <trait>_{character,stories,dialogue}_neutral_q.json in <traits-dir or workspace traits>/{extract,eval}/ (or trait_data_extract/,
  trait_data_eval/) — plus a combined vector over all kept pairs; every vector steered at one --layer/--coef on every type's
  evaluation set, and on <trait>_combined.json (every type's questions) when there is one. Writes vector_type_summary.csv
  (Δτ: vector type × evaluation set) and vector_type_results.csv.
  On the toy model the description and dialogue files are generated from its world (it has no narrated stories).`,
  async run(ctx) {
    const trait = required(ctx, 'trait');
    const mp = modelPath(ctx);
    const types = [...new Set(required<string[]>(ctx, 'types', mp.isToy))] as DiscourseType[];
    if (types.length === 0) throw new UsageError('--types: name at least one of description, story, dialogue');
    const ws = workspace(ctx);
    const traitsDir = str(ctx, 'traits-dir');
    // Every input is read and checked before the worker starts: a bad file exits 2 and nothing is written. Texts must fit
    // the model's context (as every trait file: src/core/validate/limits.ts, --max-prompt-chars).
    const limit = promptTextLimit({ contextTokens: contextWindowOf(mp.path), maxNewTokens: sampling(ctx, mp.isToy, false).params.maxNewTokens, maxChars: num(ctx, 'max-prompt-chars') });
    let files: DiscourseTypeFiles[];
    let combinedEval: LoadedTrait | undefined;
    const pending: { dir: string; name: string; text: string }[] = [];
    try {
      if (mp.isToy && !traitsDir) {
        if (types.includes('story')) throw new UsageError(`--types story: ${TOY_NO_STORIES}`);
        const toy = toyDir('the toy discourse data needs the toy model\'s world');
        const data = toyDiscourseTraits(trait, path.join(toy, 'traits')).filter((d) => types.includes(d.type));
        // Checked as the files they become, written only once the model has loaded (a failed load leaves nothing behind).
        const generated = (set: 'extract' | 'eval', name: string, text: string, requireInstruction = false) => {
          const dir = path.join(ws.traitsDir, 'generated', set);
          pending.push({ dir, name, text });
          return loadTraitText(path.join(dir, name), text, { requireInstruction, limit });
        };
        files = data.map((d) => ({ type: d.type, extract: generated('extract', `${trait}_${d.type}.json`, traitBytes(d.extract), true),
          eval: generated('eval', `${trait}_${d.type}.json`, traitBytes(d.eval)) }));
        if (data.length > 1) combinedEval = generated('eval', `${trait}_combined.json`, traitBytes(combinedEvalData(data)));
      } else {
        const dirs = [...(traitsDir ? [path.resolve(traitsDir)] : []), ws.traitsDir];
        files = types.map((type) => ({ type, extract: loadDiscourseTrait(findDiscourseFile(trait, type, 'extract', dirs), type, 'extract', limit),
          eval: loadDiscourseTrait(findDiscourseFile(trait, type, 'eval', dirs), type, 'eval', limit) }));
        // Upstream's combined evaluation set (<trait>_combined.json), when there is one: a last column.
        let combinedFile: string | undefined;
        try { combinedFile = findDiscourseFile(trait, 'combined', 'eval', dirs); } catch { combinedFile = undefined; }
        if (combinedFile && files.length > 1) combinedEval = loadTraitFile(combinedFile, { limit });
      }
    } catch (e) {
      if (PipelineError.is(e, ['trait-invalid', 'data-invalid'])) throw new InputError((e as Error).message, e);
      throw e;
    }
    const recommended = mp.isToy ? recommendedSteering(toyDir('')) : recommendedSteering(mp.path);
    const point = steeringPoints([trait], { layer: num(ctx, 'layer'), coef: num(ctx, 'coef'), recommended })[trait];
    const s = await openSession(ctx);
    try {
      if (point.layer < 0 || point.layer > s.model.info.config.numLayers) throw new UsageError(`--layer ${point.layer}: rows are 0..${s.model.info.config.numLayers}`);
      for (const f of pending) writeTraitFiles(f.dir, [{ name: f.name, text: f.text }]);
      const samp = sampling(ctx, s.isToy, false);
      const r = await runDiscourse({
        ws: s.ws, model: s.model, judge: s.judge, trait, types: files, combinedEval, combined: !flag(ctx, 'no-combined'), layer: point.layer, coef: point.coef,
        sampling: samp.params, samplerPreset: samp.preset, seed: required(ctx, 'seed'), samples: required(ctx, 'samples', s.isToy),
        evalSeed: required(ctx, 'eval-seed'), evalSamples: required(ctx, 'eval-samples', s.isToy), threshold: required(ctx, 'threshold'),
        maxQuestions: num(ctx, 'max-questions'), runId: str(ctx, 'run-id'), progress: progressPrinter(ctx, trait), signal: ctx.signal, ...throughput(ctx),
      });
      if (ctx.json) { printJson(ctx, { runId: r.runId, runDir: r.runDir, ...r.results }); return EXIT.ok; }
      const res = r.results;
      ctx.stdout(`${trait} on ${res.model}@${res.revision} (base-model prompts), steering L${res.layer} c${res.coef}: Δτ, vector type × evaluation set`);
      ctx.stdout(`${'vector'.padEnd(12)} ${'pairs'.padStart(6)} ${res.evalSets.map((t) => t.padStart(12)).join(' ')}`);
      for (const v of res.vectors) {
        const cells = res.evalSets.map((e) => fmt(res.cells.find((c) => c.vectorType === v.vectorType && c.evalSet === e)?.deltaTrait).padStart(12)).join(' ');
        ctx.stdout(`${v.vectorType.padEnd(12)} ${String(v.pairsKept).padStart(6)} ${cells}${v.status === 'ok' ? '' : `  (no vector: ${v.reason})`}`);
      }
      ctx.stdout(`tables: ${path.relative(process.cwd(), r.runDir)}/vector_type_summary.csv`);
      return EXIT.ok;
    } finally { await s.dispose(); }
  },
};
