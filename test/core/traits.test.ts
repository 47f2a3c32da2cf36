import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTraitFile, validateTraitPath } from '../../src/core/traits/load.js';
import { traitIssues, renderEvalPrompt, instructionText } from '../../src/core/traits/schema.js';
import { checkGeneratedTrait, EVAL_PROMPT_BODY } from '../../src/core/traits/generate.js';
import { instructedPrompt, evalPrompt, aOrAn } from '../../src/core/prompts.js';
import { PipelineError } from '../../src/core/errors.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const upstream = path.resolve(repoRoot, '..', 'shared', 'upstream-trait-data');

test('every upstream trait file validates (36 files, PV + PP)', (t) => {
  if (!existsSync(upstream)) { t.skip('../shared/upstream-trait-data is absent'); return; }
  const reports = validateTraitPath(upstream);
  assert.equal(reports.length, 36);
  for (const r of reports) assert.ok(r.ok, `${r.file}: ${JSON.stringify(r.issues)}`);
  // few-shot lists (stories) and the instruction-less combined eval file load
  const stories = loadTraitFile(path.join(upstream, 'pretraining_persona/data/trait_data_extract/evil_stories_neutral_q.json'), { requireInstruction: true });
  assert.ok(Array.isArray(stories.data.instruction![0].pos));
  assert.match(instructionText(stories.data.instruction![0].pos), /^Story: .*\nStory: /s);
  const combined = loadTraitFile(path.join(upstream, 'pretraining_persona/data/trait_data_eval/evil_combined.json'));
  assert.equal(combined.data.instruction, undefined);
  assert.throws(() => loadTraitFile(path.join(upstream, 'pretraining_persona/data/trait_data_eval/evil_combined.json'), { requireInstruction: true }),
    (e) => PipelineError.is(e, 'trait-invalid') && /\$\.instruction/.test((e as Error).message) && /evil_combined\.json/.test((e as Error).message));
  assert.match(loadTraitFile(path.join(upstream, 'persona_vectors/data_generation/trait_data_extract/evil.json')).sha256, /^[0-9a-f]{64}$/);
});

test('errors name the file and the JSON path of every offending field', () => {
  const bad = { instruction: [{ pos: 'x', neg: 3 }, { pos: [] }], questions: ['ok', ''], eval_prompt: 'Rate {answer} {answer} {x}', extra: 1 };
  const paths = traitIssues(bad).map((i) => i.path);
  assert.deepEqual(paths.sort(), ['$.eval_prompt', '$.eval_prompt', '$.eval_prompt', '$.extra', '$.instruction[0].neg', '$.instruction[1].neg', '$.instruction[1].pos', '$.questions[1]'].sort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-traits-'));
  try {
    const f = path.join(dir, 'bad.json');
    writeFileSync(f, JSON.stringify(bad));
    assert.throws(() => loadTraitFile(f), (e) => PipelineError.is(e, 'trait-invalid') && (e as Error).message.startsWith(f) && /\$\.instruction\[0\]\.neg/.test((e as Error).message));
    writeFileSync(f, '{"questions": [');
    assert.throws(() => loadTraitFile(f), /not valid JSON/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('eval prompt renders like str.format in one pass', () => {
  assert.equal(renderEvalPrompt('Q={question} A={answer}', 'what {answer}?', 'fine'), 'Q=what {answer}? A=fine');
});

test('prompt assembly: chat system prompt with a/an, base concatenation, eval question only', () => {
  assert.equal(aOrAn('evil'), 'an'); assert.equal(aOrAn('Humorous'), 'a'); assert.equal(aOrAn('impolite'), 'an');
  assert.deepEqual(instructedPrompt('chat', 'evil', 'Be bad.', 'Q?'), { messages: [{ role: 'system', content: 'You are an evil assistant. Be bad.' }, { role: 'user', content: 'Q?' }] });
  assert.deepEqual((instructedPrompt('chat', 'helpful', 'Be good.', 'Q?') as { messages: { content: string }[] }).messages[0].content, 'You are a helpful assistant. Be good.');
  assert.deepEqual(instructedPrompt('base', 'evil', ['Story: a', 'Story: b'], 'Story: c'), { text: 'Story: a\nStory: b Story: c' });
  assert.deepEqual(evalPrompt('chat', 'Q?'), { messages: [{ role: 'user', content: 'Q?' }] });
  assert.deepEqual(evalPrompt('base', 'If Alex'), { text: 'If Alex' });
});

test('trait generation output checking', () => {
  const good = { instruction: Array.from({ length: 5 }, (_, i) => ({ pos: `p${i}`, neg: `n${i}` })), questions: Array.from({ length: 40 }, (_, i) => `q${i}?`),
    eval_prompt: `You are evaluating whether the model's response displays the trait: **x**. X.${EVAL_PROMPT_BODY}` };
  assert.deepEqual(checkGeneratedTrait('Here:\n```json\n' + JSON.stringify(good) + '\n```').problems, []);
  assert.match(checkGeneratedTrait(JSON.stringify({ ...good, questions: good.questions.slice(0, 39) })).problems.join(), /exactly 40/);
  assert.match(checkGeneratedTrait(JSON.stringify({ ...good, eval_prompt: 'no placeholders' })).problems.join(), /\{question\}/);
  assert.match(checkGeneratedTrait('not json').problems.join(), /no JSON/);
});
