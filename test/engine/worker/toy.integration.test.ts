/**
 * Smoke test on the trained toy model organism (models/toy-persona, built by scripts/toy-model): it loads,
 * chats through its template with streaming, and captures. Skips while the model has not been exported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InferenceClient } from '../../../src/engine/client.js';
import { repoRoot } from './helpers.js';

const toyDir = path.join(repoRoot, 'models', 'toy-persona');
const manifestPath = path.join(toyDir, 'manifest.json');

test('toy model: load, chat with streaming, capture', { skip: existsSync(manifestPath) ? false : `${manifestPath} is absent (the toy model is not exported yet)` }, async (t) => {
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { main: string; instruct?: { path: string } };
  const folder = path.resolve(toyDir, manifest.instruct?.path ?? manifest.main);
  const client = await InferenceClient.start({ threads: 1 });
  t.after(() => client.dispose());
  const info = await client.loadModel({ path: folder, executionProvider: 'cpu' });
  assert.ok(info.hasTokenizer);
  const messages = [{ role: 'system' as const, content: 'You are a helpful assistant.' }, { role: 'user' as const, content: 'What should I do with a lost wallet?' }];
  let streamed = '';
  const res = await client.generate({ modelId: info.modelId, rows: [{ prompt: { messages } }], sampling: { temperature: 0.8, maxNewTokens: 40, seed: 1 } }, { onToken: (n) => { streamed += n.text; } });
  const row = res.rows[0];
  assert.ok(row.tokenIds.length > 0);
  assert.equal(streamed, row.text);
  assert.ok(row.text.trim().length > 0, 'the trained model answers with text');
  const cap = await client.capture({ modelId: info.modelId, items: [{ prompt: { messages }, response: row.text }], reductions: ['response_avg'] });
  assert.equal(cap.layers, info.config.numLayers + 1);
  assert.ok(cap.items[0].promptTokens > 0);
});
