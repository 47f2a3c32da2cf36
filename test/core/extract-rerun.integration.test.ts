/**
 * A finished extraction rerun with nothing new reuses the capture its run folder holds (no kept pair captured again,
 * the vector file untouched, the same result), and says so in its progress; when the vector on disk is no longer the one
 * this run wrote, or its pair differences are gone, the pairs are captured again and the same bytes come out.
 * Real toy model, real worker, the rubric judge.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceClient } from '../../src/engine/client.js';
import type { ModelHandle, Progress } from '../../src/core/backend.js';
import { RubricJudge } from '../../src/core/judge/rubric.js';
import { runExtraction } from '../../src/core/jobs/pipeline.js';
import { SAMPLER_PRESETS } from '../../src/core/sampling.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { loadTraitFile } from '../../src/core/traits/load.js';
import { identifyModel } from '../../src/core/models.js';
import { readVectorFile, writeVectorFile } from '../../src/core/vectors/file.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const TOY = path.join(root, 'models', 'toy-persona');
const MODEL = path.join(TOY, 'revisions', 'main');
let client: InferenceClient | undefined;
let tmp = '';
before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-extract-rerun-')); });
after(async () => { await client?.dispose(); if (tmp) rmSync(tmp, { recursive: true, force: true }); });

test('extraction rerun: reuses the run\'s capture when nothing is new, captures again when the vector is not its own', { timeout: 300_000 }, async () => {
  client = await InferenceClient.start({ threads: 2 });
  const info = await client.loadModel({ path: MODEL, threads: 2 });
  let captures = 0;
  const counting = new Proxy(client, { get: (c, k) => (k === 'capture' ? (...a: Parameters<InferenceClient['capture']>) => { captures++; return c.capture(...a); } : Reflect.get(c, k, c)) });
  const id = identifyModel(MODEL);
  const model: ModelHandle = { backend: counting, info, name: id.name, revision: id.revision };
  const ws = new Workspace(tmp);
  const notes: string[] = [];
  const job = { ws, model, judge: new RubricJudge(), trait: 'evil', traitFile: loadTraitFile(path.join(TOY, 'traits', 'extract', 'evil.json')), sampling: SAMPLER_PRESETS.toy,
    samplerPreset: 'toy', chunkSize: 128, batchSize: 64, samples: 1, seed: 0, maxQuestions: 4, progress: (p: Progress) => { if (p.note) notes.push(`${p.stage}: ${p.note}`); } };

  const first = await runExtraction(job);
  assert.equal(first.result.status, 'ok');
  if (first.result.status !== 'ok') return;
  const vectorPath = first.result.vectorPath;
  const diffs = first.run.path('pair_diffs.safetensors');
  const bytes = readFileSync(vectorPath), diffBytes = readFileSync(diffs), mtime = statSync(vectorPath).mtimeMs;
  assert.ok(captures > 0);
  assert.equal(notes.filter((n) => n.includes('reused')).length, 0, 'the first run captures');

  // 1. The same job again: nothing new, so nothing is captured and nothing rewritten; the result is the same.
  captures = 0; notes.length = 0;
  const again = await runExtraction(job);
  assert.equal(again.run.runId, first.run.runId);
  assert.equal(captures, 0, 'no kept pair captured again');
  assert.deepEqual(again.result, first.result);
  assert.equal(statSync(vectorPath).mtimeMs, mtime, 'the vector file is not rewritten');
  assert.ok(readFileSync(vectorPath).equals(bytes));
  assert.ok(readFileSync(diffs).equals(diffBytes));
  assert.ok(notes.some((n) => /^capture: reused: evil\.safetensors and this run's pair_diffs\.safetensors already hold these \d+ kept pairs$/.test(n)), notes.join(' | '));

  // 2. The vector file is another run's now (same numbers, another extraction_run): captured again, the same bytes back.
  const v = readVectorFile(vectorPath);
  writeVectorFile(vectorPath, { ...v, metadata: { ...v.metadata, extraction_run: 'extract-someone-else' } });
  captures = 0;
  const other = await runExtraction(job);
  assert.ok(captures > 0, 'captured again: the vector on disk was not this run\'s');
  assert.ok(readFileSync(vectorPath).equals(bytes), 'bit-identical to the first capture');
  assert.deepEqual(other.result, first.result);

  // 3. The pair differences are gone: captured again (the shuffle control needs them), the same bytes.
  rmSync(diffs);
  captures = 0;
  await runExtraction(job);
  assert.ok(captures > 0);
  assert.ok(readFileSync(diffs).equals(diffBytes));
  assert.ok(readFileSync(vectorPath).equals(bytes));
});
