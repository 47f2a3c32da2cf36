import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TorchFileError, parseTorchTensor, readTorchTensor, writeTorchTensor } from '../../../src/engine/vectors/torch.js';

// Fixtures and expected.json are made by test/fixtures/pt/make_fixtures.py (torch 1.13); the tests need no Python.
const root = path.resolve(import.meta.dirname, '..', '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'pt');
const fx = (name: string) => path.join(fixtures, name);
const expected = JSON.parse(readFileSync(fx('expected.json'), 'utf8')) as {
  f32_pickle_hex: string;
  fixtures: Record<string, { dtype: string; shape: number[]; values: number[] }>;
};
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'pl-torch-'));

/** Asserts fn throws a TorchFileError with `reason` whose message names `file` and matches every pattern. */
function assertRefused(fn: () => unknown, reason: 'vector-invalid' | 'vector-missing', file: string, ...patterns: RegExp[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(TorchFileError.is(e, reason), `expected TorchFileError ${reason}, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

for (const [name, want] of Object.entries(expected.fixtures)) {
  test(`reads ${name}: ${want.dtype} [${want.shape.join(', ')}] as row-major float32`, () => {
    const t = readTorchTensor(fx(name));
    assert.equal(t.dtype, want.dtype);
    assert.deepEqual(t.shape, want.shape);
    assert.ok(t.data instanceof Float32Array);
    assert.deepEqual(Array.from(t.data), want.values); // exact: the expected values are float32, -0 included
  });
}

test('views saved without .clone() honour storage offset and strides', () => {
  // the fixtures above check every value; this spells out what they are views of
  assert.deepEqual(readTorchTensor(fx('transposed.pt')).shape, [5, 3]);
  const slice = readTorchTensor(fx('slice.pt')); // grid[1:, 1:], grid = arange(20).reshape(4, 5) / 8
  assert.deepEqual(Array.from(slice.data.slice(0, 4)), [6, 7, 8, 9].map((v) => v / 8));
  const step = readTorchTensor(fx('step.pt'));   // grid[:, ::2]
  assert.deepEqual(Array.from(step.data.slice(0, 6)), [0, 2, 4, 5, 7, 9].map((v) => v / 8));
});

test('refuses a dict of tensors, naming what it found and how to save one tensor', () => {
  assertRefused(() => readTorchTensor(fx('dict.pt')), 'vector-invalid', fx('dict.pt'),
    /dict with 2 keys \("a", "b"\)/, /one bare float tensor, e\.g\. torch\.save\(vec, path\)/, /torch\.save\(d\["a"\], path\)/);
});

test('refuses a list of tensors and a pickled nn.Module', () => {
  assertRefused(() => readTorchTensor(fx('list.pt')), 'vector-invalid', fx('list.pt'), /a list of 1 item/, /torch\.save\(vec, path\)/);
  assertRefused(() => readTorchTensor(fx('module.pt')), 'vector-invalid', fx('module.pt'), /torch\.nn\.modules\.linear\.Linear/, /one bare float tensor/);
});

test('refuses a non-float tensor, naming its dtype', () => {
  assertRefused(() => readTorchTensor(fx('int64.pt')), 'vector-invalid', fx('int64.pt'), /dtype int64/, /float tensor/);
});

test('refuses a legacy (non-zip) torch file and says to re-save it with a current torch', () => {
  assertRefused(() => readTorchTensor(fx('legacy.pt')), 'vector-invalid', fx('legacy.pt'), /legacy/, /re-save it with a current torch/);
});

test('refuses a truncated file', () => {
  assertRefused(() => readTorchTensor(fx('truncated.pt')), 'vector-invalid', fx('truncated.pt'), /truncated/);
});

test('never runs pickled code: a pickle calling os.system is refused by name', () => {
  assertRefused(() => readTorchTensor(fx('malicious.pt')), 'vector-invalid', fx('malicious.pt'), /os\.system/, /not part of a bare tensor/);
});

test('a corrupted storage byte fails the CRC check', () => {
  const bytes = new Uint8Array(readFileSync(fx('f32.pt')));
  const i = Buffer.from(bytes.buffer).indexOf(Buffer.from(Float32Array.of(-1.5, -1.25).buffer)); // start of data/0
  assert.ok(i > 0);
  bytes[i] ^= 0xff;
  assertRefused(() => parseTorchTensor(bytes, 'corrupt.pt'), 'vector-invalid', 'corrupt.pt', /CRC-32|damaged/);
});

test('a missing file is vector-missing; other formats are named', () => {
  const dir = tmp();
  try {
    assertRefused(() => readTorchTensor(path.join(dir, 'nope.pt')), 'vector-missing', path.join(dir, 'nope.pt'));
    assertRefused(() => readTorchTensor(dir), 'vector-invalid', dir, /not a file/);
    assertRefused(() => parseTorchTensor(new TextEncoder().encode('hello world'), 'x.txt'), 'vector-invalid', 'x.txt', /not a torch\.save file/);
    assertRefused(() => parseTorchTensor(new Uint8Array(0), 'empty.pt'), 'vector-invalid', 'empty.pt', /not a torch\.save file/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

// The real upstream persona vector (shared/ is not part of the repository; skipped when absent). The
// numbers come from /usr/bin/python3 with torch 1.13: t = torch.load(f, weights_only=True); t[0, :3].tolist(),
// t[20, 100].item(), t[16, 2048].item(), t[32, -3:].tolist(), t.double().sum().item(), t[20].double().norm().item().
const upstream = path.join(root, '..', 'shared', 'upstream-vectors', 'pretraining_persona', 'data', 'persona_vectors',
  'Olmo-3-1025-7B', 'main', 'evil_character_neutral_q_response_avg_diff.pt');
test('reads the upstream Olmo-3 evil response_avg_diff vector', { skip: existsSync(upstream) ? false : `absent: ${upstream}` }, () => {
  const t = readTorchTensor(upstream);
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(t.shape, [33, 4096]);
  assert.equal(t.data.length, 33 * 4096);
  const at = (r: number, c: number) => t.data[r * 4096 + c];
  assert.deepEqual([at(0, 0), at(0, 1), at(0, 2)], [-0.00146484375, 0.00023651123046875, 0.0050048828125]);
  assert.equal(at(20, 100), -0.1103515625);
  assert.equal(at(16, 2048), -0.0115966796875);
  assert.deepEqual([at(32, 4093), at(32, 4094), at(32, 4095)], [0.03125, 0.26513671875, -0.421875]);
  let sum = 0, sq = 0;
  for (const v of t.data) sum += v;
  for (let c = 0; c < 4096; c++) sq += at(20, c) ** 2;
  assert.ok(Math.abs(sum - 96.79103198833764) < 1e-9, `sum ${sum}`);
  assert.ok(Math.abs(Math.sqrt(sq) - 6.757331693106357) < 1e-9, `row 20 norm ${Math.sqrt(sq)}`);
});

test('write then read round-trips exactly, for several shapes', () => {
  const dir = tmp();
  try {
    const cases: [number[], Float32Array][] = [
      [[33, 64], Float32Array.from({ length: 33 * 64 }, (_, i) => Math.fround(Math.sin(i) * 0.1))],
      [[2, 1, 3, 1, 2], Float32Array.from({ length: 12 }, (_, i) => i - 5.5)],
      [[], Float32Array.of(7)],
      [[0, 4], new Float32Array(0)],
      [[70000], Float32Array.from({ length: 70000 }, (_, i) => i)], // sizes past BININT2
      [[3], Float32Array.of(-0, NaN, -Infinity)],
    ];
    for (const [shape, data] of cases) {
      const f = path.join(dir, `t${shape.join('x')}.pt`);
      writeTorchTensor(f, shape, data);
      const back = readTorchTensor(f);
      assert.equal(back.dtype, 'float32');
      assert.deepEqual(back.shape, shape);
      assert.deepEqual(back.data, data);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('writing is deterministic and emits the same pickle as torch.save', () => {
  const dir = tmp();
  try {
    const { shape, values } = expected.fixtures['f32.pt'];
    const data = Float32Array.from(values);
    const a = path.join(dir, 'a', 'f32.pt'), b = path.join(dir, 'b', 'f32.pt');
    writeTorchTensor(a, shape, data);
    writeTorchTensor(b, shape, data);
    const bytes = readFileSync(a);
    assert.ok(bytes.equals(readFileSync(b)), 'byte-identical');
    // the archive is named after the file, and data.pkl is byte-for-byte what torch 1.13 wrote for f32.pt
    assert.ok(bytes.includes(Buffer.from('f32/data.pkl')));
    assert.ok(bytes.includes(Buffer.from(expected.f32_pickle_hex, 'hex')), 'data.pkl matches torch.save');
    writeTorchTensor(a, shape, data, 'evil_response_avg_diff');
    assert.ok(readFileSync(a).includes(Buffer.from('evil_response_avg_diff/data/0')));
    assert.deepEqual(readTorchTensor(a).data, data);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('writing refuses a shape that does not match the data', () => {
  const dir = tmp();
  try {
    const f = path.join(dir, 'bad.pt');
    assertRefused(() => writeTorchTensor(f, [2, 3], new Float32Array(5)), 'vector-invalid', f, /holds 6 values but data has 5/);
    assertRefused(() => writeTorchTensor(f, [2.5], new Float32Array(2)), 'vector-invalid', f, /non-negative integers/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
