import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parsePromptFile, promptFileKind, promptInput } from '../../../src/core/promptFiles/parse.js';
import { locateJsonPath, parseJsonPath } from '../../../src/core/promptFiles/jsonPath.js';
import { looksLikeTrait, traitProblems } from '../../../src/core/promptFiles/traitCheck.js';
import { deltaPScale, samplesByThreshold, sampleLines, screenedLines, sortedByDeltaP } from '../../../src/core/promptFiles/screening.js';
import { readScreenData } from '../../../src/core/jobs/screen.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');

test('JSONL prompt files: prompt and chat rows, a trailing answer dropped, bad lines listed by line', () => {
  const text = [
    '{"prompt": "What is the capital of France?"}',
    '',
    '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}',
    'not json',
    '{"messages": [{"role": "assistant", "content": "only an answer"}]}',
    '{"other": 1}',
    '{"prompt": "Second?"}',
  ].join('\n');
  const p = parsePromptFile(text, 'jsonl');
  assert.deepEqual(p.prompts.map((x) => [x.index, x.line, x.question]), [[0, 0, 'What is the capital of France?'], [1, 2, 'Hi?'], [2, 6, 'Second?']]);
  assert.deepEqual(p.prompts[1].messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi?' }]);
  assert.deepEqual(p.problems.map((x) => x.line), [3, 4, 5]);
  assert.match(p.problems[1].message, /no user message/);
  assert.deepEqual(promptInput(p.prompts[0], 'chat'), { messages: [{ role: 'user', content: 'What is the capital of France?' }] });
  assert.deepEqual(promptInput(p.prompts[0], 'base'), { text: 'What is the capital of France?' });
  assert.deepEqual(promptInput(p.prompts[1], 'base'), { text: 'Be brief.\nHi?' });
});

test('Markdown prompt files: only fences tagged prompt, with their line span; other fences and unclosed ones', () => {
  const md = [
    '# Notes', '', '```prompt', 'How do I fix a bike?', '```', '', '```js', '```prompt inside js', '```', '',
    '~~~~ prompt', 'Line one', '```', 'line three', '~~~~', '```prompt', '```', '```prompt', 'never closed',
  ].join('\n');
  const p = parsePromptFile(md, 'markdown');
  assert.deepEqual(p.prompts.map((x) => [x.line, x.endLine, x.text]), [[2, 4, 'How do I fix a bike?'], [10, 14, 'Line one\n```\nline three']]);
  assert.deepEqual(p.problems.map((x) => [x.line, x.message]), [[15, 'this prompt block is empty'], [17, 'this prompt block is never closed']]);
  assert.equal(promptFileKind('a/b.JSONL'), 'jsonl');
  assert.equal(promptFileKind('README.md'), 'markdown');
  assert.equal(promptFileKind('x.json'), undefined);
});

test('JSON paths: parsed, located (scalars by value, objects by key, missing ones at the nearest ancestor)', () => {
  assert.deepEqual(parseJsonPath('$.instruction[0].pos'), ['instruction', 0, 'pos']);
  assert.deepEqual(parseJsonPath('$'), []);
  const text = '{\n  "instruction": [ {"pos": "", "neg": "be kind"} ],\n  "questions": ["a", 3],\n  "extra": {"x": 1}\n}';
  const at = (p: string) => { const s = locateJsonPath(text, p)!; return text.slice(s.offset, s.offset + s.length); };
  assert.equal(at('$.instruction[0].pos'), '""');
  assert.equal(at('$.questions[1]'), '3');
  assert.equal(at('$.extra'), '"extra"');
  assert.equal(at('$.eval_prompt'), '{'); // missing: the root's brace
  assert.equal(at('$.instruction[0].nope'), '{"pos": "", "neg": "be kind"}'); // an array element has no key: the element
  assert.equal(locateJsonPath('not json at all', '$.x'), undefined);
});

test('trait problems: each of core\'s issues at the JSON path it names; syntax errors first', () => {
  const text = JSON.stringify({ instruction: [{ pos: 'be evil', neg: 7 }], questions: ['q1', ''], eval_prompt: 'no placeholders', colour: 'red' }, null, 2);
  const probs = traitProblems(text);
  const byPath = new Map(probs.map((p) => [p.path, text.slice(p.offset, p.offset + p.length)]));
  assert.equal(byPath.get('$.instruction[0].neg'), '7');
  assert.equal(byPath.get('$.questions[1]'), '""');
  assert.equal(byPath.get('$.eval_prompt'), '"no placeholders"');
  assert.equal(byPath.get('$.colour'), '"red"');
  assert.ok(probs.some((p) => p.path === '$.eval_prompt' && /\{question\}/.test(p.message)));
  const extract = traitProblems(JSON.stringify({ questions: ['q'], eval_prompt: '{question} {answer}' }), { requireInstruction: true });
  assert.deepEqual(extract.map((p) => p.path), ['$.instruction']);
  const broken = traitProblems('{"questions": ["a",]}');
  assert.ok(broken.length > 0 && broken[0].message.startsWith('JSON: '), JSON.stringify(broken));
  const shipped = readFileSync(path.join(repoRoot, 'models/toy-persona/traits/eval/evil.json'), 'utf8');
  assert.deepEqual(traitProblems(shipped), []);
  assert.equal(looksLikeTrait(shipped), true);
  assert.equal(looksLikeTrait('{"name": "package", "version": "1"}'), false);
  assert.equal(looksLikeTrait('{"questions": [,'), true);
});

test('screening lines: ids as readScreenData assigns them; threshold export splits the dataset byte for byte', () => {
  const lines = [
    '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "A"}]}',
    '',
    '{"id": "x7", "messages": [{"role": "user", "content": "b"}, {"role": "assistant", "content": "B"}]}',
    '{"question": "c", "answer": "C"}',
    '{"id": 9, "question": "d", "answer": "D"}',
    '{"question": "e", "answer": "E"}',
  ];
  const text = `${lines.join('\n')}\n`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-screen-'));
  try {
    const f = path.join(dir, 'data.jsonl');
    writeFileSync(f, text);
    const ids = readScreenData(f, 'chat').samples.map((s) => s.id);
    assert.deepEqual(sampleLines(text).map((s) => s.id), ids);
    assert.deepEqual(sampleLines(text).map((s) => s.line), [0, 2, 3, 4, 5]);
  } finally { rmSync(dir, { recursive: true, force: true }); }
  const run = { deltaP: new Map<string, number | null>([['0', 2.5], ['x7', -1], ['2', 0.5], ['9', null], ['4', 0.5]]) };
  assert.deepEqual(screenedLines(text, run).map((s) => s.deltaP), [2.5, -1, 0.5, null, 0.5]);
  const above = samplesByThreshold(text, run, 0.5, 'above');
  assert.equal(above.jsonl, `${lines[0]}\n${lines[3]}\n${lines[5]}\n`);
  assert.deepEqual([above.count, above.skipped], [3, 1]);
  const below = samplesByThreshold(text, run, 0.5, 'below');
  assert.equal(below.jsonl, `${lines[2]}\n`);
  assert.equal(samplesByThreshold(text, run, 100, 'above').jsonl, '');
  assert.deepEqual(sortedByDeltaP(text, run).map((s) => s.id), ['0', '2', '4', 'x7', '9']);
  const scale = deltaPScale(screenedLines(text, run));
  assert.equal(scale(2.5), 1);
  assert.equal(scale(-1), -0.4);
});
