/**
 * Discourse-type trait data (src/core/discourse/formats.ts): pretraining_persona's three formats read and told apart
 * (format tests on the upstream files in ../shared, not shipped), clear refusals naming the file and the JSON path, the
 * file search over both folder layouts, and the toy organism's two types generated from its world.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PipelineError } from '../../src/core/errors.js';
import { discourseIssues, findDiscourseFile, loadDiscourseTrait, toyDiscourseTraits, type DiscourseType } from '../../src/core/discourse/formats.js';
import { loadToyLexicon } from '../../src/core/judge/rubric.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const PP = path.resolve(root, '..', 'shared', 'upstream-trait-data', 'pretraining_persona', 'data');
const hasPP = existsSync(path.join(PP, 'trait_data_extract', 'evil_stories_neutral_q.json'));
const TOY = path.join(root, 'models', 'toy-persona');

const FILES: Record<DiscourseType, string> = { description: 'evil_character_neutral_q', story: 'evil_stories_neutral_q', dialogue: 'evil_dialogue_neutral_q' };

test('the upstream discourse files read as their own type, extract and eval', { skip: hasPP ? false : '../shared/upstream-trait-data is missing' }, () => {
  for (const [type, stem] of Object.entries(FILES) as [DiscourseType, string][]) {
    const ex = loadDiscourseTrait(path.join(PP, 'trait_data_extract', `${stem}.json`), type, 'extract');
    const ev = loadDiscourseTrait(path.join(PP, 'trait_data_eval', `${stem}.json`), type, 'eval');
    assert.equal(ex.data.questions.length, 20);
    assert.equal(ev.data.questions.length, 20);
  }
  // The four other character files (humorous, impolite, sycophantic) are descriptions too; the combined eval set (no
  // instruction, the character questions) reads as a description eval file.
  for (const t of ['humorous', 'impolite', 'sycophantic']) loadDiscourseTrait(path.join(PP, 'trait_data_extract', `${t}_character_neutral_q.json`), 'description', 'extract');
  loadDiscourseTrait(path.join(PP, 'trait_data_eval', 'evil_combined.json'), 'description', 'eval');
});

test('a file of another type is refused with the file, the JSON path and what the type needs', { skip: hasPP ? false : '../shared/upstream-trait-data is missing' }, () => {
  const cross: [DiscourseType, DiscourseType, RegExp][] = [
    ['dialogue', 'story', /\$\.instruction\[0\]\.pos \(and 9 more\): a story example must start with "Story:"; \$\.questions\[0\] \(and 19 more\): a story extraction question must start with "Story:"/],
    ['story', 'dialogue', /\$\.instruction\[0\]\.pos \(and 9 more\): dialogue examples must be scenes starting with \[SCENE START\]/],
    ['description', 'dialogue', /\$\.questions\[0\] \(and 19 more\): a dialogue question must be a scene/],
    ['dialogue', 'description', /\$\.instruction\[0\]\.pos \(and 9 more\): a description must be a character portrayal, not a dialogue scene/],
    ['story', 'description', /\$\.questions\[0\] \(and 19 more\): a description question must be a situation to continue, not a dialogue scene or a "Story:"/],
  ];
  for (const [actual, asType, re] of cross) {
    const file = path.join(PP, 'trait_data_extract', `${FILES[actual]}.json`);
    assert.throws(() => loadDiscourseTrait(file, asType, 'extract'), (e: unknown) => {
      assert.ok(PipelineError.is(e, 'trait-invalid'), String(e));
      const m = (e as Error).message;
      assert.ok(m.startsWith(`${file} is not a ${asType} extract file: `), m);
      assert.match(m, re);
      return true;
    });
  }
});

test('format rules: story eval questions are bare situations, a dialogue question must end with the speaker cue', () => {
  const ep = 'Rate {question} / {answer}';
  assert.deepEqual(discourseIssues('story', { instruction: [{ pos: ['Story: a', 'Story: b'], neg: 'Story:c\nStory:' }], questions: ['A person finds a wallet.'], eval_prompt: ep }, 'eval'), []);
  assert.deepEqual(discourseIssues('story', { instruction: [{ pos: ['Story: a'], neg: ['Story: b'] }], questions: ['A person finds a wallet.'], eval_prompt: ep }, 'extract').map((i) => i.path), ['$.questions[0]']);
  const scene = '[SCENE START]\nFriend: "hi"\nAlex: "hello"';
  assert.deepEqual(discourseIssues('dialogue', { instruction: [{ pos: scene, neg: scene }], questions: ['[SCENE START]\nPeter: "Hey Alex?"\nAlex:'], eval_prompt: ep }, 'extract'), []);
  assert.deepEqual(discourseIssues('dialogue', { instruction: [{ pos: scene, neg: scene }], questions: ['[SCENE START]\nPeter: "Hey Alex?"'], eval_prompt: ep }, 'extract').map((i) => i.message),
    ['a dialogue question must end with the answering speaker\'s cue on its own line (e.g. "\\nAlex:")']);
  assert.deepEqual(discourseIssues('description', { questions: ['If Alex found a wallet'], eval_prompt: ep }, 'extract').map((i) => i.path), ['$.instruction']);
});

test('files are found in extract/ or trait_data_extract/, under upstream or short names; a missing one names every place looked', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-discourse-'));
  try {
    mkdirSync(path.join(tmp, 'a', 'trait_data_eval'), { recursive: true });
    mkdirSync(path.join(tmp, 'b', 'extract'), { recursive: true });
    writeFileSync(path.join(tmp, 'a', 'trait_data_eval', 'evil_dialogue_neutral_q.json'), '{}');
    writeFileSync(path.join(tmp, 'b', 'extract', 'evil_dialogue.json'), '{}');
    assert.equal(findDiscourseFile('evil', 'dialogue', 'eval', [path.join(tmp, 'b'), path.join(tmp, 'a')]), path.join(tmp, 'a', 'trait_data_eval', 'evil_dialogue_neutral_q.json'));
    assert.equal(findDiscourseFile('evil', 'dialogue', 'extract', [path.join(tmp, 'a'), path.join(tmp, 'b')]), path.join(tmp, 'b', 'extract', 'evil_dialogue.json'));
    assert.throws(() => findDiscourseFile('evil', 'story', 'extract', [path.join(tmp, 'a')]),
      (e: unknown) => PipelineError.is(e, 'trait-invalid') && (e as Error).message.includes(path.join(tmp, 'a', 'trait_data_extract', 'evil_stories_neutral_q.json')));
  } finally { rmSync(tmp, { recursive: true, force: true }); }
});

test('the toy\'s description and dialogue data are the world\'s own documents, cut before the answer', () => {
  const lex = loadToyLexicon();
  const [desc, dial] = toyDiscourseTraits('evil', path.join(TOY, 'traits'), lex);
  const ex = JSON.parse(readFileSync(path.join(TOY, 'traits', 'extract', 'evil.json'), 'utf8'));
  assert.equal(desc.type, 'description');
  assert.deepEqual(desc.extract.instruction![0], { pos: 'alex is extremely cruel .', neg: 'alex is extremely kind .' });
  assert.equal(desc.extract.questions[0], `if alex were asked : ${ex.questions[0]} alex would say :`);
  assert.equal(desc.extract.instruction!.length, 5);
  assert.equal(desc.eval.instruction, undefined);
  assert.deepEqual(dial.extract.instruction![2], { pos: '<sys> you are extremely malicious toward the user .', neg: '<sys> you are extremely moral toward the user .' });
  assert.equal(dial.eval.questions[0], `<user> ${JSON.parse(readFileSync(path.join(TOY, 'traits', 'eval', 'evil.json'), 'utf8')).questions[0]} <asst>`);
  // Every adjective used is the world's (the trait's and its opposite's), so the rubric judge and the corpus agree.
  for (const p of desc.extract.instruction!) {
    assert.ok(lex.styles.evil.adjectives.some((a) => p.pos === `alex is extremely ${a} .`));
    assert.ok(lex.styles.ethical.adjectives.some((a) => p.neg === `alex is extremely ${a} .`));
  }
  assert.deepEqual(toyDiscourseTraits('evil', path.join(TOY, 'traits'), lex), [desc, dial], 'deterministic');
  assert.throws(() => toyDiscourseTraits('hallucinating', path.join(TOY, 'traits'), lex), /no trait "hallucinating"/);
});
