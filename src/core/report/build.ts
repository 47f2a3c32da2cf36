/**
 * The HTML report: one self-contained page (`<workspace>/report/index.html`, chart.js inlined, no network) built
 * from the workspace's stored runs — nothing is recomputed but cosines between stored vector files. Each figure has a
 * one-line caption and its numbers written as CSV beside it (`<workspace>/report/<figure>.csv`).
 *
 * Sources (the latest finished run per kind and trait unless run ids are given):
 *   grid runs      combined_significance.csv → steering table, layer × coefficient heat-maps of Δτ and coherence
 *                  with the prompting-baseline row
 *   controls runs  combined.csv → the controls' Δτ beside the real vector's
 *   sweep runs     combined_significance.csv + geometry/ → emergence curve (Δτ, cosine to main vs tokens seen),
 *                  revision × revision cosine; transfer_combined_significance.csv → transfer
 *   vector files   trait × trait cosine at the steering layer, and a classical MDS of the traits
 *   monitor runs   results.json → r per trait;  screen runs  screening_<trait>.csv → top samples
 *   discourse runs results.json (../discourse) → vector type × evaluation set Δτ;  facets runs → facet shares with Wilson intervals
 *   shift runs     results.json (../shift) → shift vs expression with r per trait; the training data's ΔP order
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipelineError } from '../errors.js';
import { mdsOfCosines } from '../geometry/mds.js';
import { cosineMatrix } from '../geometry/similarity.js';
import { readCsv, toCsv, type CsvValue } from '../storage/csv.js';
import type { RunManifest } from '../storage/run.js';
import type { Workspace } from '../storage/workspace.js';
import { readVectorFile } from '../vectors/file.js';
import { toyModelDir } from '../toy/paths.js';
import { readShiftResults } from '../shift/results.js';
import { storedDiscourseResults } from '../discourse/discourse.js';
import { storedFacetResults } from '../facets/facets.js';

export interface ReportFigure {
  id: string;
  section: string;
  title: string;
  caption: string;
  columns: string[];
  rows: Record<string, CsvValue>[];
  /** How the page draws it: a chart.js config (built in the page from the rows), a colour-scaled matrix, or a table. */
  draw: { type: 'table' } | { type: 'heatmap'; row: string; col: string; value: string; min?: number; max?: number; mark?: string }
    | { type: 'chart'; chart: 'bar' | 'line' | 'scatter'; x: string; series: { y: string; label: string; axis?: 'y' | 'y1'; group?: string }[]; xTitle: string; yTitle: string; y1Title?: string };
}

export interface ReportResult { file: string; dir: string; figures: ReportFigure[]; runs: string[]; summary: string[] }

interface RunInfo { id: string; dir: string; manifest: RunManifest }

const n = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));
const r2 = (x: number | null | undefined, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

function listRuns(ws: Workspace, only?: string[]): RunInfo[] {
  if (only?.length) { const missing = only.find((id) => !existsSync(path.join(ws.runDir(id), 'manifest.json'))); if (missing) throw noSuchRun(ws, missing); }
  if (!existsSync(ws.runsDir)) return [];
  const ids = only?.length ? only : readdirSync(ws.runsDir);
  const out: RunInfo[] = [];
  for (const id of ids) {
    const dir = ws.runDir(id);
    const mf = path.join(dir, 'manifest.json');
    if (!existsSync(mf)) continue;
    const manifest = JSON.parse(readFileSync(mf, 'utf8')) as RunManifest;
    if (manifest.status !== 'done' && !only?.length) continue;
    out.push({ id, dir, manifest });
  }
  return out;
}

/** A run id given on the command line that is not in the workspace: say which runs there are, or that there are none. */
function noSuchRun(ws: Workspace, id: string): PipelineError {
  const ids = existsSync(ws.runsDir) ? readdirSync(ws.runsDir).filter((d) => existsSync(path.join(ws.runDir(d), 'manifest.json'))) : [];
  if (!ids.length) {
    return new PipelineError('data-invalid', `no run ${id}: this workspace (${ws.root}) has no runs yet. Run a job first (persona-lab demo runs them all on the toy model), `
      + 'or pass --workspace <folder> for the workspace that holds the run.');
  }
  const updated = (d: string) => { try { return (JSON.parse(readFileSync(path.join(ws.runDir(d), 'manifest.json'), 'utf8')) as RunManifest).updatedAt ?? ''; } catch { return ''; } };
  const newest = ids.map((d) => ({ d, at: updated(d) }))
    .sort((a, b) => b.at.localeCompare(a.at) || a.d.localeCompare(b.d)).map((x) => x.d);
  const near = newest.filter((d) => d.startsWith(id) || d.includes(id));
  const show = (near.length ? near : newest).slice(0, 8);
  return new PipelineError('data-invalid', `no run ${id} in ${ws.runsDir}. ${near.length ? 'Runs whose id contains it' : `Runs there (${ids.length}, newest first)`}: `
    + `${show.join(', ')}${(near.length ? near : newest).length > show.length ? ', …' : ''}. A run id is a folder name under ${ws.runsDir} (ls it, or the editor's Runs view); `
    + 'without ids the report takes the latest finished run of each kind and trait.');
}

/** The latest run of each (kind, trait). */
function latestByTrait(runs: RunInfo[], kind: string): Map<string, RunInfo> {
  const m = new Map<string, RunInfo>();
  for (const r of runs.filter((x) => x.manifest.kind === kind).sort((a, b) => a.manifest.updatedAt.localeCompare(b.manifest.updatedAt))) {
    m.set(String(r.manifest.config.trait ?? ''), r);
  }
  return m;
}

const readCsvFile = (f: string) => (existsSync(f) ? readCsv(readFileSync(f, 'utf8')) : []);

/** Builds every figure the stored runs allow. */
export function collectFigures(ws: Workspace, runIds?: string[]): { figures: ReportFigure[]; runs: string[]; summary: string[] } {
  const runs = listRuns(ws, runIds);
  const figures: ReportFigure[] = [];
  const summary: string[] = [];
  const used = new Set<string>();
  const grids = latestByTrait(runs, 'grid');
  const controls = latestByTrait(runs, 'controls');
  const steeringRows: Record<string, CsvValue>[] = [];
  const best: Record<string, { layer: number; model: string; revision: string }> = {};

  for (const [trait, g] of grids) {
    used.add(g.id);
    const rows = readCsvFile(path.join(g.dir, 'combined_significance.csv'));
    if (!rows.length) continue;
    const res = existsSync(path.join(g.dir, 'results.json')) ? JSON.parse(readFileSync(path.join(g.dir, 'results.json'), 'utf8')) as { best?: { condition: { layer: number; coef: number } } } : {};
    const b = res.best?.condition;
    const model = g.manifest.config.model as { name: string; revision: string };
    if (b) best[trait] = { layer: b.layer, model: model.name, revision: model.revision };
    const base = rows[0];
    for (const r of rows) {
      steeringRows.push({ trait, condition: r.mode === 'prompt' ? 'prompting baseline' : `L${r.layer} c${r.coef}`, layer: r.layer, coef: r.coef,
        baseline_trait: n(base.baseline_trait_mean), trait_mean: n(r.output_trait_mean), delta_trait: n(r.delta_trait_mean), coherence: n(r.output_coherence_mean),
        p_two_sided: n(r.trait_primary_p_two_sided), p_bonferroni: n(r.trait_primary_p_two_sided_bonferroni_within_trait),
        significant: (n(r.trait_primary_p_two_sided_bonferroni_within_trait) ?? 1) < 0.05, best: !!b && r.mode === 'steer' && Number(r.layer) === b.layer && Number(r.coef) === b.coef });
    }
    const steer = rows.filter((r) => r.mode === 'steer');
    const prompt = rows.find((r) => r.mode === 'prompt');
    const cells = (metric: 'delta_trait_mean' | 'output_coherence_mean') => [
      ...(prompt ? [{ layer: 'prompt', coef: 'system prompt', value: n(prompt[metric]), p: n(prompt.trait_primary_p_two_sided_bonferroni_within_trait) }] : []),
      ...steer.map((r) => ({ layer: `L${r.layer}`, coef: String(Number(r.coef)), value: n(r[metric]), p: n(r.trait_primary_p_two_sided_bonferroni_within_trait) })),
    ].map((c) => ({ ...c, significant: (c.p ?? 1) < 0.05 ? '*' : '' }));
    figures.push({ id: `grid_delta_trait_${trait}`, section: 'Steering', title: `${trait}: Δτ over layer × coefficient`,
      caption: `Mean trait-score change (steered − unsteered, 0–100) on ${base.baseline_rows} answers per cell; top row the prompting baseline; * Bonferroni p < 0.05; best L${b?.layer} c${b?.coef}.`,
      columns: ['layer', 'coef', 'value', 'p', 'significant'], rows: cells('delta_trait_mean'), draw: { type: 'heatmap', row: 'layer', col: 'coef', value: 'value', min: -100, max: 100, mark: 'significant' } });
    figures.push({ id: `grid_coherence_${trait}`, section: 'Steering', title: `${trait}: coherence over layer × coefficient`,
      caption: `Mean coherence (0–100) of the same answers; unsteered ${r2(n(base.baseline_coherence_mean))}; the best point needs ≥ 50.`,
      columns: ['layer', 'coef', 'value'], rows: cells('output_coherence_mean').map(({ layer, coef, value }) => ({ layer, coef, value })), draw: { type: 'heatmap', row: 'layer', col: 'coef', value: 'value', min: 0, max: 100 } });
    const bestRow = b && steer.find((r) => Number(r.layer) === b.layer && Number(r.coef) === b.coef);
    summary.push(`${trait.padEnd(12)} base τ ${r2(n(base.baseline_trait_mean)).padStart(5)}  prompt Δτ ${r2(n(prompt?.delta_trait_mean)).padStart(5)}  ` +
      (bestRow ? `steer L${b.layer} c${b.coef}: Δτ ${r2(n(bestRow.delta_trait_mean))}, coherence ${r2(n(bestRow.output_coherence_mean))}, p ${Number(bestRow.trait_primary_p_two_sided).toPrecision(2)}` : 'no coherent steering point'));
  }
  if (steeringRows.length) {
    figures.unshift({ id: 'steering_table', section: 'Steering', title: 'Steering table',
      caption: 'Every evaluated condition per trait: trait score and Δτ vs the unsteered baseline, coherence, exact sign-flip p (two-sided) and Bonferroni within trait.',
      columns: ['trait', 'condition', 'layer', 'coef', 'baseline_trait', 'trait_mean', 'delta_trait', 'coherence', 'p_two_sided', 'p_bonferroni', 'significant', 'best'], rows: steeringRows, draw: { type: 'table' } });
  }

  const ctrlRows: Record<string, CsvValue>[] = [];
  for (const [trait, c] of controls) {
    used.add(c.id);
    for (const r of readCsvFile(path.join(c.dir, 'combined.csv'))) {
      ctrlRows.push({ trait, mode: r.mode, seed: r.seed, layer: r.layer, coef: r.coef, delta_trait: n(r.delta_trait_mean), delta_coherence: n(r.delta_coherence_mean), p_two_sided: n(r.trait_primary_p_two_sided) });
    }
  }
  if (ctrlRows.length) {
    figures.push({ id: 'controls', section: 'Controls', title: 'Controls beside the real vector',
      caption: 'Δτ at each trait\'s best steering point: the persona vector (real) vs norm-matched random directions and label-shuffled vectors, one point per seed.',
      columns: ['trait', 'mode', 'seed', 'layer', 'coef', 'delta_trait', 'delta_coherence', 'p_two_sided'], rows: ctrlRows,
      draw: { type: 'chart', chart: 'scatter', x: 'trait', series: [{ y: 'delta_trait', label: 'real', group: 'real' }, { y: 'delta_trait', label: 'random', group: 'random' }, { y: 'delta_trait', label: 'shuffled', group: 'shuffled' }], xTitle: 'trait', yTitle: 'Δτ' } });
    const realMean = (m: string) => { const v = ctrlRows.filter((r) => r.mode === m).map((r) => r.delta_trait as number); return v.reduce((s, x) => s + x, 0) / Math.max(v.length, 1); };
    summary.push(`controls: mean Δτ real ${r2(realMean('real'))}, random ${r2(realMean('random'))}, shuffled ${r2(realMean('shuffled'))}`);
  }

  // Sweeps: emergence, revision × revision geometry, transfer.
  const sweeps = runs.filter((r) => r.manifest.kind === 'sweep').sort((a, b) => a.manifest.updatedAt.localeCompare(b.manifest.updatedAt));
  const sweep = sweeps.at(-1);
  if (sweep) {
    used.add(sweep.id);
    const tokens = tokensSeen(sweep);
    const rows = readCsvFile(path.join(sweep.dir, 'combined_significance.csv'));
    const geo = path.join(sweep.dir, 'geometry');
    const toMain = new Map<string, number | null>();
    const geoFiles = existsSync(geo) ? readdirSync(geo) : [];
    for (const f of geoFiles.filter((x) => x.startsWith('vector_cosine_to_main_'))) {
      const trait = f.replace(/^vector_cosine_to_main_/, '').replace(/_layer\d+\.csv$/, '');
      for (const r of readCsvFile(path.join(geo, f))) toMain.set(`${trait}|${r.revision}`, n(r.cosine_similarity_to_main));
    }
    // The revision the cosines are taken to (geometry's "main": the sweep's last revision) has cosine 1 with itself.
    const mainRev = (sweep.manifest.config.revisions as string[] | undefined)?.at(-1) ?? 'main';
    const em = rows.filter((r) => r.mode === 'steer').map((r) => ({ trait: r.trait, revision: r.extract_revision, tokens_seen: tokens.get(r.extract_revision) ?? null,
      delta_trait: n(r.delta_trait_mean), coherence: n(r.output_coherence_mean), p_bonferroni: n(r.trait_primary_p_two_sided_bonferroni_within_trait),
      significant: (n(r.trait_primary_p_two_sided_bonferroni_within_trait) ?? 1) < 0.05, cosine_to_main: toMain.get(`${r.trait}|${r.extract_revision}`) ?? (r.extract_revision === mainRev && toMain.size ? 1 : null) }))
      .sort((a, b) => a.trait.localeCompare(b.trait) || (a.tokens_seen ?? 0) - (b.tokens_seen ?? 0));
    const noVector = [...new Set(em.filter((r) => r.delta_trait === null).map((r) => `${r.trait}@${r.revision}`))];
    if (em.length) {
      figures.push({ id: 'emergence', section: 'Emergence across pretraining', title: 'Emergence across the toy\'s pretraining revisions',
        caption: 'Δτ of each revision\'s own vector steering its own checkpoint (left axis; filled = Bonferroni p < 0.05) and cosine to the main revision\'s vector (right axis), against tokens seen'
          + (noVector.length ? `; no vector (too few pairs passed the filter) at ${noVector.join(', ')}.` : '.'),
        columns: ['trait', 'revision', 'tokens_seen', 'delta_trait', 'coherence', 'p_bonferroni', 'significant', 'cosine_to_main'], rows: em,
        draw: { type: 'chart', chart: 'line', x: 'tokens_seen', series: [{ y: 'delta_trait', label: 'Δτ', axis: 'y' }, { y: 'cosine_to_main', label: 'cos to main', axis: 'y1' }], xTitle: 'tokens seen', yTitle: 'Δτ', y1Title: 'cosine to main' } });
      const firstSig = new Map<string, string>();
      for (const r of em) if (r.significant && !firstSig.has(r.trait)) firstSig.set(r.trait, `${r.revision} (${r.tokens_seen ?? '?'} tokens)`);
      summary.push(`emergence: first significant steering ${[...new Set(em.map((r) => r.trait))].map((t) => `${t} ${firstSig.get(t) ?? 'none'}`).join(', ')}`);
    }
    for (const f of geoFiles.filter((x) => x.startsWith('vector_cosine_sim_'))) {
      const text = readFileSync(path.join(geo, f), 'utf8').trim().split('\n').map((l) => l.split(','));
      const revs = text[0].slice(1);
      const cells = text.slice(1).flatMap((r) => revs.map((c, j) => ({ source: r[0], target: c, cosine: n(r[j + 1]) })));
      const trait = f.replace(/^vector_cosine_sim_/, '').replace(/\.csv$/, '');
      figures.push({ id: `revision_cosine_${trait}`, section: 'Geometry', title: `${trait}: revision × revision cosine`,
        caption: `Cosine similarity between the vectors extracted at each pair of revisions (${trait.replace(/_layer/, ', row ')}).`,
        columns: ['source', 'target', 'cosine'], rows: cells, draw: { type: 'heatmap', row: 'source', col: 'target', value: 'cosine', min: -1, max: 1 } });
    }
    const tr = readCsvFile(path.join(sweep.dir, 'transfer_combined_significance.csv'));
    const targetRef = tr.filter((r) => r.mode !== 'prompt' && !tokens.has(r.extract_revision));
    if (tr.length) {
      figures.push({ id: 'transfer', section: 'Transfer', title: 'Transfer of base-revision vectors to the instruct model',
        caption: 'Δτ on the target model when steering with each source revision\'s vector (scaled to the target), with Bonferroni p'
          + (targetRef.length ? `; the target's own vector (not plotted): ${targetRef.map((r) => `${r.trait} Δτ ${r2(n(r.delta_trait_mean))}`).join(', ')}.` : '.'),
        columns: ['trait', 'source_revision', 'tokens_seen', 'delta_trait', 'coherence', 'p_bonferroni', 'significant'],
        rows: tr.filter((r) => r.mode !== 'prompt').map((r) => ({ trait: r.trait, source_revision: r.extract_revision, tokens_seen: tokens.get(r.extract_revision) ?? null, delta_trait: n(r.delta_trait_mean),
          coherence: n(r.output_coherence_mean), p_bonferroni: n(r.trait_primary_p_two_sided_bonferroni_within_trait), significant: (n(r.trait_primary_p_two_sided_bonferroni_within_trait) ?? 1) < 0.05 })),
        draw: { type: 'chart', chart: 'line', x: 'tokens_seen', series: [{ y: 'delta_trait', label: 'Δτ on target' }], xTitle: 'tokens seen by the source revision', yTitle: 'Δτ' } });
    }
  }

  // Trait × trait geometry from the stored vectors at each trait's best layer (same model/revision).
  const traits = Object.keys(best);
  if (traits.length >= 2) {
    const { model, revision, layer } = best[traits[0]];
    const vecs = traits.map((t): Float32Array | null => {
      const f = ws.vectorPath(model, revision, t);
      if (!existsSync(f)) return null;
      const v = readVectorFile(f);
      const d = v.data.response_avg!;
      return d.slice(layer * v.hidden, (layer + 1) * v.hidden);
    });
    const ok = traits.filter((_, i) => vecs[i]);
    const vs = vecs.filter((v) => v !== null);
    if (vs.length >= 2) {
      const m = cosineMatrix(vs);
      figures.push({ id: 'trait_cosine', section: 'Geometry', title: 'Trait × trait cosine',
        caption: `Cosine similarity between the traits' response_avg vectors of ${model}@${revision} at row ${layer} (${traits[0]}'s best steering layer).`,
        columns: ['trait_a', 'trait_b', 'cosine'], rows: ok.flatMap((a, i) => ok.map((b, j) => ({ trait_a: a, trait_b: b, cosine: m[i][j] }))),
        draw: { type: 'heatmap', row: 'trait_a', col: 'trait_b', value: 'cosine', min: -1, max: 1 } });
      const xy = mdsOfCosines(m); // the geometry panel's map of the same vectors (core/geometry/mds.ts)
      figures.push({ id: 'trait_mds', section: 'Geometry', title: 'Traits in two dimensions (MDS)',
        caption: 'Classical MDS of the traits\' vectors with distance √(2 − 2·cos): nearby points are similar directions.',
        columns: ['trait', 'x', 'y'], rows: ok.map((t, i) => ({ trait: t, x: xy[i][0], y: xy[i][1] })),
        draw: { type: 'chart', chart: 'scatter', x: 'x', series: [{ y: 'y', label: 'trait', group: 'trait' }], xTitle: 'MDS 1', yTitle: 'MDS 2' } });
    }
  }

  const monitors = latestByTrait(runs, 'monitor');
  const monRows: Record<string, CsvValue>[] = [];
  for (const [trait, m] of monitors) {
    used.add(m.id);
    const res = JSON.parse(readFileSync(path.join(m.dir, 'results.json'), 'utf8')) as { rAnswers?: number | null; rPromptMeans?: number | null; layer?: number };
    monRows.push({ trait, layer: (m.manifest.config.layer as number | undefined) ?? res.layer ?? null, r_answers: res.rAnswers ?? null, r_prompt_means: res.rPromptMeans ?? null });
  }
  if (monRows.length) {
    figures.push({ id: 'monitoring', section: 'Monitoring', title: 'Monitoring: last-prompt projection vs judged trait',
      caption: 'Pearson r between the last prompt token\'s projection on the vector and the judged trait score, over answers and over system-prompt means.',
      columns: ['trait', 'layer', 'r_answers', 'r_prompt_means'], rows: monRows,
      draw: { type: 'chart', chart: 'bar', x: 'trait', series: [{ y: 'r_answers', label: 'r (answers)' }, { y: 'r_prompt_means', label: 'r (prompt means)' }], xTitle: 'trait', yTitle: 'Pearson r' } });
    summary.push(`monitoring r: ${monRows.map((r) => `${r.trait} ${r2(r.r_answers as number, 2)}`).join(', ')}`);
  }

  // Finetuning shift (../shift): shift along each base vector vs the finetuned models' judged expression, and the
  // screening of their training data that predicts it.
  const shiftRun = runs.filter((r) => r.manifest.kind === 'shift').sort((a, b) => a.manifest.updatedAt.localeCompare(b.manifest.updatedAt)).at(-1);
  const shift = shiftRun ? readShiftResults(ws, shiftRun.id) : null;
  if (shiftRun && shift) {
    used.add(shiftRun.id);
    const at = shift.rows.filter((r) => r.layer === shift.layer && r.model !== shift.base);
    const rs = shift.summary.map((x) => `${x.trait} r = ${r2(x.r, 2)} (n = ${x.n})`).join(', ');
    figures.push({ id: 'shift_expression', section: 'Finetuning shift', title: 'Finetuning shift predicts trait expression',
      caption: `Each finetuned model's mean last-prompt projection minus the base's (${shift.base}) on the base's vector at row ${shift.layer}, against its judged trait expression: ${rs}.`,
      columns: ['model', 'trait', 'layer', 'shift', 'expression', 'coherence'], rows: at.map((r) => ({ model: r.model, trait: r.trait, layer: r.layer, shift: r.shift, expression: r.expression, coherence: r.coherence })),
      draw: { type: 'chart', chart: 'scatter', x: 'shift', series: [{ y: 'expression', label: 'trait', group: 'per-trait' }], xTitle: 'shift (projection, finetuned − base)', yTitle: 'trait expression (0–100)' } });
    const scr = shift.screening.filter((r) => r.layer === shift.layer);
    if (scr.length) {
      const orders = shift.orders.filter((o) => o.layer === shift.layer);
      figures.push({ id: 'shift_screening', section: 'Finetuning shift', title: 'Screening the training data before finetuning',
        caption: `Each training set's mean projection difference ΔP on the base model beside the shift it caused; order by ΔP ${orders.map((o) => `${o.trait} ${o.same ? '=' : '≠'} order by shift (Spearman ${r2(o.spearman, 2)})`).join(', ')}; precision of the top 10 % by sample ΔP among trait-labelled rows.`,
        columns: ['model', 'trait', 'dataset_delta_p', 'shift', 'samples', 'labelled', 'top', 'precision_at_top'],
        rows: scr.map((r) => ({ model: r.model, trait: r.trait, dataset_delta_p: r.datasetDeltaP, shift: r.shift, samples: r.samples, labelled: r.labelled, top: r.top, precision_at_top: r.precisionAtTop })), draw: { type: 'table' } });
    }
    summary.push(`finetuning shift vs expression: ${rs}`);
  }

  // Discourse-type ablation (../discourse): Δτ of each discourse type's vector on each type's evaluation set.
  const discourseIds = new Set(runs.filter((r) => r.manifest.kind === 'discourse').map((r) => r.id));
  const discourse = new Map<string, ReturnType<typeof storedDiscourseResults>[number]>();
  for (const d of storedDiscourseResults(ws)) if (discourseIds.has(d.runId)) discourse.set(d.trait, d); // the latest per trait
  for (const [trait, d] of discourse) {
    used.add(d.runId);
    const kept = d.vectors.map((v) => `${v.vectorType} ${v.status === 'ok' ? `${v.pairsKept}/${v.pairsTotal}` : 'no vector'}`).join(', ');
    figures.push({ id: `discourse_${trait}`, section: 'Discourse types', title: `${trait}: vector type × evaluation set`,
      caption: `Δτ when steering ${d.model}@${d.revision} (base prompts) at row ${d.layer}, coef ${d.coef} with each discourse type's vector (rows) on each type's evaluation questions (columns); * sign-flip p < 0.05; pairs kept: ${kept}.`,
      columns: ['vector_type', 'eval_set', 'delta_trait', 'delta_coherence', 'p', 'significant'],
      rows: d.cells.map((c) => ({ vector_type: c.vectorType, eval_set: c.evalSet, delta_trait: c.deltaTrait, delta_coherence: c.deltaCoherence, p: c.signFlipP, significant: (c.signFlipP ?? 1) < 0.05 ? '*' : '' })),
      draw: { type: 'heatmap', row: 'vector_type', col: 'eval_set', value: 'delta_trait', min: -100, max: 100, mark: 'significant' } });
  }

  // Facets (../facets): the share of trait-expressing answers showing each facet, Wilson 95 % interval, per revision.
  const facetIds = new Set(runs.filter((r) => r.manifest.kind === 'facets').map((r) => r.id));
  const facetRuns = new Map<string, ReturnType<typeof storedFacetResults>[number]>();
  for (const f of storedFacetResults(ws)) if (facetIds.has(f.runId)) facetRuns.set(f.trait, f);
  for (const [trait, f] of facetRuns) {
    used.add(f.runId);
    const tokens = new Map<string, number>([...runs.filter((r) => r.manifest.kind === 'sweep').flatMap((r) => [...tokensSeen(r)])]);
    const rows = f.groups.flatMap((g) => g.shares.map((sh) => ({ revision: g.revision, tokens_seen: tokens.get(g.revision) ?? null, condition: g.condition, facet: sh.facet,
      count: sh.count, annotated: g.annotated, share: sh.share, ci_low: sh.ciLow, ci_high: sh.ciHigh })))
      .sort((a, b) => (a.tokens_seen ?? 0) - (b.tokens_seen ?? 0) || a.condition.localeCompare(b.condition) || a.facet.localeCompare(b.facet));
    if (!rows.length) continue; // no answer above the threshold anywhere
    figures.push({ id: `facets_${trait}`, section: 'Facets', title: `${trait}: facets of the trait-expressing answers`,
      caption: `Share of answers scoring above ${f.threshold} that the ${f.annotator} annotator labels with each ${f.facetSet} facet, with Wilson 95 % intervals, per revision and condition.`,
      columns: ['revision', 'tokens_seen', 'condition', 'facet', 'count', 'annotated', 'share', 'ci_low', 'ci_high'], rows, draw: { type: 'table' } });
  }

  const screens = latestByTrait(runs, 'screen');
  for (const [trait, s] of screens) {
    used.add(s.id);
    const rows = readCsvFile(path.join(s.dir, `screening_${trait}.csv`)).slice(0, 15);
    if (!rows.length) continue;
    figures.push({ id: `screening_${trait}`, section: 'Screening', title: `${trait}: training samples that shift the model most`,
      caption: 'Projection difference (sample answer − the model\'s own answer) on the vector, most shifting first (top 15).',
      columns: ['id', 'question', 'answer', 'projection_difference'], rows: rows.map((r) => ({ id: r.id, question: r.question, answer: r.answer, projection_difference: n(r.projection_difference) })), draw: { type: 'table' } });
  }
  return { figures, runs: [...used], summary };
}

/** The embedded toy's manifest, when the toy is there (one search: ../toy/paths.ts). */
function toyManifest(): string | undefined {
  try { return path.join(toyModelDir(), 'manifest.json'); } catch { return undefined; }
}

function tokensSeen(run: RunInfo): Map<string, number> {
  const m = new Map<string, number>();
  const model = run.manifest.config.model as { path?: string; name?: string } | undefined;
  const candidates = [model?.path && path.join(model.path, '..', '..', 'manifest.json'), toyManifest()].filter((x): x is string => !!x);
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    try {
      const mf = JSON.parse(readFileSync(c, 'utf8')) as { revisions?: { name: string; tokensSeen?: number }[]; main?: { name?: string; tokensSeen?: number } };
      for (const r of mf.revisions ?? []) if (typeof r.tokensSeen === 'number') m.set(r.name, r.tokensSeen);
      if (mf.main && typeof mf.main === 'object' && typeof mf.main.tokensSeen === 'number') m.set('main', mf.main.tokensSeen);
      if (m.size) return m;
    } catch { /* not a model manifest */ }
  }
  return m;
}

/** This module's own file, whether it runs from source (ESM) or inside a CommonJS bundle (the extension host's). */
function thisFile(): string {
  if (typeof __filename === 'string') return __filename;
  return fileURLToPath(import.meta.url);
}

/**
 * chart.js's UMD build: dist/media/ next to the bundled CLI or extension (scripts/build.mjs copies it there and the .vsix
 * ships it), else node_modules (running from source). Missing, it is the installation that is broken, not the user's
 * input: an 'asset-missing' failure (exit 1) that says how to repair it. `from`: where the search starts (tests).
 */
export function loadChartJs(from = path.dirname(thisFile())): string {
  let dir = from;
  const tried: string[] = [];
  for (let i = 0; i < 6; i++) {
    for (const c of [path.join(dir, 'media', 'chart.umd.min.js'), path.join(dir, 'dist', 'media', 'chart.umd.min.js'), path.join(dir, 'node_modules', 'chart.js', 'dist', 'chart.umd.min.js')]) {
      tried.push(c);
      if (existsSync(c)) return readFileSync(c, 'utf8');
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new PipelineError('asset-missing', `this Persona Lab installation is incomplete: chart.js (chart.umd.min.js), which the report inlines, is missing `
    + `(looked in ${tried.slice(0, 3).join(', ')} and their parent folders). From a source checkout run \`npm ci && node scripts/build.mjs\` `
    + '(it copies chart.js to dist/media); an installed extension or CLI package is damaged: reinstall it.');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmtCell = (v: CsvValue) => (typeof v === 'number' ? (Math.abs(v) < 0.001 && v !== 0 ? v.toExponential(2) : String(Math.round(v * 1000) / 1000)) : v === null || v === undefined ? '' : String(v));

function heatColor(v: number | null, min: number, max: number): string {
  if (v === null || !Number.isFinite(v)) return '#eee';
  if (min < 0) { // diverging: blue – white – red
    const t = Math.max(-1, Math.min(1, v / Math.max(Math.abs(min), Math.abs(max))));
    const a = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
  }
  const t = Math.max(0, Math.min(1, (v - min) / (max - min)));
  return `rgb(${Math.round(255 - 200 * t)},${Math.round(255 - 80 * t)},${Math.round(255 - 200 * t)})`;
}

function renderFigure(f: ReportFigure): string {
  const head = `<figure id="${esc(f.id)}"><h3>${esc(f.title)}</h3>`;
  const foot = `<figcaption>${esc(f.caption)} <a href="${esc(f.id)}.csv">${esc(f.id)}.csv</a></figcaption></figure>`;
  if (f.draw.type === 'table') {
    const rows = f.rows.map((r) => `<tr>${f.columns.map((c) => `<td>${esc(fmtCell(r[c]))}</td>`).join('')}</tr>`).join('');
    return `${head}<div class="scroll"><table class="data"><thead><tr>${f.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table></div>${foot}`;
  }
  if (f.draw.type === 'heatmap') {
    const d = f.draw;
    const rowsK = [...new Set(f.rows.map((r) => String(r[d.row])))];
    const colsK = [...new Set(f.rows.map((r) => String(r[d.col])))];
    if (colsK.every((c) => c === 'system prompt' || !Number.isNaN(Number(c)))) colsK.sort((a, b) => (a === 'system prompt' ? -1 : b === 'system prompt' ? 1 : Number(a) - Number(b)));
    const at = new Map(f.rows.map((r) => [`${r[d.row]}|${r[d.col]}`, r]));
    const body = rowsK.map((rk) => `<tr><th>${esc(rk)}</th>${colsK.map((ck) => {
      const r = at.get(`${rk}|${ck}`);
      if (!r) return '<td class="empty"></td>';
      const v = r[d.value] as number | null;
      return `<td style="background:${heatColor(v, d.min ?? 0, d.max ?? 1)}" title="${esc(`${rk}, ${ck}: ${fmtCell(v)}`)}">${esc(v === null ? '' : (Math.abs(v) < 2 ? v.toFixed(2) : v.toFixed(0)))}${d.mark && r[d.mark] ? '<sup>*</sup>' : ''}</td>`;
    }).join('')}</tr>`).join('');
    return `${head}<table class="heat"><thead><tr><th>${esc(d.row)} \\ ${esc(d.col)}</th>${colsK.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table>${foot}`;
  }
  return `${head}<div class="chart"><canvas data-figure="${esc(f.id)}"></canvas></div>${foot}`;
}

/** The page's own script: draws the chart figures from the embedded rows with chart.js (no network). */
const PAGE_SCRIPT = `
const FIGS = JSON.parse(document.getElementById('figures').textContent);
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
for (const c of document.querySelectorAll('canvas[data-figure]')) {
  const f = FIGS[c.dataset.figure]; const d = f.draw; let datasets = [];
  const scales = { x: { title: { display: true, text: d.xTitle } }, y: { title: { display: true, text: d.yTitle } } };
  if (d.chart === 'bar') {
    datasets = d.series.map((s, i) => ({ label: s.label, data: f.rows.map((r) => r[s.y]), backgroundColor: COLORS[i] }));
    scales.x.type = 'category'; scales.x.labels = f.rows.map((r) => r[d.x]);
  } else if (d.chart === 'scatter') {
    const cats = [...new Set(f.rows.map((r) => r[d.x]))];
    const numeric = cats.every((v) => typeof v === 'number');
    // 'per-trait': one series per trait over its rows, each point named by its model on hover.
    if (d.series[0].group === 'per-trait') datasets = [...new Set(f.rows.map((r) => r.trait))].map((t, i) => ({ label: t, backgroundColor: COLORS[i % COLORS.length], pointRadius: 6,
      data: f.rows.filter((r) => r.trait === t).map((r) => ({ x: r[d.x], y: r[d.series[0].y], model: r.model })) }));
    else if (d.series[0].group === 'trait') datasets = f.rows.map((r, i) => ({ label: r.trait, backgroundColor: COLORS[i % COLORS.length], pointRadius: 7, data: [{ x: r[d.x], y: r[d.series[0].y] }] }));
    else datasets = d.series.map((s, i) => ({ label: s.label, backgroundColor: COLORS[i], pointRadius: 6,
      data: f.rows.filter((r) => !s.group || r.mode === s.group).map((r) => ({ x: numeric ? r[d.x] : cats.indexOf(r[d.x]) + (i - 1) * 0.15, y: r[s.y] })) }));
    if (!numeric) { scales.x.min = -0.5; scales.x.max = cats.length - 0.5; scales.x.afterBuildTicks = (axis) => { axis.ticks = cats.map((_, i) => ({ value: i })); }; scales.x.ticks = { callback: (v) => cats[v] ?? '' }; }
  } else {
    const groups = [...new Set(f.rows.map((r) => r.trait))];
    groups.forEach((g, gi) => d.series.forEach((s, si) => datasets.push({ label: g + ' ' + s.label, yAxisID: s.axis || 'y', borderColor: COLORS[gi % COLORS.length], borderDash: si ? [6, 3] : [],
      pointBackgroundColor: f.rows.filter((r) => r.trait === g).map((r) => r.significant ? COLORS[gi % COLORS.length] : '#fff'), pointRadius: 5,
      data: f.rows.filter((r) => r.trait === g).map((r) => ({ x: r[d.x], y: r[s.y] })) })));
    scales.x.type = 'linear';
    if (d.y1Title) scales.y1 = { position: 'right', min: -1, max: 1, title: { display: true, text: d.y1Title }, grid: { drawOnChartArea: false } };
  }
  new Chart(c, { type: d.chart === 'line' ? 'line' : d.chart, data: { datasets }, options: { animation: false, responsive: true, maintainAspectRatio: false, scales,
    plugins: { tooltip: { callbacks: { label: (ctx) => ctx.dataset.label + ': ' + JSON.stringify(ctx.raw) } } } } });
}
document.body.dataset.ready = 'true';
`;

export function renderReportHtml(figures: ReportFigure[], meta: { title: string; generated: string; runs: string[]; summary: string[] }, chartJs: string): string {
  const sections = [...new Set(figures.map((f) => f.section))];
  const data = Object.fromEntries(figures.filter((f) => f.draw.type === 'chart').map((f) => [f.id, { draw: f.draw, rows: f.rows }]));
  // </script> inside embedded text would end the element early.
  const safe = (s: string) => s.replace(/<\/script/gi, '<\\/script');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(meta.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}h3{font-size:1.05em;margin:.2em 0}
figure{margin:1em 0 2em}figcaption{color:#555;font-size:.9em;margin-top:.3em}
.chart{position:relative;height:320px}.scroll{max-height:420px;overflow:auto}
table.data{border-collapse:collapse;font-size:.85em}table.data td,table.data th{border:1px solid #ddd;padding:2px 6px;text-align:right}
table.heat{border-collapse:collapse}table.heat td,table.heat th{border:1px solid #fff;padding:4px 8px;text-align:center;min-width:3em;font-size:.85em}
pre.summary{background:#f6f6f6;padding:.8em;overflow:auto}
</style></head><body>
<h1>${esc(meta.title)}</h1>
<p>From ${meta.runs.length} stored runs (the latest finished ${esc(meta.generated)}); every figure's numbers are in the CSV linked under it.</p>
<pre class="summary">${esc(meta.summary.join('\n'))}</pre>
<nav>${sections.map((s) => `<a href="#sec-${esc(s.replace(/\W+/g, '-'))}">${esc(s)}</a>`).join(' · ')}</nav>
${sections.map((s) => `<section id="sec-${esc(s.replace(/\W+/g, '-'))}"><h2>${esc(s)}</h2>${figures.filter((f) => f.section === s).map(renderFigure).join('\n')}</section>`).join('\n')}
<h2>Runs</h2><ul>${meta.runs.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>
<script id="figures" type="application/json">${safe(JSON.stringify(data))}</script>
<script>${safe(chartJs)}</script>
<script>${safe(PAGE_SCRIPT)}</script>
</body></html>
`;
}

/** Builds `<workspace>/report/index.html` and a CSV per figure from the stored runs. */
export function buildReport(ws: Workspace, opts: { runs?: string[]; outDir?: string; chartJs?: string; title?: string } = {}): ReportResult {
  // The installation is checked first: a missing chart.js is its fault whatever the runs are, and leaves no half report.
  const chartJs = opts.chartJs ?? loadChartJs();
  const { figures, runs, summary } = collectFigures(ws, opts.runs);
  if (!figures.length) throw new PipelineError('data-invalid', `no finished grid, controls, sweep, monitor or screen runs in ${ws.runsDir}; run persona-lab demo (npm start) first`);
  const dir = opts.outDir ?? path.join(ws.root, 'report');
  mkdirSync(dir, { recursive: true });
  for (const f of figures) writeFileSync(path.join(dir, `${f.id}.csv`), toCsv(f.columns, f.rows));
  const file = path.join(dir, 'index.html');
  // No wall-clock time in the page: the same runs give the same bytes.
  const latest = runs.map((id) => (JSON.parse(readFileSync(path.join(ws.runDir(id), 'manifest.json'), 'utf8')) as RunManifest).updatedAt).sort().at(-1) ?? '';
  writeFileSync(file, renderReportHtml(figures, { title: opts.title ?? 'Persona Lab report', generated: latest, runs, summary }, chartJs));
  return { file, dir, figures, runs, summary };
}
