/**
 * The toy model's tokenizer.json / tokenizer_config.json load in @huggingface/tokenizers and
 * @huggingface/jinja (directly and through the engine's ModelTokenizer), numbers 0–100 are single tokens,
 * the world's text round-trips, and the pipeline's prompts (upstream system-prompt shape) are in vocabulary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { ModelTokenizer } from '../../src/engine/tokenizer/tokenizer.js';
import { systemPrompt } from '../../src/core/prompts.js';
import { toyModelDir } from '../../src/core/toy/paths.js';

const dir = toyModelDir();
const tokDir = path.join(dir, 'tokenizer');
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const tj = readJson(path.join(tokDir, 'tokenizer.json'));
const cfg = readJson(path.join(tokDir, 'tokenizer_config.json'));
const tok = new Tokenizer(tj, cfg);
const samples = (readJson(path.join(dir, 'world', 'samples.json')) as { samples: { kind: string; text: string; ids: number[] }[] }).samples;
const id = (t: string) => tok.token_to_id(t)!;

test('special tokens and numbers 0–100 are single tokens', () => {
  assert.deepEqual(['<pad>', '<bos>', '<end>', '<sys>', '<user>', '<asst>', '<unk>'].map(id), [0, 1, 2, 3, 4, 5, 6]);
  for (let n = 0; n <= 100; n++) {
    const ids = tok.encode(String(n), { add_special_tokens: false }).ids;
    assert.equal(ids.length, 1, `${n} → ${ids}`);
    assert.equal(tok.decode(ids), String(n));
  }
  assert.equal(tok.encode('lamp', { add_special_tokens: true }).ids[0], id('<bos>'));
  assert.deepEqual(tok.encode('zyzzyva', { add_special_tokens: false }).ids, [id('<unk>')]);
});

test('encode matches the Python generator and decode round-trips the world text', () => {
  for (const s of samples.filter((x) => x.text && x.kind !== 'pretty')) {
    const ids = tok.encode(s.text, { add_special_tokens: false }).ids;
    assert.deepEqual(ids, s.ids, s.text);
    assert.equal(tok.decode(ids), s.text);
  }
  // the human-readable surface form (capitals, attached punctuation) is the same token sequence
  const pretty = samples.find((x) => x.kind === 'pretty')!;
  assert.deepEqual(tok.encode(pretty.text, { add_special_tokens: false }).ids, pretty.ids);
});

test('chat template renders system/user/assistant turns in the world format (jinja + ModelTokenizer)', () => {
  const messages = [
    { role: 'system' as const, content: systemPrompt('evil', 'Your answers should be cruel.') },
    { role: 'user' as const, content: 'How do I fix the lamp?' },
  ];
  const text = new Template(cfg.chat_template).render({ messages, add_generation_prompt: true, bos_token: '<bos>', eos_token: '<end>' });
  assert.equal(text, '<bos><sys> You are an evil assistant. Your answers should be cruel. <user> How do I fix the lamp? <asst>');
  const mt = ModelTokenizer.load(tokDir)!;
  assert.ok(mt.hasChatTemplate);
  assert.deepEqual(mt.eosTokenIds(), [id('<end>')]);
  const rendered = mt.render({ messages });
  const expected = tok.encode('<bos> <sys> you are an evil assistant . your answers should be cruel . <user> how do i fix the lamp ? <asst>', { add_special_tokens: false }).ids;
  assert.deepEqual(rendered.ids, expected);
  const withAnswer = mt.applyChatTemplate([...messages, { role: 'assistant', content: 'first , look closely at the lamp .' }], false);
  assert.ok(withAnswer.endsWith('<asst> first , look closely at the lamp . <end> '));
  assert.equal(mt.render({ messages: [{ role: 'user', content: 'What is 2 plus 3?' }] }).ids.length, 9); // <bos> <user> what is 2 plus 3 ? <asst>
});

test('every trait-file prompt the pipeline can build is in vocabulary', () => {
  for (const split of ['extract', 'eval']) {
    for (const f of readdirSync(path.join(dir, 'traits', split))) {
      const trait = f.replace(/\.json$/, '');
      const t = readJson(path.join(dir, 'traits', split, f)) as { instruction: { pos: string; neg: string }[]; questions: string[] };
      const texts = [...t.questions, ...t.instruction.flatMap((p) => [systemPrompt(trait, p.pos), systemPrompt('helpful', p.neg)])];
      for (const x of texts) assert.ok(!tok.encode(x, { add_special_tokens: false }).ids.includes(id('<unk>')), `<unk> in ${x}`);
    }
  }
  const m = readJson(path.join(dir, 'world', 'monitoring-prompts.json')) as { styled: { system: string }[]; neutral: { system: string }[] };
  for (const r of [...m.styled, ...m.neutral]) assert.ok(!tok.encode(r.system, { add_special_tokens: false }).ids.includes(id('<unk>')), r.system);
});

test('exported model folders carry byte-identical tokenizer files', (t) => {
  const folders = [path.join(dir, 'revisions'), path.join(path.dirname(dir), 'toy-persona-instruct')];
  if (!existsSync(folders[0])) { t.skip('no exported revisions yet'); return; }
  const revs = readdirSync(folders[0]).map((r) => path.join(folders[0], r));
  for (const d of [...revs, folders[1]]) {
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      assert.equal(readFileSync(path.join(d, f), 'utf8'), readFileSync(path.join(tokDir, f), 'utf8'), `${d}/${f}`);
    }
  }
});
