/** persona-lab report [RUN…]: the HTML report rebuilt from stored runs (src/core/report), nothing recomputed. */
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { EXIT, printJson, str, workspace } from '../common.js';
import { JOBS } from '../../core/jobs/table.js';
import { buildReport } from '../../core/report/build.js';

export const reportCommand: CliCommand = {
  name: 'report',
  summary: 'Write the HTML report (<workspace>/report/index.html, a CSV per figure) from the stored runs',
  options: JOBS.report,
  usage: `persona-lab report [RUN…] [options]
  Without RUN ids: the latest finished grid, controls, monitor and screen run per trait and the latest sweep.
  Self-contained (chart.js inlined, opens from disk, no network); every figure's numbers are in <figure>.csv beside it.`,
  async run(ctx) {
    const ws = workspace(ctx);
    const out = str(ctx, 'out');
    const r = buildReport(ws, { runs: ctx.args, outDir: out ? path.resolve(out) : undefined });
    if (ctx.json) printJson(ctx, { file: r.file, figures: r.figures.map((f) => ({ id: f.id, section: f.section, csv: path.join(r.dir, `${f.id}.csv`) })), runs: r.runs, summary: r.summary });
    else {
      for (const line of r.summary) ctx.stdout(line);
      ctx.stdout(`report: ${r.file} (${r.figures.length} figures from ${r.runs.length} runs)`);
    }
    return EXIT.ok;
  },
};
