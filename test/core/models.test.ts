import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { identifyModel } from '../../src/core/models.js';

const toyMain = path.resolve('models/toy-persona/revisions/main');

test('identifyModel: the toy layout names model and revision; f32 (or no format) keeps the plain name', () => {
  assert.deepEqual({ ...identifyModel(toyMain), commit: undefined }, { name: 'toy-persona', revision: 'main', commit: undefined });
  assert.equal(identifyModel(toyMain, undefined, 'f32').name, 'toy-persona');
});

test('identifyModel: another weight format is another model for results (own runs and vector folder)', () => {
  const q = identifyModel(toyMain, undefined, 'int8');
  assert.equal(q.name, 'toy-persona-int8');
  assert.equal(q.revision, 'main');
  assert.notEqual(identifyModel(toyMain, undefined, 'int4').name, q.name);
});
