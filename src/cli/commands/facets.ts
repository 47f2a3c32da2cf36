/** persona-lab facets RUN…: label the trait-expressing answers of stored runs with the paper's facets (src/core/facets). */
import path from 'node:path';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT, fmt, num, printJson, progressPrinter, required, str, workspace } from '../common.js';
import { JOBS } from '../../core/jobs/table.js';
import { facetAnnotatorFor } from '../../core/facets/annotators.js';
import { facetSourceAnswers, runFacets } from '../../core/facets/facets.js';

export const facetsCommand: CliCommand = {
  name: 'facets',
  summary: 'Facet annotation: share of each facet (roots of evil, ELEPHANT sycophancy) among trait-expressing answers, with Wilson 95 % intervals',
  options: JOBS.facets,
  usage: `persona-lab facets RUN… [options]
  RUN: evaluate, grid, controls, transfer, extract or sweep run ids (--trait picks one trait of a sweep of several). Answers with a trait score above
  --threshold, at most --max-answers per run and condition, are labelled by the annotator; facet_shares.csv and
  results.json go to a facets run. evil: Baumeister's roots (instrumentality, threatened_egotism, idealism, sadism);
  sycophantic: ELEPHANT (validation, indirectness, framing). Toy runs default to the rubric annotator.`,
  async run(ctx) {
    if (ctx.args.length === 0) throw new UsageError('name the runs to annotate: persona-lab facets RUN…');
    const ws = workspace(ctx);
    // The rubric annotator knows only the toy world: it is the default when every source run is on a toy-persona model.
    const models = facetSourceAnswers(ws, ctx.args, str(ctx, 'trait')).models;
    const toy = models.length > 0 && models.every((m) => m.startsWith('toy-persona'));
    const annotator = await facetAnnotatorFor(ctx.flags, toy, ws, { onRetry: (i) => ctx.stderr(`annotator: ${i.reason}, retry ${i.attempt} in ${i.delayMs} ms`) });
    if (!annotator) throw new UsageError('an LLM annotator needs --judge-base-url (e.g. https://api.openai.com/v1); --annotator rubric works on toy runs only');
    const r = await runFacets({ ws, sources: ctx.args, trait: str(ctx, 'trait'), annotator, threshold: required<number>(ctx, 'threshold'), maxAnswers: num(ctx, 'max-answers'),
      runId: str(ctx, 'run-id'), progress: progressPrinter(ctx, 'facets'), signal: ctx.signal });
    if (ctx.json) { printJson(ctx, { runId: r.runId, runDir: r.runDir, ...r.results }); return EXIT.ok; }
    ctx.stdout(`${r.results.trait}: ${r.results.facetSet} facets by ${r.results.annotator} (trait > ${r.results.threshold})`);
    for (const g of r.results.groups) {
      ctx.stdout(`${g.revision} ${g.condition} (${g.run}): ${g.annotated} answers${g.unparsed ? ` (${g.unparsed} unreadable replies left out)` : ''}`);
      for (const s of g.shares) ctx.stdout(`  ${s.facet.padEnd(20)} ${fmt(s.share === null ? null : 100 * s.share).padStart(6)} %  [${fmt(s.ciLow === null ? null : 100 * s.ciLow)}, ${fmt(s.ciHigh === null ? null : 100 * s.ciHigh)}]  (${s.count}/${g.annotated})`);
    }
    ctx.stdout(`tables: ${path.relative(process.cwd(), r.runDir)}`);
    return EXIT.ok;
  },
};
