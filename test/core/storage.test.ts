import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonlLog, readJsonl } from '../../src/core/storage/jsonl.js';
import { RunStore, canonicalJson } from '../../src/core/storage/run.js';
import { Workspace, modelFolderName } from '../../src/core/storage/workspace.js';
import { toCsv } from '../../src/core/storage/csv.js';
import { PipelineError } from '../../src/core/errors.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'pl-storage-'));

test('JSONL log drops and truncates a torn tail left by a crash', () => {
  const dir = tmp();
  try {
    const f = path.join(dir, 'a.jsonl');
    const log = JsonlLog.open<{ k: number }>(f);
    log.append([{ k: 1 }, { k: 2 }]);
    appendFileSync(f, '{"k": 3, "trunc'); // kill -9 mid-write
    assert.deepEqual(readJsonl(f), [{ k: 1 }, { k: 2 }]);
    const again = JsonlLog.open<{ k: number }>(f);
    assert.deepEqual(again.records, [{ k: 1 }, { k: 2 }]);
    again.append([{ k: 4 }]);
    assert.equal(readFileSync(f, 'utf8'), '{"k":1}\n{"k":2}\n{"k":4}\n');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('run store: reopening the same config resumes; a different config is refused', () => {
  const dir = tmp();
  try {
    const ws = new Workspace(dir);
    const cfg = { a: 1, b: [1, 2] };
    const id = RunStore.defaultRunId('extract', 'toy-main-evil', cfg);
    assert.equal(id, RunStore.defaultRunId('extract', 'toy-main-evil', { b: [1, 2], a: 1 }), 'key order does not matter');
    const r1 = RunStore.open(ws, 'extract', cfg, id);
    r1.appendGenerations([{ key: 'k0', prompt: { text: 'p' }, promptText: 'p', question: 'q', seed: 1, answer: 'a', finishReason: 'eos', tokens: 2 }]);
    r1.appendJudgements([{ key: 'k0', metric: 'trait', score: 12.5 }, { key: 'k0', metric: 'coherence', score: null }]);
    const r2 = RunStore.open(ws, 'extract', cfg, id);
    assert.equal(r2.manifest.starts, 2);
    assert.equal(r2.generations.get('k0')!.answer, 'a');
    assert.equal(r2.score('k0', 'trait'), 12.5);
    assert.equal(r2.score('k0', 'coherence'), null);
    assert.equal(r2.score('k1', 'trait'), undefined);
    r2.appendJudgements([{ key: 'k0', metric: 'trait', score: 99 }]); // duplicates are ignored
    assert.equal(RunStore.open(ws, 'extract', cfg, id).score('k0', 'trait'), 12.5);
    assert.throws(() => RunStore.open(ws, 'extract', { a: 2 }, id), (e) => PipelineError.is(e, 'run-mismatch'));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('workspace layout and names', () => {
  const ws = new Workspace('/w');
  assert.equal(ws.vectorPath('Qwen/Qwen2.5-7B-Instruct', 'main', 'evil'), '/w/vectors/Qwen--Qwen2.5-7B-Instruct/main/evil.safetensors');
  assert.equal(ws.vectorStatusPath('toy-persona', 'step-138', 'evil'), '/w/vectors/toy-persona/step-138/evil.status.json');
  assert.equal(ws.judgeCacheDir, '/w/cache/judge');
  assert.equal(modelFolderName('a b/c'), 'a_b--c');
  assert.equal(canonicalJson({ b: 1, a: { d: undefined, c: [1] } }), '{"a":{"c":[1]},"b":1}');
});

test('CSV quoting and missing scores as empty cells (pandas NaN)', () => {
  assert.equal(toCsv(['question', 'evil', 'coherence'], [{ question: 'say "hi", ok\nbye', evil: 12.5, coherence: null }]),
    'question,evil,coherence\n"say ""hi"", ok\nbye",12.5,\n');
});
