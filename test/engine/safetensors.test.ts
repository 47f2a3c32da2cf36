// safetensors reader/writer: round trips for every dtype, layout rules, conversions, fixtures.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  bf16ToFloat32, f16ToFloat32, float32ToBf16, float32ToF16, loadSafetensors, readSafetensorsHeader, readTensor, SafetensorsError, toFloat32, writeSafetensors,
} from '../../src/engine/weights/safetensors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/parity');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-st-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('safetensors', () => {
  test('round trip of every dtype; 8-byte aligned space-padded header; contiguous name-ordered data', () => {
    const file = path.join(tmp, 'all.safetensors');
    writeSafetensors(file, {
      z_f32: { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 0, 1e-30, -Infinity) },
      a_i64: { dtype: 'I64', shape: [3], data: BigInt64Array.of(-1n, 0n, 9007199254740993n) },
      m_bf16: { dtype: 'BF16', shape: [2], data: Uint16Array.of(float32ToBf16(1.5), float32ToBf16(-3)) },
      m_f16: { dtype: 'F16', shape: [2], data: Uint16Array.of(float32ToF16(0.5), float32ToF16(65504)) },
      b_u8: { dtype: 'U8', shape: [5], data: Uint8Array.of(1, 2, 3, 4, 5) },
      c_i32: { dtype: 'I32', shape: [1], data: Int32Array.of(-7) },
      d_f64: { dtype: 'F64', shape: [1], data: Float64Array.of(Math.PI) },
      e_empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    }, { format: 'pt', note: 'x' });
    const h = readSafetensorsHeader(file);
    assert.equal(h.dataStart % 8, 0);
    assert.deepEqual(h.metadata, { format: 'pt', note: 'x' });
    const raw = fs.readFileSync(file);
    assert.match(raw.subarray(8, h.dataStart).toString(), /^\{.*\} *$/);
    const sorted = [...h.tensors.values()].sort((a, b) => a.offset - b.offset);
    assert.deepEqual(sorted.map((t) => t.name), [...h.tensors.keys()].sort());
    for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i].offset, sorted[i - 1].offset + sorted[i - 1].byteLength);
    const { tensors } = loadSafetensors(file);
    assert.deepEqual(Array.from(tensors.get('z_f32')!.data as Float32Array), [1, -2, 3.5, 0, Math.fround(1e-30), -Infinity]);
    assert.deepEqual(Array.from(tensors.get('a_i64')!.data as BigInt64Array), [-1n, 0n, 9007199254740993n]);
    assert.deepEqual(Array.from(toFloat32(tensors.get('m_bf16')!)), [1.5, -3]);
    assert.deepEqual(Array.from(toFloat32(tensors.get('m_f16')!)), [0.5, 65504]);
    assert.equal((tensors.get('d_f64')!.data as Float64Array)[0], Math.PI);
    assert.deepEqual(tensors.get('e_empty')!.shape, [0, 4]);
    assert.deepEqual(readTensor(h, 'c_i32').data, Int32Array.of(-7));
    assert.throws(() => readTensor(h, 'nope'), (e) => SafetensorsError.is(e, 'unknown-tensor'));
  });

  test('bf16/f16 conversions round to nearest even and keep specials', () => {
    assert.equal(bf16ToFloat32(float32ToBf16(1 + 2 ** -8)), 1); // tie → even
    assert.equal(bf16ToFloat32(float32ToBf16(1 + 3 * 2 ** -8)), 1 + 2 ** -6); // tie → even (up)
    assert.ok(Number.isNaN(bf16ToFloat32(float32ToBf16(NaN))));
    assert.equal(bf16ToFloat32(float32ToBf16(-Infinity)), -Infinity);
    assert.equal(f16ToFloat32(float32ToF16(1 + 2 ** -11)), 1);
    assert.equal(f16ToFloat32(float32ToF16(70000)), Infinity);
    assert.equal(f16ToFloat32(float32ToF16(2 ** -24)), 2 ** -24); // smallest subnormal
    assert.equal(f16ToFloat32(float32ToF16(-0.1)), -0.0999755859375);
    for (let i = 0; i < 0x7c00; i += 37) assert.equal(float32ToF16(f16ToFloat32(i)), i);
  });

  test('header validation: overlap, bad offsets', () => {
    const write = (header: object, dataBytes: number) => {
      const json = Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      const f = path.join(tmp, `bad${Math.random()}.safetensors`);
      fs.writeFileSync(f, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
      return f;
    };
    assert.throws(() => readSafetensorsHeader(write({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8)), (e) => SafetensorsError.is(e, 'corrupt') && /overlap/.test(e.message));
    assert.throws(() => readSafetensorsHeader(write({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 8)), (e) => SafetensorsError.is(e, 'corrupt') && /needs 8 bytes/.test(e.message));
    assert.throws(() => readSafetensorsHeader(write({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8)), (e) => SafetensorsError.is(e, 'truncated'));
    assert.throws(() => readSafetensorsHeader(path.join(tmp, 'missing.safetensors')), (e) => SafetensorsError.is(e, 'missing'));
  });

  test('reads every parity fixture file', (t) => {
    if (!fs.existsSync(fixtures)) return t.skip('../shared/fixtures/parity absent');
    for (const f of fs.readdirSync(fixtures)) {
      const file = path.join(fixtures, f, 'expected.safetensors');
      if (!fs.existsSync(file)) continue;
      const { tensors } = loadSafetensors(file);
      const logits = tensors.get('logits')!;
      assert.deepEqual(logits.shape, [2, 7, 320]);
      const meta = JSON.parse(fs.readFileSync(path.join(fixtures, f, 'expected.json'), 'utf8'));
      assert.deepEqual(Array.from(tensors.get('greedy_new_tokens')!.data as BigInt64Array, Number), meta.greedy_new_tokens);
    }
  });
});
