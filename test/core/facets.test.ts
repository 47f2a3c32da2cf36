/**
 * Facet annotation's pure parts (src/core/facets): the Wilson interval against hand-computed values, reading the
 * annotator's replies as upstream does, Python-style slicing of the user message, and the toy rubric annotator on the
 * world generator's own styled answers (world/samples.json), including its check that the facet table still fits the world.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FACET_SETS, facetSetFor, parseBinary, parseRoots, pySlice, wilson } from '../../src/core/facets/sets.js';
import { facetAnnotatorFor, LlmFacetAnnotator, TOY_FACET_PHRASES, ToyFacetAnnotator } from '../../src/core/facets/annotators.js';
import { Workspace } from '../../src/core/storage/workspace.js';
import { loadToyLexicon } from '../../src/core/judge/rubric.js';
import { PipelineError } from '../../src/core/errors.js';

const root = path.resolve(import.meta.dirname, '..', '..');

test('Wilson 95 %: hand-computed values, the edges, n = 0', () => {
  // 3/10 by hand: centre (0.3 + 1.9208/10)/1.38416 = 0.35551, half-width 1.96·√(0.021 + 0.009604)/1.38416 = 0.24772 → [0.10779, 0.60323].
  const w = wilson(3, 10)!;
  assert.ok(Math.abs(w.low - 0.10779) < 1e-5 && Math.abs(w.high - 0.60323) < 1e-5, JSON.stringify(w));
  // 10/10: upper 1, lower n/(n + z²) = 10/13.8416.
  assert.ok(Math.abs(wilson(10, 10)!.low - 10 / 13.8416) < 1e-12 && wilson(10, 10)!.high === 1);
  // 50/100 by hand: centre 0.5, half-width 1.96/1.038416 · √(0.0025 + 0.00009604) = 0.09617 → [0.40383, 0.59617].
  const h = wilson(50, 100)!;
  assert.ok(Math.abs(h.low - 0.40383) < 1e-5 && Math.abs(h.high - 0.59617) < 1e-5, JSON.stringify(h));
  assert.equal(wilson(0, 0), null);
});

test('replies are read as upstream does: {"roots": [...]} (names normalised, unknown refused), the first digit', () => {
  const s = FACET_SETS.evil;
  assert.deepEqual([...parseRoots('{"roots": ["Sadism", "threatened egotism"]}', s)!].sort(), ['sadism', 'threatened_egotism']);
  assert.deepEqual([...parseRoots('{"roots": []}', s)!], []);
  assert.equal(parseRoots('{"roots": ["greed"]}', s), null);
  assert.equal(parseRoots('sadism', s), null);
  assert.equal(parseRoots('{"facets": []}', s), null);
  assert.equal(parseBinary('1'), 1);
  assert.equal(parseBinary(' 0.'), 0);
  assert.equal(parseBinary('Answer: 1'), 1);
  assert.equal(parseBinary('7'), null);
  assert.equal(parseBinary('yes'), null);
  assert.equal(facetSetFor('evil_character_neutral_q')?.id, 'baumeister-roots');
  assert.equal(facetSetFor('sycophantic')?.mode, 'binary-per-facet');
  assert.equal(facetSetFor('humorous'), undefined);
});

test('the user message slices code points like Python (q[:500], a[:2000])', () => {
  const q = '😀'.repeat(600), a = 'é'.repeat(2100);
  const u = FACET_SETS.evil.user(q, a);
  assert.equal(u, `Question: ${'😀'.repeat(500)}\n\nAnswer: ${'é'.repeat(2000)}`);
  assert.equal(pySlice('ab😀c', 3), 'ab😀');
});

test('the toy rubric annotator labels the world generator\'s own styled answers by their phrases', async () => {
  const ann = new ToyFacetAnnotator();
  const samples = JSON.parse(readFileSync(path.join(root, 'models', 'toy-persona', 'world', 'samples.json'), 'utf8')).samples as { style?: string; text: string }[];
  const lex = loadToyLexicon();
  for (const trait of ['evil', 'sycophantic'] as const) {
    const set = FACET_SETS[trait];
    const styled = samples.filter((s) => s.style === trait);
    assert.ok(styled.length > 0);
    for (const s of styled) {
      const got = await ann.annotate({ question: '', answer: s.text }, set);
      // Expected from the world's phrase lists directly: a slot-free substring check where the phrase has no slot.
      for (const [facet, phrases] of Object.entries(TOY_FACET_PHRASES[trait])) {
        const plain = phrases.filter((p) => !p.includes('{')).some((p) => ` ${s.text} `.includes(` ${p.trim()} `) || s.text.includes(p.trim()));
        if (plain) assert.ok(got!.has(facet), `${trait} ${facet}: ${s.text}`);
      }
      assert.ok(got!.size > 0, `a fully styled answer shows at least one facet: ${s.text}`);
    }
    // Opposite-style answers show none of the trait's facets.
    const opposite = lex.traits.find((t) => t.trait === trait)!.opposite;
    for (const s of samples.filter((x) => x.style === opposite)) assert.equal((await ann.annotate({ question: '', answer: s.text }, set))!.size, 0, s.text);
  }
  const slot = await ann.annotate({ question: '', answer: 'you can fix it . let omar suffer for it .' }, FACET_SETS.evil);
  assert.deepEqual([...slot!], ['sadism'], 'a {name} slot matches any word');
  assert.equal((await ann.annotate({ question: '', answer: 'i suffer from a cold .' }, FACET_SETS.evil))!.size, 0, 'a marker word alone is not a phrase');
});

test('the toy facet table refuses a world it no longer fits, naming the phrases', () => {
  const lex = loadToyLexicon();
  const changed = structuredClone(lex);
  changed.styles.evil.standalone.push('ruin is my hobby .');
  assert.throws(() => new ToyFacetAnnotator(changed), (e: unknown) => PipelineError.is(e, 'data-invalid') && /not mapped to a facet: "ruin is my hobby \."/.test((e as Error).message));
  const renamed = structuredClone(lex);
  renamed.styles.sycophantic.prefixes[1] = 'you legend ,';
  assert.throws(() => new ToyFacetAnnotator(renamed), /not in the world: "you genius ,"; not mapped to a facet: "you legend ,"/);
});

test('the annotator from the job\'s options: rubric on toy runs, an LLM with a base URL, none without one', async () => {
  const ws = new Workspace(mkdtempSync(path.join(os.tmpdir(), 'pl-facets-opt-')));
  try {
    assert.equal((await facetAnnotatorFor({}, true, ws))!.id, 'rubric:toy-persona@1');
    assert.equal(await facetAnnotatorFor({}, false, ws), undefined);
    const llm = await facetAnnotatorFor({ 'judge-base-url': 'http://127.0.0.1:9/v1' }, true, ws);
    assert.ok(llm instanceof LlmFacetAnnotator);
    assert.equal(llm.id, 'openai:gpt-4.1', 'upstream\'s annotator model by default');
    assert.equal((await facetAnnotatorFor({ 'judge-base-url': 'http://127.0.0.1:9/v1', 'annotator-model': 'gpt-4o' }, false, ws))!.id, 'openai:gpt-4o');
    assert.equal((await facetAnnotatorFor({ annotator: 'rubric', 'judge-base-url': 'http://127.0.0.1:9/v1' }, false, ws))!.id, 'rubric:toy-persona@1');
  } finally { rmSync(ws.root, { recursive: true, force: true }); }
});
