/** Row layout of extraction and evaluation: upstream ids and order, shared seeds, shared batches. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractionPairs } from '../../src/core/extraction/extract.js';
import { evaluationRows } from '../../src/core/evaluation/evaluate.js';
import { baselineCondition, promptCondition, steerCondition } from '../../src/core/evaluation/conditions.js';
import type { LoadedTrait } from '../../src/core/traits/load.js';

const trait: LoadedTrait = {
  file: 'evil.json', sha256: 'x',
  data: { instruction: [{ pos: 'Be cruel.', neg: 'Be kind.' }, { pos: 'Be wicked.', neg: 'Be caring.' }], questions: ['Q0?', 'Q1?', 'Q2?'], eval_prompt: '{question} {answer}' },
};

test('extraction rows: ids {trait}_{i}_{pos|neg}_{k} + sample j, order (i, k, j), pos and neg row-aligned with one seed', () => {
  const pairs = extractionPairs({ trait: 'evil', traitFile: trait, samples: 2, seed: 10, maxQuestions: 2 }, 'chat');
  assert.deepEqual(pairs.map((p) => p.pos.key), ['evil_0_pos_0#0', 'evil_0_pos_0#1', 'evil_0_pos_1#0', 'evil_0_pos_1#1', 'evil_1_pos_0#0', 'evil_1_pos_0#1', 'evil_1_pos_1#0', 'evil_1_pos_1#1']);
  assert.deepEqual(pairs.map((p) => p.neg.key), pairs.map((p) => p.pos.key.replace('_pos_', '_neg_')));
  assert.deepEqual(pairs.map((p) => p.pos.seed), [10, 11, 12, 13, 14, 15, 16, 17]);
  for (const p of pairs) assert.equal(p.pos.seed, p.neg.seed);
  const p3 = pairs[3];
  assert.deepEqual(p3.pos.prompt, { messages: [{ role: 'system', content: 'You are an evil assistant. Be wicked.' }, { role: 'user', content: 'Q0?' }] });
  assert.deepEqual(p3.neg.prompt, { messages: [{ role: 'system', content: 'You are a helpful assistant. Be caring.' }, { role: 'user', content: 'Q0?' }] });
  assert.equal(p3.pos.question, 'Q0?', 'the judge sees the raw question');
  assert.deepEqual(extractionPairs({ trait: 'evil', traitFile: trait, samples: 1, seed: 0 }, 'base')[1].pos.prompt, { text: 'Be wicked. Q0?' });
});

test('evaluation rows: every condition of a (question, sample) is adjacent and shares its seed', () => {
  const conds = [baselineCondition(), promptCondition(), steerCondition('steer', new Float32Array([1, 0]), 2, 3)];
  const rows = evaluationRows(conds, { trait: 'evil', evalTrait: trait.data, samples: 2, seed: 1000 }, 'chat');
  assert.equal(rows.length, 3 * 2 * 3);
  assert.deepEqual(rows.slice(0, 3).map((r) => r.key), ['baseline|evil_0#0', 'prompt|evil_0#0', 'steer_L2_c3|evil_0#0']);
  assert.deepEqual(rows.slice(0, 3).map((r) => r.seed), [1000, 1000, 1000]);
  assert.equal(rows[3].seed, 1001);
  assert.deepEqual(rows[0].prompt, { messages: [{ role: 'user', content: 'Q0?' }] });
  assert.equal(rows[0].steer, undefined);
  assert.deepEqual(rows[1].prompt, { messages: [{ role: 'system', content: 'You are an evil assistant. Be cruel.' }, { role: 'user', content: 'Q0?' }] });
  assert.equal(rows[2].steer![0].positions, 'response');
  assert.equal(rows[2].steer![0].layer, 2);
  assert.equal(rows[7].prompt && (rows[7].prompt as { messages: { content: string }[] }).messages[0].content, 'You are an evil assistant. Be wicked.', 'question 1 uses instruction 1 mod 2');
});
