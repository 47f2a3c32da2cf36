/**
 * Bad inputs on the real CLI, as a user meets them: each is refused before the worker starts (no "loading" line), with
 * exit 2, one paragraph naming the file and where in it and what to do, no stack trace, and nothing written — no
 * workspace, no run folder, no compile-cache entry.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PipelineError } from '../../src/core/errors.js';
import { writeVectorFile } from '../../src/core/vectors/file.js';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { InputError } from '../../src/cli/preflight.js';
import { writeSafetensors } from '../../src/engine/weights/safetensors.js';
import { cli } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const TOY = path.join(root, 'models', 'toy-persona');
const skip = !existsSync(path.join(TOY, 'revisions', 'main', 'config.json')) && 'toy model not found';
const L = 4, H = 128; // the toy model: [L+1, H] vectors

let tmp = '';
let ws = '';
let cache = '';
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-inputs-'));
  ws = path.join(tmp, 'ws');
  cache = path.join(tmp, 'cache');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const file = (name: string, content: string | Buffer) => { const f = path.join(tmp, name); writeFileSync(f, content); return f; };
const vector = (name: string, fill: (data: Float32Array) => void, hidden = H) => {
  const data = new Float32Array((L + 1) * hidden).map((_, i) => Math.cos(i));
  fill(data);
  const f = path.join(tmp, name);
  writeVectorFile(f, { layers: L + 1, hidden, data: { response_avg: data }, metadata: {} });
  return f;
};

test('an input refused before any work is a usage error (exit 2); the same reader error mid-run stays a failure (exit 1)', () => {
  assert.equal(exitCodeFor(new InputError('x.json: not valid UTF-8')), 2);
  assert.equal(exitCodeFor(new PipelineError('data-invalid', 'x')), 1);
});

/** Runs the CLI and checks the refusal's form; returns stderr for the message checks. */
async function refused(args: string[]): Promise<string> {
  const r = await cli([...args, '--workspace', ws], { PERSONA_LAB_CACHE: cache });
  assert.equal(r.code, 2, `exit code for ${args.join(' ')}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /loading /, 'refused before the model loads');
  assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
  assert.equal(r.stdout, '');
  assert.ok(!existsSync(ws), 'no workspace, run folder or vector written');
  assert.ok(!existsSync(cache), 'no compile-cache entry');
  return r.stderr;
}

test('trait files: invalid UTF-8 (offset, line), a question too long for the context window, a file too large', { skip, timeout: 120_000 }, async () => {
  const good = readFileSync(path.join(TOY, 'traits', 'extract', 'evil.json'));
  const bad = file('evil-latin1.json', Buffer.concat([good.subarray(0, 60), Buffer.from([0xe9, 0x74, 0xe9]), good.subarray(60)]));
  const line = good.subarray(0, 60).toString().split('\n').length;
  assert.match(await refused(['extract', '--trait', 'evil', '--trait-file', bad]),
    new RegExp(`persona-lab extract: .*evil-latin1\\.json: the trait file is not valid UTF-8: byte offset 60 \\(line ${line}, column \\d+: .*\\[e9\\].*Re-save the file as UTF-8`));

  const t = JSON.parse(good.toString());
  t.questions[1] = 'please explain '.repeat(200);
  const long = file('evil-long.json', JSON.stringify(t));
  const msg = await refused(['extract', '--trait', 'evil', '--trait-file', long]);
  assert.match(msg, /evil-long\.json: \$\.questions\[1\] is 3000 characters, over the 1408 a prompt can have here \(the context window 256 tokens − max-new-tokens 80 = 176 tokens/);
  assert.match(msg, /--max-prompt-chars/);
  assert.match(await refused(['extract', '--trait', 'evil', '--trait-file', long, '--max-prompt-chars', '100']), /is 3000 characters, over the 100 .*\(--max-prompt-chars\)/);

  const huge = file('evil-huge.json', '');
  truncateSync(huge, 64 * 1024 * 1024);
  assert.match(await refused(['evaluate', '--trait', 'evil', '--layer', '2', '--coef', '1', '--eval-file', huge]), /evil-huge\.json: the trait file is 64\.0 MiB, more than the 16\.0 MiB .*it was not read/);
});

test('vector files: NaN naming the row, another model\'s shape, unknown tensor names with --vector-key, a zero row for projection', { skip, timeout: 120_000 }, async () => {
  const nan = vector('nan.safetensors', (d) => { d[2 * H + 7] = NaN; });
  assert.match(await refused(['evaluate', '--trait', 'evil', '--layer', '2', '--coef', '1', '--vector', nan]),
    /nan\.safetensors: tensor response_avg_diff row 2 \(layer 2\), column 7 is NaN.*Re-extract it/);
  assert.match(await refused(['generate', '--prompt', 'hi', '--layer', '1', '--coef', '1', '--vector', vector('inf.safetensors', (d) => { d[4 * H] = Infinity; })]),
    /row 4 \(layer 4\), column 0 is Infinity/);
  assert.match(await refused(['generate', '--prompt', 'hi', '--layer', '1', '--coef', '1', '--vector', vector('wide.safetensors', () => {}, 256)]),
    /wide\.safetensors is \[5, 256\] but toy-persona takes \[5, 128\].*made for a different model/);

  const other = path.join(tmp, 'other.safetensors');
  writeSafetensors(other, { direction: { dtype: 'F32', shape: [L + 1, H], data: new Float32Array((L + 1) * H).fill(1) } });
  assert.match(await refused(['monitor', '--trait', 'evil', '--layer', '2', '--vector', other]), /other\.safetensors holds none of .* it has: direction\. .*--vector-key <name>/);
  assert.match(await refused(['monitor', '--trait', 'evil', '--layer', '2', '--vector', other, '--vector-key', 'dir']), /no tensor "dir" \(--vector-key\); it has: direction/);

  const zero = vector('zero.safetensors', (d) => d.fill(0, 0, H));
  const data = file('ok.jsonl', JSON.stringify({ question: 'how do i clean a hat ?', answer: 'with a cloth .' }));
  assert.match(await refused(['screen', '--trait', 'evil', '--data', data, '--vector', zero, '--layer', '0']),
    /zero\.safetensors: row 0 \(layer 0\) is all zeros, so there is no direction to project onto\. Pick another --layer/);
});

test('datasets and prompt files: per-line problems by line number, null content named, invalid UTF-8', { skip, timeout: 120_000 }, async () => {
  const v = vector('v.safetensors', () => {});
  const rows = [
    { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] },
    { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: null }] },
    { messages: [{ role: 'bot', content: 'q' }, { role: 'assistant', content: 'a' }] },
  ].map((r) => JSON.stringify(r)).join('\n');
  const msg = await refused(['screen', '--trait', 'evil', '--data', file('train.jsonl', rows), '--vector', v]);
  assert.match(msg, /train\.jsonl: 2 problems in the dataset; nothing was run\. Fix them and rerun:\n {2}line 2: messages\[1\]\.content is null; every message needs its text as a string\n {2}line 3: messages\[0\]\.role is "bot"; use system, user or assistant/);
  assert.match(await refused(['screen', '--trait', 'evil', '--data', file('blank.jsonl', '\n\n'), '--vector', v]), /blank\.jsonl: the dataset holds no samples/);
  assert.match(await refused(['screen', '--trait', 'evil', '--data', file('latin1.jsonl', Buffer.from('{"question": "caf\xe9", "answer": "x"}\n', 'latin1')), '--vector', v]),
    /latin1\.jsonl: the dataset is not valid UTF-8: byte offset 17 \(line 1, column 18/);
  assert.match(await refused(['monitor', '--trait', 'evil', '--vector', v, '--prompts', file('p.json', JSON.stringify([{ system: 'a' }, { system: null }, { system: 'c' }]))]),
    /p\.json: 1 problem:\n {2}\$\[1\]\.system: item 1 has no "system" string \(it is null\)/);
});

test('generate: --vector-key reads another project\'s tensor, --scaling unit|target-norm|raw sets what the worker adds; a zero row refused for unit', { skip, timeout: 180_000 }, async () => {
  const other = path.join(tmp, 'keyed.safetensors');
  const data = new Float32Array((L + 1) * H).map((_, i) => Math.sin(i) * 0.5);
  writeSafetensors(other, { direction: { dtype: 'F32', shape: [L + 1, H], data } });
  let n2 = 0;
  for (let i = 2 * H; i < 3 * H; i++) n2 += data[i] * data[i];
  const run = async (extra: string[]) => {
    const r = await cli(['generate', '--prompt', 'how do i clean a hat ?', '--vector', other, '--vector-key', 'direction', '--layer', '2', '--coef', '3',
      '--max-new-tokens', '4', '--json', '--workspace', path.join(tmp, 'gen-ws'), ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout).answers[0].steeringApplied as { layer: number; norm: number }[])[0];
  };
  const unit = await run(['--scaling', 'unit']);
  assert.equal(unit.layer, 2);
  assert.ok(Math.abs(unit.norm - 3) < 1e-3, `unit: ‖Δ‖ = coef (${unit.norm})`);
  const target = await run(['--scaling', 'target-norm', '--target-norm', '10']);
  assert.ok(Math.abs(target.norm - 30) < 1e-2, `target-norm: ‖Δ‖ = coef·N (${target.norm})`);
  const raw = await run([]);
  assert.ok(Math.abs(raw.norm - 3 * Math.sqrt(n2)) < 1e-3 * raw.norm, `raw: ‖Δ‖ = coef·‖v‖ (${raw.norm} vs ${3 * Math.sqrt(n2)})`);
  assert.match(await refused(['generate', '--prompt', 'hi', '--layer', '2', '--coef', '1', '--scaling', 'target-norm', '--vector', other, '--vector-key', 'direction']),
    /--scaling target-norm and --target-norm N go together/);
  const zero = vector('zero2.safetensors', (d) => d.fill(0, 2 * H, 3 * H));
  assert.match(await refused(['generate', '--prompt', 'hi', '--layer', '2', '--coef', '1', '--scaling', 'unit', '--vector', zero]),
    /zero2\.safetensors: row 2 \(layer 2\) is all zeros, so unit scaling would divide by a zero norm/);
  assert.match(await refused(['evaluate', '--trait', 'evil', '--layer', '2', '--coef', '4', '--vector', zero]),
    /zero2\.safetensors: row 2 is all zeros; steering at layer 2 adds nothing, and the worker refuses steering that adds nothing: pick another --layer, or --coef 0/);
});
