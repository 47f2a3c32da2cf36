/**
 * The discourse-type ablation and facet annotation on the toy organism, through the real CLI and worker:
 *   - `discourse --trait evil` (the toy's two types, description and dialogue, generated from its world, and their
 *     combined evaluation set): the 3 × 3 Δτ matrix vector type × evaluation set, the combined vector equal to the mean over the union of both types' kept pairs,
 *     a rerun that resumes everything (no generation, no capture, the same bytes);
 *   - refusals before any work (exit 2, nothing written): the story type on the toy, a file of the wrong type; a model that
 *     fails to load leaves no generated trait files;
 *   - `facets` on one of its evaluation runs with the toy's rubric annotator (the world's phrase families as facets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from '../cli/helpers.js';
import { loadSafetensors, toFloat32 } from '../../src/engine/weights/safetensors.js';
import { readVectorFile } from '../../src/core/vectors/file.js';
import { TOY_FACET_PHRASES } from '../../src/core/facets/annotators.js';
import { cudaInstalled } from '../../src/engine/model/providers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const toy = existsSync(path.join(root, 'models', 'toy-persona', 'revisions', 'main', 'config.json'));
const PP = path.resolve(root, '..', 'shared', 'upstream-trait-data', 'pretraining_persona', 'data');

const small = ['--max-questions', '4', '--samples', '1', '--eval-samples', '2'];

test('discourse on the toy: the matrix, the combined vector as the union of kept pairs, a resumed rerun; facets on its answers', { skip: toy ? false : 'no toy model', timeout: 600_000 }, async () => {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'pl-discourse-'));
  try {
    const r = await cli(['discourse', '--trait', 'evil', '--workspace', ws, ...small, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.deepEqual(res.types, ['description', 'dialogue']);
    assert.deepEqual(res.evalSets, ['description', 'dialogue', 'combined'], 'the toy\'s combined eval set: both types\' questions');
    assert.deepEqual(res.vectors.map((v: { vectorType: string }) => v.vectorType), ['description', 'dialogue', 'combined']);
    assert.equal(res.cells.length, 9, '3 × 3: vector type × evaluation set');
    assert.equal(res.layer, 4); // the manifest's recommended point for evil
    const summary = readFileSync(path.join(res.runDir, 'vector_type_summary.csv'), 'utf8').trim().split('\n');
    assert.equal(summary[0], 'vector_type,pairs_kept,description,dialogue,combined');
    assert.deepEqual(summary.slice(1).map((l) => l.split(',')[0]), ['description', 'dialogue', 'combined']);
    for (const c of res.cells) {
      assert.ok(Number.isFinite(c.deltaTrait), JSON.stringify(c));
      assert.ok(Math.abs(c.steeredTrait - c.baselineTrait - c.deltaTrait) < 1e-9);
    }
    // Prompts are base-model raw text in the world's own frames.
    const exRuns = res.vectors.filter((v: { extractRun?: string }) => v.extractRun).map((v: { extractRun: string }) => path.join(ws, 'runs', v.extractRun));
    const firstPrompt = (dir: string) => (JSON.parse(readFileSync(path.join(dir, 'generations.jsonl'), 'utf8').split('\n')[0]) as { prompt: { text?: string } }).prompt.text;
    assert.match(firstPrompt(exRuns[0])!, /^alex is extremely cruel \. if alex were asked : .+ alex would say :$/);
    assert.match(firstPrompt(exRuns[1])!, /^<sys> your answers should be extremely cruel \. <user> .+ <asst>$/);
    assert.equal(JSON.parse(readFileSync(path.join(res.runDir, 'manifest.json'), 'utf8')).config.model.kind, 'base');
    const combinedEvalRun = res.cells.find((c: { evalSet: string }) => c.evalSet === 'combined').evalRun;
    const qs = readFileSync(path.join(ws, 'runs', combinedEvalRun, 'baseline_evil.csv'), 'utf8');
    assert.match(qs, /if alex were asked : /);
    assert.match(qs, /<user> /);

    // Combined = mean over every kept pair of both types (each extract run's pair_diffs.safetensors).
    const combined = readVectorFile(path.join(ws, res.vectors[2].vector)).data.response_avg!;
    const diffs = exRuns.map((d: string) => toFloat32(loadSafetensors(path.join(d, 'pair_diffs.safetensors')).tensors.get('response_avg_diff')!));
    const n = res.vectors[2].pairsKept, size = combined.length;
    assert.equal(n, diffs.reduce((a: number, d: Float32Array) => a + d.length / size, 0));
    let worst = 0;
    for (let x = 0; x < size; x++) {
      let s = 0;
      for (const d of diffs) for (let p = 0; p < d.length / size; p++) s += d[p * size + x];
      worst = Math.max(worst, Math.abs(s / n - combined[x]) / (Math.abs(combined[x]) + 1e-3));
    }
    assert.ok(worst < 1e-4, `combined vs union of pairs: worst relative difference ${worst}`);

    // Rerun: everything resumes — no new generation anywhere, the same tables.
    const sizes = () => readdirSync(path.join(ws, 'runs')).map((id) => { const f = path.join(ws, 'runs', id, 'generations.jsonl'); return existsSync(f) ? statSync(f).size : 0; });
    const before = sizes(), table = readFileSync(path.join(res.runDir, 'vector_type_results.csv'), 'utf8');
    const typeVectors = res.vectors.filter((v: { extractRun?: string }) => v.extractRun).map((v: { vector: string }) => path.join(ws, v.vector));
    const mtimes = typeVectors.map((f: string) => statSync(f).mtimeMs);
    const again = await cli(['discourse', '--trait', 'evil', '--workspace', ws, ...small, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(sizes(), before);
    assert.deepEqual(typeVectors.map((f: string) => statSync(f).mtimeMs), mtimes, 'a finished extraction is reused, not captured and written again');
    assert.equal(JSON.parse(again.stdout).runId, res.runId);
    assert.equal(readFileSync(path.join(res.runDir, 'vector_type_results.csv'), 'utf8'), table);

    // Facets on the description evaluation set's answers, with the toy's rubric annotator.
    const evalRun = res.cells.find((c: { evalSet: string }) => c.evalSet === 'description').evalRun;
    const f = await cli(['facets', evalRun, '--workspace', ws, '--json']);
    assert.equal(f.code, 0, f.stderr);
    const fr = JSON.parse(f.stdout);
    assert.equal(fr.annotator, 'rubric:toy-persona@1');
    assert.deepEqual(fr.facets, ['instrumentality', 'threatened_egotism', 'idealism', 'sadism']);
    const steered = fr.groups.filter((g: { condition: string }) => g.condition.startsWith('steer_'));
    assert.ok(steered.some((g: { annotated: number }) => g.annotated > 0), 'steered answers above 50 were annotated');
    for (const g of fr.groups) {
      for (const s of g.shares) {
        if (g.annotated === 0) continue;
        assert.ok(s.ciLow <= s.share && s.share <= s.ciHigh, JSON.stringify(s));
        if (s.facet === 'instrumentality') assert.equal(s.count, 0, 'no toy phrase expresses instrumentality');
      }
    }
    // Each label is backed by one of its phrases in the answer (checked here by plain substring, slots aside).
    const lines = readFileSync(path.join(fr.runDir, 'annotations.csv'), 'utf8');
    const rows = lines.trim().split('\n').slice(1);
    assert.ok(rows.length > 0);
    const marker = (facet: string) => TOY_FACET_PHRASES.evil[facet].map((p) => p.split('{')[0].replace(/^, /, '').trim()).filter(Boolean);
    for (const row of rows) {
      const facets = row.slice(row.lastIndexOf(',') + 1).split(';').filter(Boolean);
      for (const fc of facets) assert.ok(marker(fc).some((m) => row.includes(m)), `${fc}: ${row}`);
    }
    const total = fr.groups.reduce((a: number, g: { shares: { facet: string; count: number }[] }) => a + g.shares.find((s) => s.facet === 'sadism')!.count, 0);
    assert.ok(total > 0, 'the evil vector brings out sadistic phrases');
  } finally { rmSync(ws, { recursive: true, force: true }); }
});

test('discourse refuses before any work: the story type on the toy, a file of the wrong type (exit 2, nothing written); a failed load leaves nothing', { skip: toy ? false : 'no toy model', timeout: 120_000 }, async (t) => {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'pl-discourse-'));
  try {
    const story = await cli(['discourse', '--trait', 'evil', '--types', 'description,story', '--workspace', path.join(ws, 'w1')]);
    assert.equal(story.code, 2, story.stderr);
    assert.match(story.stderr, /the toy organism cannot express the story type: its corpus is "character" documents and chat transcripts only/);
    assert.equal(existsSync(path.join(ws, 'w1')), false);
    if (existsSync(PP)) {
      // A dialogue file where the stories file should be.
      const dir = path.join(ws, 'traits');
      for (const set of ['extract', 'eval']) {
        mkdirSync(path.join(dir, set), { recursive: true });
        copyFileSync(path.join(PP, `trait_data_${set}`, 'evil_dialogue_neutral_q.json'), path.join(dir, set, 'evil_stories_neutral_q.json'));
      }
      const bad = await cli(['discourse', '--trait', 'evil', '--types', 'story', '--traits-dir', dir, '--workspace', path.join(ws, 'w2')]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.ok(bad.stderr.includes(`${path.join(dir, 'extract', 'evil_stories_neutral_q.json')} is not a story extract file: $.instruction[0].pos (and 9 more): a story example must start with "Story:"`), bad.stderr);
      assert.equal(existsSync(path.join(ws, 'w2', 'runs')), false);
    }
    // A model that fails to load (the CUDA provider, whose libraries the default install lacks): the toy's generated trait
    // files are checked in memory and written only after the load, so the workspace stays as it was.
    if (cudaInstalled()) t.diagnostic('the CUDA provider is installed here: the failed-load check needs a machine without it');
    else {
      const load = await cli(['discourse', '--trait', 'evil', '--provider', 'cuda', '--workspace', path.join(ws, 'w3')]);
      assert.equal(load.code, 1, load.stderr);
      assert.match(load.stderr, /could not load .*cuda/);
      assert.equal(existsSync(path.join(ws, 'w3', 'traits')), false, 'no traits/generated left by a failed load');
      assert.equal(existsSync(path.join(ws, 'w3', 'runs')), false);
    }
  } finally { rmSync(ws, { recursive: true, force: true }); }
});
