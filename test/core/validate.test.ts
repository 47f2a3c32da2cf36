/**
 * Shared input checks (src/core/validate) and the readers that use them: strict UTF-8 with the offending byte's
 * offset and line, the byte-order mark stripped, stat-before-read size limits, prompt-length limits from the context
 * window, vector values (NaN/Inf by row, zero rows by use, unknown tensor names and --vector-key), and screening
 * datasets (roles, null content, empty files, per-line errors capped).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PipelineError } from '../../src/core/errors.js';
import { MAX_REPORTED_ERRORS, readScreenData } from '../../src/core/jobs/screen.js';
import { readMonitorPrompts } from '../../src/core/jobs/monitor.js';
import { loadTraitFile, validateTraitPath } from '../../src/core/traits/load.js';
import { checkTextLengths, contextWindowOf, promptTextLimit } from '../../src/core/validate/limits.js';
import { firstInvalidUtf8, lineColumn, MAX_FILE_BYTES, readTextInput } from '../../src/core/validate/text.js';
import { checkRowUsable, readVectorFile, vectorRow, writeVectorFile } from '../../src/core/vectors/file.js';
import { createVectorFileReader } from '../../src/engine/steering/vector-file.js';
import { writeSafetensors } from '../../src/engine/weights/safetensors.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const TOY_TRAIT = path.join(root, 'models', 'toy-persona', 'traits', 'eval', 'evil.json');
let tmp = '';
before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-validate-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, content: string | Buffer) => { const f = path.join(tmp, name); writeFileSync(f, content); return f; };
const rejects = (fn: () => unknown, reason: string, re: RegExp) => assert.throws(fn, (e: unknown) => {
  assert.ok(PipelineError.is(e, reason as never), `reason ${(e as PipelineError).reason}: ${(e as Error).message}`);
  assert.match((e as Error).message, re);
  return true;
});

test('UTF-8: the first invalid byte is found (overlongs, surrogates, truncations, > U+10FFFF) and located by line', () => {
  const b = (...x: number[]) => Uint8Array.from(x);
  assert.equal(firstInvalidUtf8(Buffer.from('plain ascii, é, 日本, 😀')), -1);
  assert.equal(firstInvalidUtf8(b(0x61, 0xff, 0x62)), 1);
  assert.equal(firstInvalidUtf8(b(0x61, 0xc0, 0xaf)), 1, 'overlong /');
  assert.equal(firstInvalidUtf8(b(0xed, 0xa0, 0x80)), 0, 'a UTF-16 surrogate');
  assert.equal(firstInvalidUtf8(b(0xf4, 0x90, 0x80, 0x80)), 0, 'above U+10FFFF');
  assert.equal(firstInvalidUtf8(b(0x61, 0x62, 0xe6, 0x97)), 2, 'truncated at the end');
  assert.equal(firstInvalidUtf8(b(0xe6, 0x41, 0x41)), 0, 'a lead byte without continuation');
  assert.deepEqual(lineColumn(Buffer.from('ab\ncd\nef'), 7), { line: 3, column: 2 });
});

test('a trait file with a Latin-1 byte is refused with offset, line and column; a BOM is stripped', () => {
  const good = readFileSync(TOY_TRAIT, 'utf8');
  const latin1 = Buffer.concat([Buffer.from(good.slice(0, 40)), Buffer.from([0xe9]), Buffer.from(good.slice(40))]);
  const lines = good.slice(0, 40).split('\n');
  rejects(() => loadTraitFile(file('latin1.json', latin1)), 'trait-invalid',
    new RegExp(`latin1\\.json: the trait file is not valid UTF-8: byte offset 40 \\(line ${lines.length}, column ${lines[lines.length - 1].length + 1}: .*\\[e9\\]`));
  const bom = loadTraitFile(file('bom.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)])));
  assert.deepEqual(bom.data, loadTraitFile(TOY_TRAIT).data);
  assert.equal(readTextInput(path.join(tmp, 'bom.json'), 'trait file', 'trait-invalid', 1e6).bomStripped, true);
  assert.deepEqual(validateTraitPath(path.join(tmp, 'latin1.json'))[0].ok, false);
  assert.equal(validateTraitPath(path.join(tmp, 'bom.json'))[0].ok, true);
  rejects(() => loadTraitFile(file('syntax.json', '{\n  "questions": [\n    "a",\n  ]\n}')), 'trait-invalid', /syntax\.json: the trait file is not valid JSON/);
});

test('sizes: a file over its kind\'s limit is refused from its size alone (sparse, never read); empty files too', () => {
  const big = file('huge.json', '');
  truncateSync(big, MAX_FILE_BYTES.trait + 1);
  rejects(() => loadTraitFile(big), 'trait-invalid', /huge\.json: the trait file is 16\.0 MiB, more than the 16\.0 MiB a trait file can be; it was not read/);
  rejects(() => loadTraitFile(file('empty.json', '')), 'trait-invalid', /is empty \(0 bytes\)/);
  rejects(() => loadTraitFile(tmp), 'trait-invalid', /not a regular file/);
});

test('prompt lengths: the limit comes from the context window and the generation budget, or --max-prompt-chars', () => {
  assert.equal(contextWindowOf(path.join(root, 'models', 'toy-persona', 'revisions', 'main')), 256);
  const lim = promptTextLimit({ contextTokens: 256, maxNewTokens: 80 })!;
  assert.equal(lim.maxChars, 176 * 8);
  assert.equal(promptTextLimit({ contextTokens: 256, maxNewTokens: 80, maxChars: 10 })!.maxChars, 10);
  assert.equal(promptTextLimit({ contextTokens: 64, maxNewTokens: 80 })!.maxChars, 0);
  assert.equal(promptTextLimit({}), undefined);
  const t = JSON.parse(readFileSync(TOY_TRAIT, 'utf8'));
  t.questions[3] = 'why '.repeat(400);
  rejects(() => loadTraitFile(file('long.json', JSON.stringify(t)), { limit: lim }), 'trait-invalid', /long\.json: \$\.questions\[3\] is 1600 characters, over the 1408 .*--max-prompt-chars/);
  loadTraitFile(file('long.json', JSON.stringify(t)), { limit: { maxChars: 2000, why: 'test' } });
  assert.doesNotThrow(() => checkTextLengths([{ where: 'x', text: 'abc' }], undefined, 'f', 'data-invalid'));
});

test('vector values: NaN/Inf refused on load naming the row, in the core reader and the worker\'s', () => {
  const L = 4, H = 8;
  const data = new Float32Array((L + 1) * H).fill(0.5);
  data[3 * H + 5] = NaN;
  const nan = path.join(tmp, 'nan.safetensors');
  writeVectorFile(nan, { layers: L + 1, hidden: H, data: { response_avg: data }, metadata: {} });
  rejects(() => readVectorFile(nan), 'vector-invalid', /nan\.safetensors: tensor response_avg_diff row 3 \(layer 3\), column 5 is NaN/);
  assert.throws(() => createVectorFileReader()(nan, 'response_avg_diff'), /nan\.safetensors tensor 'response_avg_diff' row 3, column 5 is NaN/);
  data[3 * H + 5] = -Infinity;
  writeVectorFile(nan, { layers: L + 1, hidden: H, data: { response_avg: data }, metadata: {} });
  rejects(() => readVectorFile(nan), 'vector-invalid', /row 3 \(layer 3\), column 5 is -Infinity/);
});

test('vector rows: all zeros refused for projection and unit/target-norm scaling, a warning for raw steering', () => {
  const L = 4, H = 8;
  const data = new Float32Array((L + 1) * H).fill(0.25);
  data.fill(0, 0, H);
  const f = path.join(tmp, 'zero-row.safetensors');
  writeVectorFile(f, { layers: L + 1, hidden: H, data: { response_avg: data }, metadata: {} });
  const v = readVectorFile(f);
  for (const use of ['projection', 'unit', 'target-norm'] as const) rejects(() => checkRowUsable(vectorRow(v, 'response_avg', 0), use, f, 0), 'vector-invalid', /row 0 \(layer 0\) is all zeros/);
  assert.match(checkRowUsable(vectorRow(v, 'response_avg', 0), 'raw', f, 0)!, /adds nothing/);
  assert.equal(checkRowUsable(vectorRow(v, 'response_avg', 2), 'projection', f, 2), undefined);
});

test('a vector file whose tensor has another name: the names found and --vector-key; the key reads it', () => {
  const L = 4, H = 8;
  const f = path.join(tmp, 'other.safetensors');
  writeSafetensors(f, { persona_direction: { dtype: 'F32', shape: [L + 1, H], data: new Float32Array((L + 1) * H).fill(1) }, mean_pos: { dtype: 'F32', shape: [H], data: new Float32Array(H) } });
  rejects(() => readVectorFile(f), 'vector-invalid', /holds none of the tensors .* it has: mean_pos, persona_direction\. .*--vector-key <name>/);
  const v = readVectorFile(f, { key: 'persona_direction', kind: 'prompt_last' });
  assert.deepEqual([v.layers, v.hidden], [L + 1, H]);
  assert.equal(vectorRow(v, 'prompt_last', 2)[0], 1);
  rejects(() => readVectorFile(f, { key: 'nope' }), 'vector-invalid', /no tensor "nope" \(--vector-key\); it has: mean_pos, persona_direction/);
  rejects(() => readVectorFile(f, { key: 'mean_pos' }), 'vector-invalid', /tensor mean_pos is F32 \[8\], not a float \[L\+1, H\] matrix/);
});

test('screening datasets: roles, null content, per-line errors with line numbers, capped; blank-only and empty files', () => {
  const m = (msgs: unknown) => JSON.stringify({ messages: msgs });
  const lines = [
    m([{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }]),
    m([{ role: 'user', content: 'q' }, { role: 'assistant', content: null }]),
    m([{ role: 'human', content: 'q' }, { role: 'assistant', content: 'a' }]),
    m([{ role: 'user', content: ['parts'] }, { role: 'assistant', content: 'a' }]),
    '{"question": null, "answer": "a"}',
    '',
    'not json',
    '[1, 2]',
  ];
  assert.throws(() => readScreenData(file('d.jsonl', lines.join('\n')), 'chat'), (e: Error) => {
    assert.ok(PipelineError.is(e, 'data-invalid'));
    assert.match(e.message, /d\.jsonl: 6 problems in the dataset; nothing was run/);
    assert.match(e.message, /line 2: messages\[1\]\.content is null; every message needs its text as a string/);
    assert.match(e.message, /line 3: messages\[0\]\.role is "human"; use system, user or assistant/);
    assert.match(e.message, /line 4: messages\[0\]\.content is an array; it must be a string/);
    assert.match(e.message, /line 5: "question" is null/);
    assert.match(e.message, /line 7: not JSON/);
    assert.match(e.message, /line 8: not a JSON object/);
    return true;
  });
  const many = Array.from({ length: 35 }, () => 'nope').join('\n');
  assert.throws(() => readScreenData(file('many.jsonl', many), 'chat'), (e: Error) => {
    assert.equal(e.message.split('\n').filter((l) => /^ {2}line \d+: not JSON/.test(l)).length, MAX_REPORTED_ERRORS);
    assert.match(e.message, /35 problems.*\n[\s\S]*… and 15 more$/);
    return true;
  });
  rejects(() => readScreenData(file('blank.jsonl', '\n\n  \n'), 'chat'), 'data-invalid', /holds no samples/);
  rejects(() => readScreenData(file('empty.jsonl', ''), 'chat'), 'data-invalid', /the dataset is empty/);
  rejects(() => readScreenData(file('bad.jsonl', Buffer.concat([Buffer.from(`${lines[0]}\n{"question": "x`), Buffer.from([0xff]), Buffer.from('", "answer": "y"}\n')])), 'chat'),
    'data-invalid', /byte offset \d+ \(line 2, column 16: .*\[ff\]/);
  const ok = readScreenData(file('ok.jsonl', `\ufeff${lines[0]}\n{"question": "q2", "answer": "a2"}`), 'chat', { limit: { maxChars: 100, why: 'test' } });
  assert.equal(ok.samples.length, 2, 'a BOM before the first line is stripped');
  rejects(() => readScreenData(file('ok.jsonl', lines[0].replace('"a"', `"${'a'.repeat(200)}"`)), 'chat', { limit: { maxChars: 100, why: 'test' } }), 'data-invalid', /line 1 \(answer\) is 200 characters/);
});

test('monitor prompt files: encoding, shape, null system prompts named', () => {
  rejects(() => readMonitorPrompts(file('p.json', JSON.stringify([{ system: 'a' }, { system: null }, { label: 3, system: 'c' }]))), 'data-invalid',
    /2 problems:\n {2}\$\[1\]\.system: item 1 has no "system" string \(it is null\)\n {2}\$\[2\]\.label must be a string/);
  rejects(() => readMonitorPrompts(file('p.json', '[]')), 'data-invalid', /at least 3/);
  rejects(() => readMonitorPrompts(file('p.json', Buffer.from([0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d]))), 'data-invalid', /not valid UTF-8: byte offset 2 \(line 1, column 3/);
  assert.equal(readMonitorPrompts(file('p.json', JSON.stringify([{ system: '' }, { system: 'b' }, { system: 'c', expected: 1 }]))).length, 3);
});
