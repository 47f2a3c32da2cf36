/**
 * The HTML report (issue 13) built from real runs on the toy organism (real worker, rubric judge, small sizes):
 * every section the runs allow, one CSV per figure beside the page, whose numbers are the runs' own, valid
 * self-contained HTML (chart.js inlined, nothing fetched), the same bytes when rebuilt, and clear refusals.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient } from '../../src/engine/client.js';
import type { ModelHandle } from '../../src/core/backend.js';
import { RubricJudge } from '../../src/core/judge/rubric.js';
import { runControlsJob, runExtraction, runGridJob } from '../../src/core/jobs/pipeline.js';
import { runMonitoring, toyMonitoringPrompts } from '../../src/core/jobs/monitor.js';
import { runSweep } from '../../src/core/jobs/sweep.js';
import { runShift } from '../../src/core/shift/index.js';
import { runFacets } from '../../src/core/facets/facets.js';
import { ToyFacetAnnotator } from '../../src/core/facets/annotators.js';
import { SAMPLER_PRESETS } from '../../src/core/sampling.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { readCsv } from '../../src/core/storage/csv.js';
import { loadTraitFile } from '../../src/core/traits/load.js';
import { identifyModel } from '../../src/core/models.js';
import { buildReport } from '../../src/core/report/build.js';
import { PipelineError } from '../../src/core/errors.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const TOY = path.join(root, 'models', 'toy-persona');
const MODEL = path.join(TOY, 'revisions', 'main');
const TRAITS = ['evil', 'humorous'];
let client: InferenceClient | undefined;
let model: ModelHandle;
let tmp = '';

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-report-'));
  client = await InferenceClient.start({ threads: 2 });
  const info = await client.loadModel({ path: MODEL, threads: 2 });
  const id = identifyModel(MODEL);
  model = { backend: client, info, name: id.name, revision: id.revision };
});
after(async () => { await client?.dispose(); if (tmp) rmSync(tmp, { recursive: true, force: true }); });

test('report from toy runs: every section, CSV beside each figure, self-contained valid HTML, deterministic', { timeout: 600_000 }, async () => {
  const ws = new Workspace(tmp);
  assert.throws(() => buildReport(ws), (e: unknown) => PipelineError.is(e, 'data-invalid') && /no finished .* runs/.test((e as Error).message));
  for (const trait of TRAITS) {
    const base = { ws, model, judge: new RubricJudge(), trait, sampling: SAMPLER_PRESETS.toy, samplerPreset: 'toy', chunkSize: 128, batchSize: 64 };
    const ex = await runExtraction({ ...base, traitFile: loadTraitFile(path.join(TOY, 'traits', 'extract', `${trait}.json`)), samples: 2, seed: 0, maxQuestions: 4 });
    assert.equal(ex.result.status, 'ok');
    if (ex.result.status !== 'ok') return;
    const evalTrait = loadTraitFile(path.join(TOY, 'traits', 'eval', `${trait}.json`));
    const job = { ...base, evalTrait, vectorPath: ex.result.vectorPath, samples: 1, seed: 1000, maxQuestions: 4 };
    const { grid } = await runGridJob({ ...job, layers: [3, 4], coefs: [4, 6] });
    const b = grid.best ?? grid.results.find((c) => c.condition.kind === 'steer')!;
    await runControlsJob({ ...job, layer: b.condition.layer!, coef: b.condition.coef!, seeds: [0], modes: ['random', 'shuffled'] });
    await runMonitoring({ ...base, evalTrait, vectorPath: ex.result.vectorPath, layer: 4, prompts: toyMonitoringPrompts(path.join(TOY, 'world', 'monitoring-prompts.json'), trait).slice(0, 8),
      samples: 1, seed: 2000, maxQuestions: 2 });
  }
  // A short checkpoint sweep with transfer to the instruct model, as the demo runs it: the emergence, revision ×
  // revision and transfer figures.
  const revisions = ['stage1-step250', 'stage1-step550', 'main'];
  const open = async (p: string, revision?: string) => {
    const info = await client!.loadModel({ path: p, threads: 2 });
    const id = identifyModel(p);
    return { model: { backend: client!, info, name: id.name, revision: revision ?? id.revision }, close: () => client!.unloadModel(info.modelId) };
  };
  const sweep = await runSweep({ ws, judge: new RubricJudge(), modelName: model.name, revisions, sampling: SAMPLER_PRESETS.toy, samplerPreset: 'toy', chunkSize: 128, batchSize: 64,
    openModel: (rev) => open(path.join(TOY, 'revisions', rev), rev),
    traits: [{ trait: 'evil', extract: loadTraitFile(path.join(TOY, 'traits', 'extract', 'evil.json')), eval: loadTraitFile(path.join(TOY, 'traits', 'eval', 'evil.json')), layer: 4, coef: 6 }],
    extract: { samples: 2, seed: 0, maxQuestions: 4 }, evaluate: { samples: 1, seed: 1000, maxQuestions: 4 },
    transfer: { scaling: 'match-target', openTarget: () => open(path.join(root, 'models', 'toy-persona-instruct')) } });
  // The finetuning shift along the instruct model's vectors (the sweep's transfer extracted them), two finetunes.
  const instruct = await open(path.join(root, 'models', 'toy-persona-instruct'));
  const ftDir = path.join(TOY, 'finetunes');
  const shift = await runShift({ ws, base: instruct.model, layer: 4, judge: new RubricJudge(), sampling: SAMPLER_PRESETS.toy, samplerPreset: 'toy', chunkSize: 128, batchSize: 64,
    finetuned: ['toy-persona-ft-evil', 'toy-persona-ft-neutral'].map((d) => ({ ...identifyModel(path.join(ftDir, d)), data: path.join(ftDir, d, 'train.jsonl'), open: () => open(path.join(ftDir, d)) })),
    traits: [{ trait: 'evil', eval: loadTraitFile(path.join(TOY, 'traits', 'eval', 'evil.json')), vectorPath: ws.vectorPath(instruct.model.name, instruct.model.revision, 'evil') }],
    samples: 1, seed: 1000, screenSeed: 3000, maxQuestions: 4 });
  await instruct.close();
  const v = (x: unknown) => (x === '' || x === null || x === undefined ? null : Number(x));
  // Facets of the sweep's evil answers (the toy's rubric annotator), as the demo annotates them.
  const facets = await runFacets({ ws, sources: [sweep.run.runId], trait: 'evil', annotator: new ToyFacetAnnotator() });
  const r = buildReport(ws);
  const ids = r.figures.map((f) => f.id);
  const facetCsv = readCsv(readFileSync(path.join(r.dir, 'facets_evil.csv'), 'utf8'));
  assert.equal(facetCsv.length, facets.results.groups.reduce((n, g) => n + g.shares.length, 0));
  for (const g of facets.results.groups) for (const sh of g.shares) {
    const row = facetCsv.find((c) => c.revision === g.revision && c.condition === g.condition && c.facet === sh.facet)!;
    assert.equal(Number(row.count), sh.count);
    assert.equal(v(row.ci_low), sh.ciLow);
  }
  for (const id of ['shift_expression', 'shift_screening']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
  const shiftCsv = readCsv(readFileSync(path.join(r.dir, 'shift_expression.csv'), 'utf8'));
  const shifted = shift.rows.filter((x) => x.layer === 4 && x.model !== shift.base);
  assert.equal(shiftCsv.length, shifted.length);
  for (const x of shifted) assert.equal(Number(shiftCsv.find((c) => c.model === x.model && c.trait === x.trait)!.shift), x.shift);
  assert.match(r.figures.find((f) => f.id === 'shift_expression')!.caption, /evil r = /);
  for (const id of ['emergence', 'transfer']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
  assert.ok(ids.some((id) => id.startsWith('revision_cosine_evil')), ids.join(', '));
  // Emergence: one point per swept revision, Δτ and significance as the sweep stored them, tokens seen from the toy's manifest.
  const em = readCsv(readFileSync(path.join(r.dir, 'emergence.csv'), 'utf8'));
  const toyManifest = JSON.parse(readFileSync(path.join(TOY, 'manifest.json'), 'utf8')) as { revisions: { name: string; tokensSeen: number }[] };
  const swept = sweep.rows.filter((x) => x.mode === 'steer');
  assert.equal(em.length, swept.length);
  for (const s of swept) {
    const e = em.find((x) => x.revision === s.extract_revision)!;
    assert.ok(e, `emergence row for ${String(s.extract_revision)}`);
    assert.equal(v(e.delta_trait), v(s.delta_trait_mean));
    assert.equal(Number(e.tokens_seen), toyManifest.revisions.find((x) => x.name === s.extract_revision)!.tokensSeen);
    assert.equal(e.significant === 'true', Number(s.trait_primary_p_two_sided_bonferroni_within_trait) < 0.05);
  }
  assert.equal(Number(em.find((x) => x.revision === 'main')!.cosine_to_main), 1);
  // Transfer: every source revision's vector on the instruct model, as the sweep's transfer table has it.
  const tr = readCsv(readFileSync(path.join(r.dir, 'transfer.csv'), 'utf8'));
  const storedTr = (sweep.transferRows ?? []).filter((x) => x.mode !== 'prompt');
  assert.ok(storedTr.length > 0);
  assert.equal(tr.length, storedTr.length);
  for (const s of storedTr) assert.equal(v(tr.find((x) => x.source_revision === s.extract_revision)!.delta_trait), v(s.delta_trait_mean));
  for (const id of ['steering_table', 'grid_delta_trait_evil', 'grid_coherence_evil', 'grid_delta_trait_humorous', 'controls', 'trait_cosine', 'trait_mds', 'monitoring']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
  for (const s of ['Steering', 'Controls', 'Geometry', 'Monitoring', 'Emergence across pretraining', 'Transfer', 'Finetuning shift', 'Facets']) assert.ok(r.figures.some((f) => f.section === s), s);
  const html = readFileSync(r.file, 'utf8');
  // Valid, self-contained HTML: doctype, every figure closed with its caption and CSV link; nothing loaded from elsewhere.
  assert.match(html, /^<!doctype html>/);
  assert.equal((html.match(/<figure /g) ?? []).length, r.figures.length);
  assert.equal((html.match(/<\/figure>/g) ?? []).length, r.figures.length);
  assert.equal((html.match(/<script/g) ?? []).length, (html.match(/<\/script>/g) ?? []).length);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(html, /url\(\s*["']?https?:/i);
  assert.match(html, /Chart\b/, 'chart.js inlined');
  for (const f of r.figures) {
    assert.ok(f.caption.length > 20 && !f.caption.includes('\n'), `${f.id}: a one-line caption`);
    assert.ok(html.includes(`href="${f.id}.csv"`), `${f.id} links its CSV`);
    const rows = readCsv(readFileSync(path.join(r.dir, `${f.id}.csv`), 'utf8'));
    assert.equal(rows.length, f.rows.length, `${f.id}.csv rows`);
    assert.ok(rows.length > 0, `${f.id}.csv not empty`);
  }
  // The numbers are the runs' own: the evil Δτ heat-map's cells equal the grid's combined_significance.csv.
  const gridRun = readdirSync(ws.runsDir).find((d) => d.startsWith('grid-') && d.includes('-evil-'))!;
  const stored = readCsv(readFileSync(path.join(ws.runDir(gridRun), 'combined_significance.csv'), 'utf8')).filter((x) => x.mode === 'steer');
  const heat = readCsv(readFileSync(path.join(r.dir, 'grid_delta_trait_evil.csv'), 'utf8'));
  for (const s of stored) assert.equal(Number(heat.find((h) => h.layer === `L${s.layer}` && Number(h.coef) === Number(s.coef))!.value), Number(s.delta_trait_mean));
  const mon = readCsv(readFileSync(path.join(r.dir, 'monitoring.csv'), 'utf8'));
  assert.deepEqual(mon.map((m) => m.trait).sort(), [...TRAITS].sort());
  const ctrl = readCsv(readFileSync(path.join(r.dir, 'controls.csv'), 'utf8'));
  assert.deepEqual([...new Set(ctrl.map((c) => c.mode))].sort(), ['random', 'real', 'shuffled']);
  // Rebuilt from the same runs: the same bytes; and a named run that does not exist is refused.
  assert.equal(readFileSync(buildReport(ws).file, 'utf8'), html);
  assert.throws(() => buildReport(ws, { runs: ['no-such-run'] }), /no run no-such-run/);
  assert.ok(existsSync(path.join(r.dir, 'index.html')));
});

