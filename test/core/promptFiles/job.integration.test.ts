/**
 * The prompt-file job behind the editor's Generate · Steer · Monitor lenses (src/core/promptFiles/job.ts) on the toy
 * model's main with the real worker and a real vector (test/fixtures/vectors, made by `persona-lab extract`): Steer
 * gives each prompt a baseline and a steered answer with the same seed, judged, recorded as an evaluate run whose row
 * keys the judge panel reads; the same inputs give the same run id and, resumed, the same bytes with nothing regenerated;
 * Monitor adds a finite last-prompt projection; an all-zero row is refused before any run folder exists.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient } from '../../../src/engine/client.js';
import type { ModelHandle } from '../../../src/core/backend.js';
import { RubricJudge } from '../../../src/core/judge/rubric.js';
import { SAMPLER_PRESETS } from '../../../src/core/sampling.js';
import { Workspace } from '../../../src/core/storage/workspace.js';
import { loadTraitFile } from '../../../src/core/traits/load.js';
import { identifyModel } from '../../../src/core/models.js';
import { parsePromptFile } from '../../../src/core/promptFiles/parse.js';
import { runPromptFile, type PromptFileJob } from '../../../src/core/promptFiles/job.js';
import { readVectorFile } from '../../../src/core/vectors/file.js';
import { parseRowKey } from '../../../src/extension/panels/judgeData.js';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const MODEL = path.join(root, 'models', 'toy-persona', 'revisions', 'main');
const VECTOR = path.join(root, 'test', 'fixtures', 'vectors', 'toy-persona-main-sycophantic.safetensors');
const available = existsSync(path.join(MODEL, 'config.json')) && existsSync(VECTOR);

let client: InferenceClient | undefined;
let model: ModelHandle;
let tmp = '';

before(async () => {
  if (!available) return;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-prompt-file-'));
  client = await InferenceClient.start({ threads: 2 });
  const info = await client.loadModel({ path: MODEL, threads: 2 });
  const id = identifyModel(MODEL);
  model = { backend: client, info, name: id.name, revision: id.revision };
});
after(async () => { await client?.dispose(); if (tmp) rmSync(tmp, { recursive: true, force: true }); });

const prompts = parsePromptFile('{"prompt": "how do i cook berries ?"}\n{"messages": [{"role": "user", "content": "how can i learn to knit ?"}]}\n', 'jsonl').prompts;
const job = (over: Partial<PromptFileJob>): PromptFileJob => ({
  ws: new Workspace(tmp), model, judge: new RubricJudge(), trait: 'sycophantic', sampling: SAMPLER_PRESETS.toy, samplerPreset: 'toy', seed: 0,
  evalTrait: loadTraitFile(path.join(root, 'models', 'toy-persona', 'traits', 'eval', 'sycophantic.json')),
  prompts, action: 'steer', vectorPath: VECTOR, layer: 4, coef: 6, source: 'prompts.jsonl', ...over,
});

test('Steer: baseline and steered answers per prompt, judged, as an evaluate run the judge panel reads; rerun resumes byte for byte', { skip: !available && 'toy model or fixture vector missing' }, async () => {
  const a = await runPromptFile(job({}));
  assert.equal(a.outcomes.length, 2);
  assert.ok(a.outcomes.some((o) => o.steered!.answer !== o.baseline.answer), 'steering changed no answer');
  for (const o of a.outcomes) for (const r of [o.baseline, o.steered!]) assert.ok(r.trait !== null && r.coherence !== null, 'an answer was not judged');
  const manifest = JSON.parse(readFileSync(path.join(a.run.dir, 'manifest.json'), 'utf8')) as { kind: string; status: string };
  assert.deepEqual([manifest.kind, manifest.status], ['evaluate', 'done']);
  const gens = readFileSync(path.join(a.run.dir, 'generations.jsonl'), 'utf8');
  const keys = gens.trim().split('\n').map((l) => parseRowKey((JSON.parse(l) as { key: string }).key));
  assert.deepEqual(keys.map((k) => [k.condition, k.layer, k.coef, k.qid]), [['baseline', null, null, 0], ['baseline', null, null, 1], ['steer', 4, 6, 0], ['steer', 4, 6, 1]]);
  const b = await runPromptFile(job({}));
  assert.equal(b.run.dir, a.run.dir, 'the same inputs opened another run');
  assert.equal(readFileSync(path.join(b.run.dir, 'generations.jsonl'), 'utf8'), gens, 'the rerun regenerated');
  assert.deepEqual(b.outcomes, a.outcomes);
  const other = await runPromptFile(job({ coef: 2 }));
  assert.notEqual(other.run.dir, a.run.dir, 'another coef shared the run');
});

test('Monitor: a finite last-prompt projection per prompt; an all-zero layer is refused before any run folder', { skip: !available && 'toy model or fixture vector missing' }, async () => {
  const m = await runPromptFile(job({ action: 'monitor', coef: undefined }));
  assert.ok(m.outcomes.every((o) => Number.isFinite(o.projection) && o.steered === undefined), JSON.stringify(m.outcomes));
  // A vector whose row 4 is zero: the same file with that row zeroed.
  const v = readVectorFile(VECTOR);
  const zero = path.join(tmp, 'zero.safetensors');
  const bytes = Buffer.from(readFileSync(VECTOR));
  const hdr = Number(bytes.readBigUInt64LE(0));
  const meta = JSON.parse(bytes.subarray(8, 8 + hdr).toString('utf8')) as Record<string, { data_offsets?: [number, number] }>;
  const [start] = meta.response_avg_diff.data_offsets!;
  bytes.fill(0, 8 + hdr + start + 4 * v.hidden * 4, 8 + hdr + start + 5 * v.hidden * 4);
  writeFileSync(zero, bytes);
  const before = readdirSync(path.join(tmp, 'runs')).length;
  await assert.rejects(runPromptFile(job({ action: 'monitor', vectorPath: zero })), /row 4 .*all zeros/);
  await assert.rejects(runPromptFile(job({ action: 'steer', vectorPath: zero })), /row 4 is all zeros; steering at layer 4 adds nothing: pick another layer/);
  assert.equal(readdirSync(path.join(tmp, 'runs')).length, before, 'a refused job left a run folder');
});
