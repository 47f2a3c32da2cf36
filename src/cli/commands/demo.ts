/**
 * persona-lab demo: the whole pipeline on the embedded toy model in a few minutes on 2 cores —
 * extraction for the four toy traits, a coarse-then-fine grid, the best steering per trait, the random and
 * shuffled controls at that point (src/core/toy/protocol.ts), and a compact summary. Everything lands in the
 * workspace as ordinary runs, so a rerun resumes/caches.
 */
import type { CliCommand } from '../command.js';
import { EXIT, flag, fmt, num, openSession, printJson, progressPrinter, required, sampling, throughput, traitFiles } from '../common.js';
import { JOBS } from '../../core/jobs/table.js';
import { modelKind } from '../../core/backend.js';
import { runControlsJob, runExtraction, runGridJob } from '../../core/jobs/pipeline.js';
import { runMonitoring, toyMonitoringPrompts } from '../../core/jobs/monitor.js';
import { toyModelDir } from '../../core/toy/paths.js';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { TOY_PROTOCOL as P } from '../../core/toy/protocol.js';
import { buildReport, type ReportResult } from '../../core/report/build.js';
import { runSweep, type SweepJob } from '../../core/jobs/sweep.js';
import { loadOptionsFor, recommendedSteering, steeringPoints } from '../../core/jobs/defaults.js';
import { identifyModel } from '../../core/models.js';
import { toyInstructDir } from '../../core/toy/paths.js';
import { runShift, type ShiftModelRef } from '../../core/shift/index.js';
import { runFacets } from '../../core/facets/facets.js';
import { ToyFacetAnnotator } from '../../core/facets/annotators.js';
import { facetSetFor } from '../../core/facets/sets.js';

/** The monitor job's own default seed (one place: the job table). */
const MONITOR_SEED = JOBS.monitor.find((o) => o.name === 'seed')!.default as number;
/** The shift job's screening seed, as `persona-lab shift` defaults it. */
const SCREEN_SEED = JOBS.shift.find((o) => o.name === 'screen-seed')!.default as number;
/** The row the shift job reports on the toy (its toyDefault), as `persona-lab shift` reports it. */
const SHIFT_TOY_LAYER = JOBS.shift.find((o) => o.name === 'layer')!.toyDefault as number;

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'Run the pipeline end to end on the embedded toy model and print a summary',
  options: JOBS.demo,
  usage: `persona-lab demo [options]
  The toy protocol (src/core/toy/protocol.ts): extraction, a coarse grid refined at the knee, controls at the best point,
  monitoring on the toy's styled system prompts; ends by writing the HTML report (<workspace>/report/index.html).`,
  async run(ctx) {
    const traits = required<string[]>(ctx, 'traits');
    const started = Date.now();
    const s = await openSession(ctx);
    try {
      const samp = sampling(ctx, s.isToy, modelKind(s.model) === 'chat');
      const rows: Record<string, unknown>[] = [];
      for (const trait of traits) {
        const files = traitFiles(ctx, s.ws, trait, { extract: true, eval: true });
        const common = { ws: s.ws, model: s.model, judge: s.judge, trait, sampling: samp.params, samplerPreset: samp.preset, progress: progressPrinter(ctx, trait), signal: ctx.signal, ...throughput(ctx) };
        const ex = await runExtraction({ ...common, traitFile: files.extract!, seed: required(ctx, 'seed'), samples: required(ctx, 'samples'), maxQuestions: num(ctx, 'max-questions') });
        if (ex.result.status !== 'ok') { rows.push({ trait, status: 'not-extractable', reason: ex.result.reason }); continue; }
        const f = ex.result.filter;
        const evalJob = { ...common, evalTrait: files.eval!, instructionTrait: files.extract, vectorPath: ex.result.vectorPath, seed: P.evalSeed,
          samples: required<number>(ctx, 'eval-samples'), maxQuestions: num(ctx, 'max-questions') };
        const { grid } = await runGridJob({
          ...evalJob, layers: required(ctx, 'layers'), coefs: required(ctx, 'coefs'), refineStep: required(ctx, 'refine'),
        });
        const b = grid.best;
        let controls: { random: number | null; shuffled: number | null } | null = null;
        if (b && !flag(ctx, 'no-controls')) {
          const c = await runControlsJob({ ...evalJob, layer: b.condition.layer!, coef: b.condition.coef!, seeds: required(ctx, 'control-seeds'), modes: ['random', 'shuffled'] });
          controls = { random: c.controls.summary.random.meanDeltaTrait, shuffled: c.controls.summary.shuffled.meanDeltaTrait };
        }
        // Monitoring for the report: the toy's styled system prompts, last-prompt projection at row L vs the judged trait
        // (two evaluation questions per prompt keep it to a small share of the demo's time).
        let monitorR: number | null = null;
        const toyPrompts = s.isToy ? path.join(toyModelDir(), 'world', 'monitoring-prompts.json') : undefined;
        if (toyPrompts && existsSync(toyPrompts) && !flag(ctx, 'no-monitor')) {
          const m = await runMonitoring({ ...common, evalTrait: files.eval!, vectorPath: ex.result.vectorPath, layer: s.model.info.config.numLayers,
            prompts: toyMonitoringPrompts(toyPrompts, trait), samples: 1, seed: MONITOR_SEED, maxQuestions: required<number>(ctx, 'monitor-questions') });
          monitorR = m.rAnswers;
        }
        rows.push({ trait, status: 'ok', monitorR, pairsKept: f.pairs_kept, pairsTotal: f.pairs_total, posTrait: f.pos_trait_mean, negTrait: f.neg_trait_mean,
          baselineTrait: grid.baseline.trait.mean, promptDelta: grid.prompt?.deltaTraitMean ?? null,
          best: b ? { layer: b.condition.layer, coef: b.condition.coef, deltaTrait: b.deltaTraitMean, coherence: b.coherence.mean, p: b.traitPaired?.primaryPTwoSided } : null,
          controls });
      }
      // A short checkpoint sweep for the report's emergence curve and transfer table: each trait extracted and steered at
      // a few pretraining revisions (main's extraction is the one above, reused from its run), and every revision's
      // vector evaluated on the instruct model. One checkpoint is loaded at a time, on the session's worker.
      let sweep: { runDir: string; rows: number; transferRows: number } | null = null;
      const sweepTraits = (ctx.options.some((o) => o.name === 'sweep-traits') ? required<string[]>(ctx, 'sweep-traits') : []).filter((t) => traits.includes(t));
      if (s.isToy && !flag(ctx, 'no-sweep') && sweepTraits.length) {
        const root = toyModelDir();
        const points = steeringPoints(sweepTraits, { recommended: recommendedSteering(root) });
        const loadOptions = loadOptionsFor(ctx.flags);
        const open = async (p: string, revision?: string) => {
          const info = await s.client.loadModel({ path: p, ...loadOptions });
          const id = identifyModel(p, undefined, loadOptions.weightFormat);
          return { model: { backend: s.client, info, name: id.name, revision: revision ?? id.revision, commit: id.commit }, close: () => s.client.unloadModel(info.modelId) };
        };
        const samp = sampling(ctx, s.isToy, true);
        const job: SweepJob = {
          ws: s.ws, judge: s.judge, modelName: s.model.name, revisions: required<string[]>(ctx, 'sweep-revisions'),
          // The session's own checkpoint stays loaded for the sweep's stage on it; the others load and unload in turn.
          openModel: async (rev) => (rev === s.model.revision ? { model: s.model, close: async () => {} } : open(path.join(root, 'revisions', rev), rev)),
          traits: sweepTraits.map((trait) => { const f = traitFiles(ctx, s.ws, trait, { extract: true, eval: true }); return { trait, extract: f.extract!, eval: f.eval!, ...points[trait] }; }),
          sampling: samp.params, samplerPreset: samp.preset,
          extract: { samples: required(ctx, 'samples'), seed: required(ctx, 'seed'), maxQuestions: num(ctx, 'max-questions') },
          evaluate: { samples: required(ctx, 'eval-samples'), seed: P.evalSeed, maxQuestions: num(ctx, 'max-questions') },
          transfer: { scaling: 'match-target', openTarget: () => open(toyInstructDir()) },
          progress: progressPrinter(ctx, 'sweep'), signal: ctx.signal, ...throughput(ctx),
        };
        const res = await runSweep(job);
        sweep = { runDir: res.run.dir, rows: res.rows.length, transferRows: res.transferRows?.length ?? 0 };
      }
      // Facets of the sweep's trait-expressing answers, per revision (the rubric annotator: the toy world's phrase families).
      if (sweep && !flag(ctx, 'no-facets')) {
        for (const trait of sweepTraits.filter((t) => facetSetFor(t))) {
          await runFacets({ ws: s.ws, sources: [path.basename(sweep.runDir)], trait, annotator: new ToyFacetAnnotator(), progress: progressPrinter(ctx, `facets ${trait}`), signal: ctx.signal });
        }
      }
      // Finetuning shift on the toy's finetunes of the instruct model, measured along the instruct model's own vectors (the
      // sweep's transfer extracted them), with the screening of each finetune's training data that predicts it.
      let shift: { r: Record<string, number | null>; sameOrder: Record<string, boolean> } | null = null;
      const finetunesDir = s.isToy ? path.join(toyModelDir(), 'finetunes') : '';
      const shiftTraits = sweep ? sweepTraits.filter((t) => existsSync(s.ws.vectorPath(identifyModel(toyInstructDir(), undefined, loadOptionsFor(ctx.flags).weightFormat).name, 'main', t))) : [];
      if (sweep && !flag(ctx, 'no-shift') && existsSync(finetunesDir) && shiftTraits.length) {
        const loadOptions = loadOptionsFor(ctx.flags);
        const openAt = async (p: string) => {
          const info = await s.client.loadModel({ path: p, ...loadOptions });
          const id = identifyModel(p, undefined, loadOptions.weightFormat);
          return { model: { backend: s.client, info, name: id.name, revision: id.revision, commit: id.commit }, close: () => s.client.unloadModel(info.modelId) };
        };
        const base = await openAt(toyInstructDir());
        try {
          const samp = sampling(ctx, s.isToy, true);
          const finetuned: ShiftModelRef[] = readdirSync(finetunesDir).sort().map((d) => {
            const p = path.join(finetunesDir, d);
            const id = identifyModel(p, undefined, loadOptions.weightFormat);
            return { ...id, data: existsSync(path.join(p, 'train.jsonl')) ? path.join(p, 'train.jsonl') : undefined, open: () => openAt(p) };
          });
          const r = await runShift({ ws: s.ws, base: base.model, finetuned, layer: SHIFT_TOY_LAYER, judge: s.judge, sampling: samp.params, samplerPreset: samp.preset,
            traits: shiftTraits.map((trait) => ({ trait, eval: traitFiles(ctx, s.ws, trait, { eval: true }).eval!, vectorPath: s.ws.vectorPath(base.model.name, base.model.revision, trait) })),
            samples: required(ctx, 'eval-samples'), seed: P.evalSeed, screenSeed: SCREEN_SEED, maxQuestions: num(ctx, 'max-questions'),
            progress: progressPrinter(ctx, 'shift'), signal: ctx.signal, ...throughput(ctx) });
          shift = { r: Object.fromEntries(r.summary.map((x) => [x.trait, x.r])), sameOrder: Object.fromEntries(r.orders.filter((o) => o.layer === r.layer).map((o) => [o.trait, o.same])) };
        } finally { await base.close(); }
      }
      // The report is built from the stored runs only (a rerun that computed nothing rebuilds it in seconds).
      const report: ReportResult | null = flag(ctx, 'no-report') ? null : buildReport(s.ws);
      const seconds = (Date.now() - started) / 1000;
      if (ctx.json) printJson(ctx, { model: `${s.model.name}@${s.model.revision}`, seconds, traits: rows, sweep, shift, judgeUsage: s.judge.usage(), report: report?.file ?? null });
      else {
        ctx.stdout(`Persona Lab demo — ${s.model.name}@${s.model.revision}, judge ${s.judge.id}, ${seconds.toFixed(0)} s`);
        ctx.stdout('trait         pairs    pos τ  neg τ  base τ  prompt Δτ  best steering (coh ≥ 50)');
        for (const r of rows as any[]) {
          if (r.status !== 'ok') { ctx.stdout(`${r.trait.padEnd(12)}  not extractable: ${r.reason}`); continue; }
          const b = r.best;
          ctx.stdout(`${r.trait.padEnd(12)}  ${`${r.pairsKept}/${r.pairsTotal}`.padEnd(7)}  ${fmt(r.posTrait).padStart(5)}  ${fmt(r.negTrait).padStart(5)}  ${fmt(r.baselineTrait).padStart(6)}  ${fmt(r.promptDelta).padStart(9)}  ` +
            (b ? `L${b.layer} c${b.coef}: Δτ ${fmt(b.deltaTrait)}, coherence ${fmt(b.coherence)}, p ${b.p?.toPrecision(2)}` : 'none') +
            (r.controls ? `; controls Δτ random ${fmt(r.controls.random)}, shuffled ${fmt(r.controls.shuffled)}` : '') +
            (r.monitorR !== null && r.monitorR !== undefined ? `; monitoring r ${r.monitorR.toFixed(2)}` : ''));
        }
        if (sweep) ctx.stdout(`checkpoint sweep: ${sweep.rows} revision × trait rows, ${sweep.transferRows} transfer rows → ${path.relative(process.cwd(), sweep.runDir)}`);
        if (shift) ctx.stdout(`finetuning shift vs expression: ${Object.entries(shift.r).map(([t, r]) => `${t} r ${fmt(r, 2)}, screening order ${shift!.sameOrder[t] ? '=' : '≠'} shift order`).join('; ')}`);
        ctx.stdout(`workspace: ${s.ws.root}`);
        if (report) ctx.stdout(`report: ${report.file} (${report.figures.length} figures; open it in a browser)`);
      }
      return rows.every((r) => r.status === 'ok') ? EXIT.ok : EXIT.notExtractable;
    } finally { await s.dispose(); }
  },
};
