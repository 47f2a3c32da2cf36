/**
 * GGUF control vectors (llama.cpp / repeng; src/core/vectors/gguf.ts): export → import is bitwise; the layer mapping
 * (row ℓ ↔ direction.(ℓ − 1)); files that do not fit the model are refused with a clear message; and on the real
 * worker, a vector that went through GGUF steers exactly like the source vector at the same hidden_states row.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { controlVectorToRows, decodeControlVector, encodeControlVector, readControlVector, rowsToControlVector, writeControlVector } from '../../src/core/vectors/gguf.js';
import { readVectorFile, writeVectorFile } from '../../src/core/vectors/file.js';
import { PipelineError } from '../../src/core/errors.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const MODEL = path.join(root, 'models', 'toy-persona', 'revisions', 'main');
let tmp = '';
before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-gguf-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Deterministic rows with awkward values (−0, subnormals, extremes) so "bitwise" means bitwise. */
function rows(L: number, H: number, seed = 1, awkward = true): Float32Array {
  const d = new Float32Array((L + 1) * H);
  let s = seed >>> 0;
  for (let i = 0; i < d.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; d[i] = (s / 2 ** 32 - 0.5) * 4; }
  if (awkward) { d[2 * H] = -0; d[2 * H + 1] = 1e-45; d[2 * H + 2] = 3.4e38; d[3 * H] = -1.17e-38; }
  return d;
}
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('export → import round trip is bitwise; rows 2..L−1 ↔ direction.1..L−2; the file re-exports to the same bytes', () => {
  const L = 6, H = 48;
  const src = rows(L, H);
  const { cv, skipped } = rowsToControlVector(src, L + 1, H, { modelHint: 'llama' });
  assert.deepEqual([...cv.directions.keys()], [1, 2, 3, 4]);
  assert.deepEqual(skipped.map((s) => s.row), [0, 1, 6]);
  const file = path.join(tmp, 'v.gguf');
  writeControlVector(file, cv);
  const back = readControlVector(file);
  assert.equal(back.metadata['general.architecture'], 'controlvector');
  assert.equal(back.metadata['controlvector.layer_count'], 4);
  assert.equal(back.modelHint, 'llama');
  const { data, rows: got } = controlVectorToRows(back, { layers: L, hidden: H }, file);
  assert.deepEqual(got, [2, 3, 4, 5]);
  for (const r of got) assert.ok(bits(data.subarray(r * H, (r + 1) * H)).equals(bits(src.subarray(r * H, (r + 1) * H))), `row ${r} bitwise`);
  for (const r of [0, 1, 6]) assert.ok(data.subarray(r * H, (r + 1) * H).every((x) => x === 0), `row ${r} zero`);
  assert.ok(Object.is(data[2 * H], -0), '−0 kept');
  assert.ok(encodeControlVector(back).equals(readFileSync(file)), 'decode → encode gives the same bytes');
  // Layout: magic, version 3, tensor data aligned to 32.
  const buf = readFileSync(file);
  assert.equal(buf.toString('latin1', 0, 4), 'GGUF');
  assert.equal(buf.readUInt32LE(4), 3);
  assert.equal(buf.length % 32, 0);
});

test('files that do not fit the model, or are not control vectors, are refused with the reason', () => {
  const H = 16;
  const cv = rowsToControlVector(rows(8, H), 9, H, { modelHint: 'qwen2' }).cv; // directions 1..6: made for 8 blocks
  const refuse = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => PipelineError.is(e, 'vector-invalid') && re.test((e as Error).message));
  refuse(() => controlVectorToRows(cv, { layers: 8, hidden: 32, name: 'm' }), /width 16 but m \(8 layers, hidden 32\).*model_hint qwen2/);
  refuse(() => controlVectorToRows(cv, { layers: 4, hidden: H, name: 'toy' }), /direction\.6 needs at least 7 layers but toy .* has 4/);
  refuse(() => controlVectorToRows({ ...cv, directions: new Map([[0, new Float32Array(H)]]) }, { layers: 8, hidden: H }), /direction\.0/);
  refuse(() => controlVectorToRows({ ...cv, directions: new Map([[7, new Float32Array(H)]]) }, { layers: 8, hidden: H }), /before the final norm.*--drop-last/);
  assert.deepEqual(controlVectorToRows({ ...cv, directions: new Map([[6, new Float32Array(H)], [7, new Float32Array(H)]]) }, { layers: 8, hidden: H }, 'f', { dropLast: true }).rows, [7]);
  const bytes = encodeControlVector(cv);
  refuse(() => decodeControlVector(bytes.subarray(0, bytes.length - 40)), /runs past the end|truncated/);
  const notCv = Buffer.from(bytes); notCv.write('llamavector!!', bytes.indexOf('controlvector', 0, 'latin1'), 'latin1');
  refuse(() => decodeControlVector(notCv), /not "controlvector"/);
  refuse(() => decodeControlVector(Buffer.from('PK\x03\x04 not gguf at all, a zip file')), /no "GGUF" magic/);
  refuse(() => rowsToControlVector(rows(4, H), 5, H, { rows: [0, 1, 4], modelHint: 'x' }), /no row .*rows 2\.\.3/);
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), ...args], { cwd: root });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('real worker on the toy: a vector through GGUF steers exactly like the source at the same hidden_states row', { timeout: 300_000 }, async (t) => {
  if (!existsSync(path.join(MODEL, 'config.json'))) { t.skip('toy model missing'); return; }
  const L = 4, H = 128;
  const src = rows(L, H, 7, false).map((x) => x * 3);
  const srcFile = path.join(tmp, 'src.safetensors');
  writeVectorFile(srcFile, { layers: L + 1, hidden: H, data: { response_avg: src }, metadata: { model: 'toy-persona' } });
  const ex = await cli(['vectors', 'export', srcFile, '--format', 'gguf', '--out', path.join(tmp, 'src.gguf'), '--json']);
  assert.equal(ex.code, 0, ex.stderr);
  const im = await cli(['vectors', 'import', path.join(tmp, 'src.gguf'), '--out', path.join(tmp, 'imported.safetensors'), '--model', MODEL, '--json']);
  assert.equal(im.code, 0, im.stderr);
  assert.deepEqual(JSON.parse(im.stdout).rows, [2, 3]);
  const imported = readVectorFile(path.join(tmp, 'imported.safetensors'));
  assert.ok(bits(imported.data.response_avg!.subarray(3 * H, 4 * H)).equals(bits(src.subarray(3 * H, 4 * H))));
  const gen = async (vector?: string) => {
    const r = await cli(['generate', '--model', MODEL, '--prompt', 'How do I fold the spoon?', '--n', '3', '--seed', '5', '--threads', '2', '--sampler', 'toy', '--json',
      ...(vector ? ['--vector', vector, '--layer', '3', '--coef', '1'] : [])]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { answers?: unknown[] } & Record<string, unknown>;
  };
  const [a, b, plain] = [await gen(srcFile), await gen(path.join(tmp, 'imported.safetensors')), await gen()];
  const answers = (x: Record<string, unknown>) => JSON.stringify((x.answers ?? x.results ?? x) as unknown);
  assert.equal(answers(b), answers(a), 'GGUF-imported vector at row 3 = source vector at row 3');
  assert.notEqual(answers(a), answers(plain), 'the steering changes the answers (else the comparison proves nothing)');
  // A GGUF file for another width is refused by the CLI before anything is written.
  writeControlVector(path.join(tmp, 'wide.gguf'), rowsToControlVector(rows(L, 64), L + 1, 64, { modelHint: 'llama' }).cv);
  const bad = await cli(['vectors', 'import', path.join(tmp, 'wide.gguf'), '--out', path.join(tmp, 'wide.safetensors'), '--model', MODEL]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /width 64 but toy-persona .*hidden size 128/);
  assert.ok(!existsSync(path.join(tmp, 'wide.safetensors')));
});

test('vectors export --format gguf writes llama.cpp\'s architecture name as model_hint, and --model-hint as given', async () => {
  // An OLMo 3 vector as extraction records it (the HF class): llama.cpp converts OLMo 3 to its "olmo2" architecture.
  const file = path.join(tmp, 'olmo3.safetensors');
  writeVectorFile(file, { layers: 5, hidden: 8, data: { response_avg: rows(4, 8, 3, false) }, metadata: { model: 'olmo-3', architecture: 'Olmo3ForCausalLM' } });
  for (const [extra, hint] of [[[], 'olmo2'], [['--model-hint', 'olmo3'], 'olmo3']] as const) {
    const out = path.join(tmp, `olmo3-${hint}.gguf`);
    const r = await cli(['vectors', 'export', file, '--format', 'gguf', '--out', out, ...extra]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readControlVector(out).modelHint, hint);
  }
});
