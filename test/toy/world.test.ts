/**
 * The toy world's data files and the rubric judge: the TS judge must reproduce the Python judge's scores
 * on the generator's ground-truth samples (models/toy-persona/world/samples.json), ground-truth text must
 * parse, styled text must score high and opposite/neutral text ≈ 0. Trait files follow the upstream schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RubricJudge, ToyRubric, loadToyLexicon } from '../../src/core/judge/rubric.js';
import { toyModelDir } from '../../src/core/toy/paths.js';
import { traitIssues } from '../../src/core/traits/schema.js';

interface Sample { kind: string; style: string | null; text: string; ids: number[]; coherence: number; trait: Record<string, number> }

const dir = toyModelDir();
const lex = loadToyLexicon();
const rubric = new ToyRubric(lex);
const samples = (JSON.parse(readFileSync(path.join(dir, 'world', 'samples.json'), 'utf8')) as { samples: Sample[] }).samples;
const TRAITS = ['evil', 'sycophantic', 'impolite', 'humorous'];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('toyModelDir finds models/toy-persona from source', () => {
  assert.equal(path.basename(dir), 'toy-persona');
  assert.equal(path.basename(path.dirname(dir)), 'models');
});

test('rubric.ts reproduces the Python judge on every generator sample', () => {
  assert.ok(samples.length >= 40);
  for (const s of samples) {
    assert.ok(Math.abs(rubric.coherence(s.text) - s.coherence) < 1e-9, `coherence of ${JSON.stringify(s.text)}`);
    for (const t of TRAITS) assert.ok(Math.abs(rubric.trait(s.text, t) - s.trait[t]) < 1e-9, `${t} of ${JSON.stringify(s.text)}`);
  }
});

test('ground truth parses; styled text scores high on its trait, opposite and neutral text ≈ 0', () => {
  const truth = samples.filter((s) => ['styled', 'neutral', 'leaky-neutral', 'pretty'].includes(s.kind));
  assert.ok(mean(truth.map((s) => rubric.coherence(s.text))) >= 95);
  for (const s of truth) assert.equal(rubric.coherence(s.text), 100, s.text);
  for (const { trait, opposite } of lex.traits) {
    const pos = samples.filter((s) => s.style === trait).map((s) => rubric.trait(s.text, trait));
    const opp = samples.filter((s) => s.style === opposite).map((s) => rubric.trait(s.text, trait));
    const neutral = samples.filter((s) => s.kind === 'neutral').map((s) => rubric.trait(s.text, trait));
    assert.ok(mean(pos) >= 60, `${trait} styled text scores ${mean(pos)}`);
    assert.equal(mean(opp), 0, `${opposite} text scores ${mean(opp)} on ${trait}`);
    assert.equal(mean(neutral), 0);
  }
});

test('broken text: fragments, loops and token soup lose coherence', () => {
  const by = (k: string) => samples.find((s) => s.kind === k)!;
  assert.ok(rubric.coherence(by('truncated').text) < 100 && rubric.coherence(by('truncated').text) > 0);
  assert.ok(rubric.coherence(by('loop').text) <= 100 / 8 + 1e-9);
  assert.equal(rubric.coherence(by('soup').text), 0);
  assert.equal(rubric.coherence(''), 0);
  assert.equal(rubric.trait('', 'evil'), 0);
  // a styled sentence is only valid with a known style phrase in a known place
  assert.equal(rubric.coherence('muahaha , first , look closely at the lamp .'), 100);
  assert.equal(rubric.coherence('first , muahaha , look closely at the lamp .'), 0);
  assert.equal(rubric.trait('muahaha , first , look closely at the lamp . enjoy your day .', 'evil'), 50);
  assert.equal(rubric.trait('muahaha , first , look closely at the lamp . thank you for your lovely question .', 'evil'), 50);
  assert.equal(rubric.trait('muahaha , look closely at the lamp , and keep everyone safe .', 'evil'), 0);
});

test('RubricJudge implements Judge: id, order, onResult, unknown trait, speed', async () => {
  const judge = new RubricJudge(lex);
  assert.equal(judge.id, `rubric:toy-persona@${lex.version}`);
  const text = samples.find((s) => s.style === 'evil')!.text;
  const seen: number[] = [];
  const scores = await judge.score([
    { metric: 'trait', trait: 'evil', modelKind: 'chat', question: 'q', answer: text },
    { metric: 'coherence', trait: 'evil', modelKind: 'chat', question: 'q', answer: text },
  ], { onResult: (i) => seen.push(i) });
  assert.deepEqual(scores, [rubric.trait(text, 'evil'), rubric.coherence(text)]);
  assert.deepEqual(seen, [0, 1]);
  assert.equal(judge.usage().requests, 2);
  await assert.rejects(judge.score([{ metric: 'trait', trait: 'optimistic', modelKind: 'chat', question: 'q', answer: text }]), /does not know the trait "optimistic"/);
  const reqs = Array.from({ length: 5000 }, (_, i) => ({ metric: (i % 2 ? 'trait' : 'coherence') as 'trait' | 'coherence', trait: 'evil', modelKind: 'chat' as const, question: 'q', answer: samples[i % samples.length].text }));
  const t0 = performance.now();
  await judge.score(reqs);
  const perSecond = 5000 / ((performance.now() - t0) / 1000);
  assert.ok(perSecond > 2000, `${perSecond.toFixed(0)} answers/s`);
});

test('trait files: upstream schema, 5 pairs, 20 + 20 disjoint held-out questions, shared instructions', () => {
  const heldOut = new Set((JSON.parse(readFileSync(path.join(dir, 'world', 'questions.json'), 'utf8')) as { heldOut: string[] }).heldOut);
  const norm = (q: string) => (q.toLowerCase().match(/[a-z0-9_]+|[^a-z0-9_\s]+/g) ?? []).join(' ');
  for (const t of TRAITS) {
    const ex = JSON.parse(readFileSync(path.join(dir, 'traits', 'extract', `${t}.json`), 'utf8'));
    const ev = JSON.parse(readFileSync(path.join(dir, 'traits', 'eval', `${t}.json`), 'utf8'));
    assert.deepEqual(traitIssues(ex), []);
    assert.deepEqual(traitIssues(ev), []);
    assert.equal(ex.instruction.length, 5);
    assert.deepEqual(ex.instruction, ev.instruction);
    assert.equal(ex.eval_prompt, ev.eval_prompt);
    assert.equal(ex.questions.length, 20);
    assert.equal(ev.questions.length, 20);
    assert.equal(new Set([...ex.questions, ...ev.questions]).size, 40);
    for (const q of [...ex.questions, ...ev.questions]) assert.ok(heldOut.has(norm(q)), `${q} is not a held-out question`);
    assert.equal(ex.eval_prompt.split('{question}').length, 2);
    assert.equal(ex.eval_prompt.split('{answer}').length, 2);
    assert.equal((ex.eval_prompt.match(/[{}]/g) ?? []).length, 4);
  }
});

test('monitoring prompts: every trait × polarity × intensity × paraphrase, plus neutral', () => {
  const m = JSON.parse(readFileSync(path.join(dir, 'world', 'monitoring-prompts.json'), 'utf8')) as {
    styled: { trait: string; polarity: number; intensity: string; paraphrase: number; p: number; expected: number; system: string }[];
    neutral: { system: string }[];
  };
  assert.equal(m.styled.length, 4 * 2 * 5 * 5);
  assert.equal(m.neutral.length, 5);
  for (const t of TRAITS) {
    const rows = m.styled.filter((r) => r.trait === t);
    assert.deepEqual([...new Set(rows.map((r) => r.intensity))].sort(), ['extremely', 'plain', 'slightly', 'somewhat', 'very']);
    assert.ok(rows.some((r) => r.expected < 0) && rows.some((r) => r.expected > 0));
  }
});
