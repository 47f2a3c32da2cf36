/** Capture reductions and projections over hand-made left-padded hidden states. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { projectRows, reduceRow } from '../../../src/engine/capture/reduce.js';

test('prompt_avg / response_avg / prompt_last skip left pads and split at prompt_len', () => {
  // 2 layers, B=1, S=5 (1 pad), H=2: values = 10*layer + position
  const S = 5, H = 2;
  const hidden = [0, 1].map((l) => Float32Array.from({ length: S * H }, (_, k) => 10 * l + Math.floor(k / H)));
  const r = reduceRow(hidden, 0, S, H, { pad: 1, promptTokens: 2, totalTokens: 4 }, ['prompt_avg', 'response_avg', 'prompt_last']);
  assert.deepEqual([...r.prompt_avg!], [1.5, 1.5, 11.5, 11.5]);   // positions 1,2
  assert.deepEqual([...r.response_avg!], [3.5, 3.5, 13.5, 13.5]); // positions 3,4
  assert.deepEqual([...r.prompt_last!], [2, 2, 12, 12]);
  const empty = reduceRow(hidden, 0, S, H, { pad: 1, promptTokens: 4, totalTokens: 4 }, ['response_avg']);
  assert.ok(Number.isNaN(empty.response_avg![0]));
});

test('projection is the scalar projection onto unit(v)', () => {
  assert.deepEqual(projectRows(Float32Array.from([3, 4, 1, 0]), Float32Array.from([0, 2])), [4, 0]);
});
