/** Live row text: stop strings across token boundaries, stream hold-back, partial UTF-8. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RowText } from '../../../src/engine/generation/text.js';

// A fake "tokenizer": token i decodes to pieces[i]; '\uFFFD' stands for an incomplete character.
const pieces = ['Hel', 'lo', ' Us', 'er', ':', ' bye'];
const decode = (ids: number[]) => ids.map((i) => pieces[i]).join('');

test('a stop string spanning tokens ends the row; nothing of it is ever streamed', () => {
  const rt = new RowText(decode, ['User:']);
  const ids: number[] = [];
  let streamed = '';
  let stopped = false;
  for (let i = 0; i < pieces.length && !stopped; i++) {
    ids.push(i);
    stopped = rt.update(ids, true);
    streamed += rt.take(stopped);
  }
  assert.ok(stopped);
  assert.equal(ids.length, 5);
  assert.equal(rt.value, 'Hello ');
  assert.equal(streamed, 'Hello ');
});

test('stops are ignored while inactive (minNewTokens) and deltas hold back partial characters', () => {
  const rt = new RowText((ids) => (ids.length === 1 ? 'a\uFFFD' : 'aé'), ['zz']);
  assert.equal(rt.update([0], false), false);
  assert.equal(rt.take(false), 'a');
  rt.update([0, 1], true);
  assert.equal(rt.take(true), 'é');
});
